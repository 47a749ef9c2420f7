/**
 * The safetensors format: an 8-byte little-endian header length N, N bytes of UTF-8 JSON describing each tensor,
 * then one data buffer. Pure TypeScript with no Node APIs, because checkpoints are also read in a browser tab.
 *
 * F16 is a storage type only: its tensors are float32 in memory (data a Float32Array), rounded to half
 * precision when encoded and widened when decoded.
 *
 * Decoding treats the bytes as hostile: checkpoints get downloaded and passed around, and a corrupt or crafted
 * file must end in a one-line TsgptError, never a crash, a hang or an attempt to allocate gigabytes.
 */
import { oneLine, quote } from '../validate.js';
import { TsgptError } from '../errors.js';
import { fromHalfBits, toHalfBits } from './float16.js';

export type SafetensorsDType = 'F32' | 'F16' | 'I32';

export interface SafetensorsTensor {
  dtype: SafetensorsDType;
  shape: number[];
  data: Float32Array | Int32Array;
}

export interface NamedTensor extends SafetensorsTensor {
  name: string;
}

export interface DecodedSafetensors {
  metadata: Record<string, string>;
  tensors: Map<string, SafetensorsTensor>;
}

/** Larger headers are refused unread, the same limit as the reference implementation. */
export const MAX_HEADER_BYTES = 100_000_000;

const DTYPE_SIZE: Record<SafetensorsDType, number> = { F32: 4, F16: 2, I32: 4 };
const DECODED_DTYPES = Object.keys(DTYPE_SIZE);
const METADATA_KEY = '__metadata__';
const ENTRY_FIELDS = ['dtype', 'shape', 'data_offsets'];

// Typed arrays use the host's byte order; on the (rare) big-endian host every element goes through a DataView.
const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

export function encodeSafetensors(tensors: readonly NamedTensor[], metadata?: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata !== undefined) {
    for (const [k, v] of Object.entries(metadata)) {
      // Encoding errors are tsgpt bugs, not user mistakes, so they are plain Errors that keep their stack.
      if (typeof v !== 'string') throw new Error(`safetensors metadata "${k}" must be a string, got ${typeof v}`);
    }
    defineEntry(header, METADATA_KEY, { ...metadata });
  }
  let offset = 0;
  for (const t of tensors) {
    if (t.name === METADATA_KEY) throw new Error(`tensor name ${METADATA_KEY} is reserved by the safetensors format`);
    if (Object.hasOwn(header, t.name)) throw new Error(`duplicate tensor name "${t.name}"`);
    const expectedType = t.dtype === 'F32' || t.dtype === 'F16' ? Float32Array : t.dtype === 'I32' ? Int32Array : undefined;
    if (expectedType === undefined || !(t.data instanceof expectedType)) {
      throw new Error(`tensor "${t.name}": dtype ${String(t.dtype)} does not match its ${t.data.constructor.name}`);
    }
    let count = 1;
    for (const d of t.shape) {
      if (!Number.isSafeInteger(d) || d < 0) throw new Error(`tensor "${t.name}": bad dimension ${d} in shape`);
      count *= d;
    }
    if (count !== t.data.length) {
      throw new Error(`tensor "${t.name}": shape [${t.shape.join(', ')}] holds ${count} values but data has ${t.data.length}`);
    }
    const end = offset + t.data.length * DTYPE_SIZE[t.dtype];
    defineEntry(header, t.name, { dtype: t.dtype, shape: [...t.shape], data_offsets: [offset, end] });
    offset = end;
  }

  const json = new TextEncoder().encode(JSON.stringify(header));
  // Space padding keeps the header valid JSON while starting the data at an 8-byte boundary, so a reader that
  // maps the file can view tensors in place.
  const headerLength = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + headerLength + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerLength), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLength);

  let pos = 8 + headerLength;
  for (const t of tensors) {
    if (t.dtype === 'F16') {
      for (let i = 0; i < t.data.length; i++) view.setUint16(pos + 2 * i, toHalfBits(t.data[i]!), true);
      pos += 2 * t.data.length;
      continue;
    }
    if (HOST_IS_LITTLE_ENDIAN) {
      out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), pos);
    } else {
      for (let i = 0; i < t.data.length; i++) {
        if (t.dtype === 'F32') view.setFloat32(pos + 4 * i, t.data[i]!, true);
        else view.setInt32(pos + 4 * i, t.data[i]!, true);
      }
    }
    pos += t.data.byteLength;
  }
  return out;
}

/** Where one tensor lies in a file's data section (after the header), and what it holds. */
export interface TensorEntry {
  name: string;
  /** One of the format's dtypes; only SafetensorsDType ones decode here, the others can still be skipped. */
  dtype: string;
  shape: number[];
  /** Byte offsets within the data section. */
  begin: number;
  end: number;
}

/** Bytes per element of every dtype the safetensors format defines. */
const FORMAT_DTYPE_SIZE: Record<string, number> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E4M3: 1,
  F8_E5M2: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  F64: 8,
  I64: 8,
  U64: 8,
};

/**
 * The 8-byte length and the JSON header of a safetensors file: `start` is the file's first bytes (at least 8),
 * `fileLength` its size. Returns where the data section starts, or throws the decoder's one-line errors.
 */
export function safetensorsHeaderLength(start: Uint8Array, fileLength: number, fileLabel = 'safetensors file'): number {
  if (fileLength < 8 || start.length < 8) {
    throw new TsgptError(`${fileLabel}: file is ${fileLength} bytes, too short to hold the 8-byte header length`);
  }
  const declared = new DataView(start.buffer, start.byteOffset, 8).getBigUint64(0, true);
  if (declared > BigInt(MAX_HEADER_BYTES)) {
    throw new TsgptError(`${fileLabel}: header length ${declared} is over the ${MAX_HEADER_BYTES}-byte limit`);
  }
  const headerLength = Number(declared);
  if (8 + headerLength > fileLength) {
    throw new TsgptError(`${fileLabel}: header length ${headerLength} runs past the end of the file (${fileLength} bytes)`);
  }
  return 8 + headerLength;
}

/**
 * A safetensors header (the JSON bytes after the length) checked against a data section of `dataLength`
 * bytes: every entry well formed, of a dtype the format defines, inside the data, and the entries tiling it
 * exactly. Nothing of the data is read, so a file too large to hold in memory can be checked first and read a
 * tensor at a time. A dtype outside `readable` (the reader's) is refused by name.
 */
export function parseSafetensorsHeader(
  headerBytes: Uint8Array,
  dataLength: number,
  fileLabel = 'safetensors file',
  readable: readonly string[] = Object.keys(FORMAT_DTYPE_SIZE),
): { metadata: Record<string, string>; entries: TensorEntry[] } {
  // Annotated on the binding so the compiler knows each call ends the function and narrows after it.
  const fail: (problem: string) => never = (problem) => {
    throw new TsgptError(`${fileLabel}: ${problem}`);
  };

  let headerText = '';
  try {
    headerText = new TextDecoder('utf-8', { fatal: true }).decode(headerBytes);
  } catch {
    fail('header is not valid UTF-8');
  }
  let header: unknown;
  try {
    header = JSON.parse(headerText);
  } catch (err) {
    fail(`header is not valid JSON (${oneLine(err instanceof Error ? err.message : String(err))})`);
  }
  if (!isPlainObject(header)) fail(`header is ${describe(header)}, not a JSON object`);
  const fields = header as Record<string, unknown>;

  let metadata: Record<string, string> = {};
  const layout: TensorEntry[] = [];
  for (const name of Object.keys(fields)) {
    const entry = fields[name];
    if (name === METADATA_KEY) {
      metadata = readMetadata(entry, fail);
      continue;
    }
    const where = `tensor ${quote(name)}`;
    if (!isPlainObject(entry)) fail(`${where} is ${describe(entry)}, not an object`);
    const info = entry as Record<string, unknown>;
    for (const field of Object.keys(info)) {
      if (!ENTRY_FIELDS.includes(field)) fail(`${where} has unknown field ${quote(field)}`);
    }
    for (const field of ENTRY_FIELDS) {
      if (!Object.hasOwn(info, field)) fail(`${where} is missing "${field}"`);
    }

    const dtype = info.dtype;
    if (typeof dtype !== 'string') fail(`${where} has dtype ${describe(dtype)}, not a string`);
    if (!Object.hasOwn(FORMAT_DTYPE_SIZE, dtype as string) || !readable.includes(dtype as string)) {
      fail(`${where} has unsupported dtype ${quote(dtype as string)} (tsgpt reads ${formatList(readable)})`);
    }
    const elementSize = FORMAT_DTYPE_SIZE[dtype as string]!;

    const shape = info.shape;
    if (!Array.isArray(shape)) fail(`${where} has shape ${describe(shape)}, not an array`);
    const dims = shape as unknown[];
    for (let i = 0; i < dims.length; i++) {
      const d = dims[i];
      if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) {
        fail(`${where} has shape[${i}] = ${describe(d)}, not a non-negative integer`);
      }
    }

    const offsets = info.data_offsets;
    if (!Array.isArray(offsets) || offsets.length !== 2) fail(`${where} has data_offsets ${describe(offsets)}, not [begin, end]`);
    const [begin, end] = offsets as unknown[];
    if (typeof begin !== 'number' || !Number.isSafeInteger(begin) || typeof end !== 'number' || !Number.isSafeInteger(end)) {
      fail(`${where} has data_offsets that are not integers`);
    }
    const b = begin as number;
    const e = end as number;
    if (b < 0 || b > e) fail(`${where} has data_offsets [${b}, ${e}] with begin after end or negative`);
    if (e > dataLength) fail(`${where} ends at byte ${e} of the data but the data is only ${dataLength} bytes`);

    // Multiplied with a cap so that dimensions like [2^30, 2^30, 2^30] are refused before doubles lose precision.
    const elements = elementCount(dims as number[], Math.floor(Number.MAX_SAFE_INTEGER / elementSize));
    if (elements === undefined || elements * elementSize !== e - b) {
      fail(
        `${where} has shape ${formatShape(dims as number[])} of ${dtype}, which needs ` +
          `${elements === undefined ? 'more than 2^53 bytes' : `${elements * elementSize} bytes`}, ` +
          `but data_offsets [${b}, ${e}] span ${e - b}`,
      );
    }
    layout.push({ name, dtype: dtype as string, shape: dims as number[], begin: b, end: e });
  }

  // Like the reference implementation: tensors must tile the data buffer exactly, with no overlap (which would
  // let one stored byte feed two tensors) and no unclaimed bytes (which hide data no reader would ever see).
  const sorted = [...layout].sort((x, y) => x.begin - y.begin || x.end - y.end);
  let covered = 0;
  let previous: string | undefined;
  for (const t of sorted) {
    if (t.begin < covered) {
      fail(`tensor ${quote(t.name)} (bytes ${t.begin} to ${t.end}) overlaps tensor ${quote(previous ?? '')}`);
    }
    if (t.begin > covered) fail(`data bytes ${covered} to ${t.begin} belong to no tensor`);
    covered = t.end;
    previous = t.name;
  }
  if (covered !== dataLength) fail(`data bytes ${covered} to ${dataLength} belong to no tensor`);
  return { metadata, entries: layout };
}

/** `fileLabel` starts every error message, so the user learns which file is at fault. */
export function decodeSafetensors(bytes: Uint8Array, fileLabel = 'safetensors file'): DecodedSafetensors {
  const dataStart = safetensorsHeaderLength(bytes, bytes.length, fileLabel);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const { metadata, entries } = parseSafetensorsHeader(bytes.subarray(8, dataStart), bytes.length - dataStart, fileLabel, DECODED_DTYPES);
  const layout = entries as (TensorEntry & { dtype: SafetensorsDType })[];

  const tensors = new Map<string, SafetensorsTensor>();
  for (const t of layout) {
    const count = (t.end - t.begin) / DTYPE_SIZE[t.dtype];
    // Fresh arrays: the input's byte offsets need not be 4-aligned, and callers should not pin the whole file.
    const data = t.dtype === 'I32' ? new Int32Array(count) : new Float32Array(count);
    const start = dataStart + t.begin;
    if (t.dtype === 'F16') {
      for (let i = 0; i < count; i++) data[i] = fromHalfBits(view.getUint16(start + 2 * i, true));
    } else if (HOST_IS_LITTLE_ENDIAN) {
      new Uint8Array(data.buffer).set(bytes.subarray(start, dataStart + t.end));
    } else {
      for (let i = 0; i < count; i++) {
        data[i] = t.dtype === 'F32' ? view.getFloat32(start + 4 * i, true) : view.getInt32(start + 4 * i, true);
      }
    }
    tensors.set(t.name, { dtype: t.dtype, shape: t.shape, data });
  }
  return { metadata, tensors };
}

/** Product of `dims`, or undefined once it would exceed `limit`; any zero dimension makes it zero. */
function elementCount(dims: readonly number[], limit: number): number | undefined {
  if (dims.includes(0)) return 0;
  let count = 1;
  for (const d of dims) {
    if (d > limit / count) return undefined;
    count *= d;
  }
  return count;
}

function readMetadata(value: unknown, fail: (problem: string) => never): Record<string, string> {
  if (!isPlainObject(value)) fail(`${METADATA_KEY} is ${describe(value)}, not an object of strings`);
  const entries = Object.entries(value as Record<string, unknown>);
  for (const [k, v] of entries) {
    if (typeof v !== 'string') fail(`${METADATA_KEY} entry ${quote(k)} is ${describe(v)}, not a string`);
  }
  // fromEntries defines own properties, so a key named "__proto__" stays data rather than becoming a prototype.
  return Object.fromEntries(entries) as Record<string, string>;
}

function defineEntry(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

function isPlainObject(value: unknown): boolean {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === undefined) return 'missing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return quote(value);
  return `${typeof value} ${String(value)}`;
}

/** "F32, F16 and I32". */
function formatList(items: readonly string[]): string {
  return items.length < 2 ? items.join('') : `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`;
}

function formatShape(dims: readonly number[]): string {
  return `[${dims.slice(0, 8).join(', ')}${dims.length > 8 ? `, … (${dims.length} dimensions)` : ''}]`;
}
