/**
 * Zip archives, the little a run folder needs: writing one with its files stored as they are (safetensors
 * barely compress, and a stored zip is a few lines), and reading one back, stored or deflated (what `zip -r`
 * and the desktop's "compress" make), so that a browser can hand over and take in a whole run folder as one
 * file. Reading is asynchronous only because inflating goes through DecompressionStream (browsers and Node 20).
 *
 * The format (PKWARE's APPNOTE): each file is a local header and its bytes; a central directory lists every
 * file again with the offset of its local header; an end record says where the directory is. Readers trust
 * the central directory, as unzip does. No zip64 (files and archives under 4 GiB), no encryption.
 */
import { TsgptError } from '../errors.js';

export interface ZipEntry {
  /** The path inside the archive, with '/' between folders. */
  name: string;
  bytes: Uint8Array;
}

const LOCAL_SIGNATURE = 0x04034b50;
const CENTRAL_SIGNATURE = 0x02014b50;
const END_SIGNATURE = 0x06054b50;
const STORED = 0;
const DEFLATED = 8;
/** Bit 11 of the flags: the name is UTF-8. */
const UTF8_NAMES = 0x0800;
/** 1980-01-01 00:00 in MS-DOS form (the earliest date a zip can hold): archives come out the same every time. */
const DOS_DATE = (0 << 9) | (1 << 5) | 1;
const LIMIT = 0xffffffff;

/** The CRC-32 (IEEE 802.3, as zip and gzip use it) of `bytes`. */
export function crc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) crc = CRC_TABLE[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

const CRC_TABLE = Uint32Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

/** A zip archive holding `entries`, each stored uncompressed, in the order given. */
export function writeZip(entries: readonly ZipEntry[]): Uint8Array<ArrayBuffer> {
  const encoder = new TextEncoder();
  const names = entries.map((e) => encoder.encode(e.name));
  const crcs = entries.map((e) => crc32(e.bytes));
  const localSize = entries.reduce((n, e, i) => n + 30 + names[i]!.length + e.bytes.length, 0);
  const centralSize = names.reduce((n, name) => n + 46 + name.length, 0);
  if (localSize + centralSize + 22 > LIMIT || entries.length > 0xffff) throw new RangeError('zip archive too large (no zip64 support)');
  const out = new Uint8Array(localSize + centralSize + 22);
  const view = new DataView(out.buffer);
  const offsets: number[] = [];
  let at = 0;
  const common = (i: number) => {
    // version needed, flags, method, time, date, crc, compressed size, size, name length
    view.setUint16(at, 20, true);
    view.setUint16(at + 2, UTF8_NAMES, true);
    view.setUint16(at + 4, STORED, true);
    view.setUint16(at + 6, 0, true);
    view.setUint16(at + 8, DOS_DATE, true);
    view.setUint32(at + 10, crcs[i]!, true);
    view.setUint32(at + 14, entries[i]!.bytes.length, true);
    view.setUint32(at + 18, entries[i]!.bytes.length, true);
    view.setUint16(at + 22, names[i]!.length, true);
    view.setUint16(at + 24, 0, true); // extra field length
    at += 26;
  };
  entries.forEach((e, i) => {
    offsets.push(at);
    view.setUint32(at, LOCAL_SIGNATURE, true);
    at += 4;
    common(i);
    out.set(names[i]!, at);
    at += names[i]!.length;
    out.set(e.bytes, at);
    at += e.bytes.length;
  });
  const centralStart = at;
  entries.forEach((_, i) => {
    view.setUint32(at, CENTRAL_SIGNATURE, true);
    view.setUint16(at + 4, 20, true); // version made by
    at += 6;
    common(i);
    // comment length, disk number, internal attributes, external attributes, local header offset
    view.setUint16(at, 0, true);
    view.setUint16(at + 2, 0, true);
    view.setUint16(at + 4, 0, true);
    view.setUint32(at + 6, 0, true);
    view.setUint32(at + 10, offsets[i]!, true);
    at += 14;
    out.set(names[i]!, at);
    at += names[i]!.length;
  });
  view.setUint32(at, END_SIGNATURE, true);
  view.setUint16(at + 8, entries.length, true);
  view.setUint16(at + 10, entries.length, true);
  view.setUint32(at + 12, at - centralStart, true);
  view.setUint32(at + 16, centralStart, true);
  return out;
}

/**
 * The files of a zip archive (folders, which are names ending in '/', left out), each checked against its
 * CRC-32. `label` names the archive in messages; anything that is not a readable zip is one TsgptError.
 */
export async function readZip(bytes: Uint8Array, label: string): Promise<ZipEntry[]> {
  const bad = (why: string) => new TsgptError(`${label} is not a zip archive tsgpt can read: ${why}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // The end record is the last 22 bytes, unless the archive has a comment (up to 65535 bytes) after it.
  let end = -1;
  for (let i = bytes.length - 22; i >= Math.max(0, bytes.length - 22 - 0xffff); i--) {
    if (view.getUint32(i, true) === END_SIGNATURE) {
      end = i;
      break;
    }
  }
  if (end < 0) throw bad('no end-of-archive record');
  const count = view.getUint16(end + 10, true);
  const centralStart = view.getUint32(end + 16, true);
  if (centralStart === LIMIT || count === 0xffff) throw bad('it is a zip64 archive');
  const decoder = new TextDecoder('utf-8', { fatal: false });
  const entries: ZipEntry[] = [];
  let at = centralStart;
  for (let n = 0; n < count; n++) {
    if (at + 46 > end || view.getUint32(at, true) !== CENTRAL_SIGNATURE) throw bad('a damaged central directory');
    const flags = view.getUint16(at + 8, true);
    const method = view.getUint16(at + 10, true);
    const crc = view.getUint32(at + 16, true);
    const packed = view.getUint32(at + 20, true);
    const size = view.getUint32(at + 24, true);
    const nameLength = view.getUint16(at + 28, true);
    const extraLength = view.getUint16(at + 30, true);
    const commentLength = view.getUint16(at + 32, true);
    const local = view.getUint32(at + 42, true);
    const name = decoder.decode(bytes.subarray(at + 46, at + 46 + nameLength));
    at += 46 + nameLength + extraLength + commentLength;
    if (name.endsWith('/')) continue;
    if (flags & 1) throw bad(`${name} is encrypted`);
    if (local + 30 > bytes.length || view.getUint32(local, true) !== LOCAL_SIGNATURE) throw bad(`${name}'s local header is missing`);
    const start = local + 30 + view.getUint16(local + 26, true) + view.getUint16(local + 28, true);
    if (start + packed > bytes.length) throw bad(`${name} runs past the end of the archive`);
    const data = bytes.subarray(start, start + packed);
    let content: Uint8Array;
    if (method === STORED) content = data;
    else if (method === DEFLATED) content = await inflateRaw(data, () => bad(`${name} does not inflate`));
    else throw bad(`${name} uses compression method ${method} (only stored and deflated are read)`);
    if (content.length !== size || crc32(content) !== crc) throw bad(`${name} fails its CRC-32 check`);
    entries.push({ name, bytes: content });
  }
  return entries;
}

async function inflateRaw(data: Uint8Array, bad: () => Error): Promise<Uint8Array> {
  try {
    const stream = new Blob([data as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream('deflate-raw'));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  } catch {
    throw bad();
  }
}
