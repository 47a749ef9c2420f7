/**
 * Zip archives whose entries are stored, not compressed: the container torch.save (PyTorch 1.6 and later)
 * writes a checkpoint in. Pure TypeScript with no Node APIs, so a browser can read and write checkpoints too.
 *
 *   local header (30 bytes) + name + extra field + the entry's bytes     for each entry
 *   central directory: one 46-byte record + name per entry
 *   end of central directory (22 bytes): where the directory is and how many entries it lists
 *
 * The writer aligns each entry's bytes to 64, as PyTorch does (padding in the extra field), so a reader that
 * maps the file can view tensors in place. The reader trusts the central directory (PyTorch's local headers
 * leave the sizes and CRC to a trailing data descriptor) and treats every number in the file as hostile: each
 * offset and size is checked against the file before it is used, and an entry's CRC-32 before its bytes are
 * handed out.
 */
import { TsgptError } from '../errors.js';
import { quote } from '../validate.js';
import { crc32 } from './crc32.js';

export interface ZipEntry {
  name: string;
  data: Uint8Array;
}

const LOCAL_HEADER = 0x04034b50;
const CENTRAL_HEADER = 0x02014b50;
const END_OF_DIRECTORY = 0x06054b50;
const LOCAL_HEADER_BYTES = 30;
const CENTRAL_HEADER_BYTES = 46;
const END_BYTES = 22;
/** The general-purpose flag that says names are UTF-8. */
const UTF8_NAMES = 0x0800;
const ENCRYPTED = 0x0001;
/** PyTorch's alignment of entry data, and the id of the extra field it pads with ("FB"). */
const ALIGNMENT = 64;
const PADDING_FIELD_ID = 0x4246;
/** Without ZIP64 records every size and offset is a 32-bit number, and the entry count a 16-bit one. */
const MAX_U32 = 0xffffffff;
const MAX_ENTRIES = 0xffff;

/** A stored (uncompressed) zip archive of `entries`, in their order, each entry's bytes aligned to 64. */
export function encodeStoredZip(entries: readonly ZipEntry[]): Uint8Array {
  const encoder = new TextEncoder();
  const names = entries.map((e) => encoder.encode(e.name));
  if (new Set(entries.map((e) => e.name)).size !== entries.length) throw new Error('zip: duplicate entry names');
  if (entries.length > MAX_ENTRIES) throw new TsgptError(`a zip archive without ZIP64 holds at most ${MAX_ENTRIES} entries`);
  // Where each entry's header and bytes go.
  const layout: { header: number; padding: number; data: number }[] = [];
  let at = 0;
  entries.forEach((e, i) => {
    const unpadded = at + LOCAL_HEADER_BYTES + names[i]!.length + 4;
    const padding = (ALIGNMENT - (unpadded % ALIGNMENT)) % ALIGNMENT;
    layout.push({ header: at, padding, data: unpadded + padding });
    at = unpadded + padding + e.data.length;
  });
  const directoryStart = at;
  const directoryBytes = names.reduce((sum, n) => sum + CENTRAL_HEADER_BYTES + n.length, 0);
  const total = directoryStart + directoryBytes + END_BYTES;
  if (directoryStart + directoryBytes > MAX_U32) {
    throw new TsgptError(`a checkpoint of ${total} bytes is too large for a zip archive without ZIP64 (4 GiB at most)`);
  }
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  const crcs = entries.map((e) => crc32(e.data));
  entries.forEach((e, i) => {
    const { header, padding, data } = layout[i]!;
    const name = names[i]!;
    let p = header;
    view.setUint32(p, LOCAL_HEADER, true);
    view.setUint16(p + 4, 20, true); // version needed to extract: 2.0
    view.setUint16(p + 6, UTF8_NAMES, true);
    view.setUint16(p + 8, 0, true); // stored
    view.setUint32(p + 10, 0, true); // time and date: none, as PyTorch writes them
    view.setUint32(p + 14, crcs[i]!, true);
    view.setUint32(p + 18, e.data.length, true);
    view.setUint32(p + 22, e.data.length, true);
    view.setUint16(p + 26, name.length, true);
    view.setUint16(p + 28, 4 + padding, true);
    p += LOCAL_HEADER_BYTES;
    out.set(name, p);
    p += name.length;
    view.setUint16(p, PADDING_FIELD_ID, true);
    view.setUint16(p + 2, padding, true);
    out.fill(0x5a, p + 4, p + 4 + padding); // 'Z', PyTorch's filler
    out.set(e.data, data);
  });
  let p = directoryStart;
  entries.forEach((e, i) => {
    const name = names[i]!;
    view.setUint32(p, CENTRAL_HEADER, true);
    view.setUint16(p + 4, 20, true); // version made by
    view.setUint16(p + 6, 20, true); // version needed
    view.setUint16(p + 8, UTF8_NAMES, true);
    view.setUint16(p + 10, 0, true);
    view.setUint32(p + 12, 0, true);
    view.setUint32(p + 16, crcs[i]!, true);
    view.setUint32(p + 20, e.data.length, true);
    view.setUint32(p + 24, e.data.length, true);
    view.setUint16(p + 28, name.length, true);
    // Extra and comment lengths, disk number, attributes: all zero (the buffer is).
    view.setUint32(p + 42, layout[i]!.header, true);
    out.set(name, p + CENTRAL_HEADER_BYTES);
    p += CENTRAL_HEADER_BYTES + name.length;
  });
  view.setUint32(p, END_OF_DIRECTORY, true);
  view.setUint16(p + 8, entries.length, true);
  view.setUint16(p + 10, entries.length, true);
  view.setUint32(p + 12, directoryBytes, true);
  view.setUint32(p + 16, directoryStart, true);
  return out;
}

interface StoredEntry {
  start: number;
  size: number;
  crc: number;
}

/** A stored zip archive read from bytes: its entry names, and each entry's bytes once its CRC-32 checks out. */
export class StoredZip {
  private readonly checked = new Set<string>();

  constructor(
    private readonly bytes: Uint8Array,
    private readonly entries: Map<string, StoredEntry>,
    private readonly label: string,
  ) {}

  /** The entry names, in the central directory's order. */
  get names(): string[] {
    return [...this.entries.keys()];
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  size(name: string): number | undefined {
    return this.entries.get(name)?.size;
  }

  /** The entry's bytes (a view into the archive), refused when they do not match the CRC-32 it records. */
  read(name: string): Uint8Array {
    const e = this.entries.get(name);
    if (e === undefined) throw new TsgptError(`${this.label}: the archive has no entry ${quote(name)}`);
    const data = this.bytes.subarray(e.start, e.start + e.size);
    if (!this.checked.has(name)) {
      if (crc32(data) !== e.crc) throw new TsgptError(`${this.label}: entry ${quote(name)} does not match its CRC-32: the file is damaged`);
      this.checked.add(name);
    }
    return data;
  }
}

/** Reads the directory of a stored zip archive; every entry must lie within the file and be uncompressed. */
export function decodeStoredZip(bytes: Uint8Array, label: string): StoredZip {
  const fail: (problem: string) => never = (problem) => {
    throw new TsgptError(`${label}: ${problem}`);
  };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const end = findEndOfDirectory(bytes, view) ?? fail('not a zip archive (no end-of-directory record; is it a torch.save file?)');
  const count = view.getUint16(end + 10, true);
  const directoryBytes = view.getUint32(end + 12, true);
  const directoryStart = view.getUint32(end + 16, true);
  if (view.getUint16(end + 4, true) !== 0 || view.getUint16(end + 6, true) !== 0 || view.getUint16(end + 8, true) !== count) {
    fail('a zip archive split over several disks, which a checkpoint never is');
  }
  if (count === MAX_ENTRIES || directoryBytes === MAX_U32 || directoryStart === MAX_U32) {
    fail('a ZIP64 archive (over 4 GiB or 65535 entries), larger than any model tsgpt can hold');
  }
  if (directoryStart + directoryBytes > end) fail('its central directory lies outside the file: the file is truncated or damaged');
  const names = new TextDecoder('utf-8', { fatal: true });
  const entries = new Map<string, StoredEntry>();
  let p = directoryStart;
  for (let i = 0; i < count; i++) {
    if (p + CENTRAL_HEADER_BYTES > directoryStart + directoryBytes || view.getUint32(p, true) !== CENTRAL_HEADER) {
      fail(`entry ${i} of the central directory is damaged`);
    }
    const flags = view.getUint16(p + 8, true);
    const method = view.getUint16(p + 10, true);
    const crc = view.getUint32(p + 16, true);
    const packed = view.getUint32(p + 20, true);
    const size = view.getUint32(p + 24, true);
    const nameLength = view.getUint16(p + 28, true);
    const skip = nameLength + view.getUint16(p + 30, true) + view.getUint16(p + 32, true);
    const header = view.getUint32(p + 42, true);
    if (p + CENTRAL_HEADER_BYTES + skip > directoryStart + directoryBytes) fail(`entry ${i} of the central directory runs past its end`);
    let name = '';
    try {
      name = names.decode(bytes.subarray(p + CENTRAL_HEADER_BYTES, p + CENTRAL_HEADER_BYTES + nameLength));
    } catch {
      fail(`entry ${i} has a name that is not UTF-8`);
    }
    if (flags & ENCRYPTED) fail(`entry ${quote(name)} is encrypted`);
    if (method !== 0 || packed !== size)
      fail(`entry ${quote(name)} is compressed (method ${method}); torch.save stores entries as they are`);
    if (entries.has(name)) fail(`the archive lists ${quote(name)} twice`);
    if (header + LOCAL_HEADER_BYTES > directoryStart || view.getUint32(header, true) !== LOCAL_HEADER) {
      fail(`entry ${quote(name)} points at no local header: the file is damaged`);
    }
    const start = header + LOCAL_HEADER_BYTES + view.getUint16(header + 26, true) + view.getUint16(header + 28, true);
    if (start + size > directoryStart) fail(`entry ${quote(name)} runs past the end of the data: the file is truncated or damaged`);
    entries.set(name, { start, size, crc });
    p += CENTRAL_HEADER_BYTES + skip;
  }
  return new StoredZip(bytes, entries, label);
}

/** The offset of the end-of-central-directory record: the last one whose comment ends exactly at the file's end. */
function findEndOfDirectory(bytes: Uint8Array, view: DataView): number | null {
  const lowest = Math.max(0, bytes.length - END_BYTES - 0xffff);
  for (let p = bytes.length - END_BYTES; p >= lowest; p--) {
    if (view.getUint32(p, true) === END_OF_DIRECTORY && p + END_BYTES + view.getUint16(p + 20, true) === bytes.length) return p;
  }
  return null;
}
