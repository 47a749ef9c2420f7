/**
 * NumPy's .npy format, read as a table of vectors [rows, width]: the magic "\x93NUMPY", a version (1.0, 2.0 or
 * 3.0), the header's length (2 bytes little-endian in 1.0, 4 in 2.0 and 3.0), the header (a Python dict
 * literal such as {'descr': '<f4', 'fortran_order': False, 'shape': (1000, 384), }, ASCII or, in 3.0, UTF-8),
 * then the array's bytes.
 *
 * Read: float32 and float64 ('<f4', '>f4', '<f8', '>f8'; float64 is rounded to float32, which the engine
 * computes in), C order, two dimensions. Refused with one line each: other dtypes (float16, integers,
 * structured), Fortran order, other dimensions, a header that is not the dict numpy writes, data shorter or
 * longer than the shape, values that are not finite. The header is parsed, never evaluated. Pure TypeScript
 * with no Node APIs: the bytes come from wherever the caller got them.
 */
import { TsgptError } from '../errors.js';
import { oneLine } from '../validate.js';
import type { VectorTable } from './vector_table.js';

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
/** numpy itself refuses headers over 10,000 bytes unless told otherwise; so does this. */
const MAX_HEADER_BYTES = 10_000;

type PyValue = string | boolean | number | PyValue[] | Map<string, PyValue>;

export function decodeNpy(bytes: Uint8Array, label: string): VectorTable {
  const fail = (problem: string): never => {
    throw new TsgptError(`${label}: ${problem}`);
  };
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) fail('not a NumPy .npy file (it does not start with \\x93NUMPY)');
  const major = bytes[6]!,
    minor = bytes[7]!;
  if (!((major === 1 || major === 2 || major === 3) && minor === 0)) {
    fail(`.npy version ${major}.${minor} is not supported (tsgpt reads 1.0, 2.0 and 3.0)`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lengthBytes = major === 1 ? 2 : 4;
  if (bytes.length < 8 + lengthBytes) fail(`file is ${bytes.length} bytes, too short to hold the header length`);
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const dataStart = 8 + lengthBytes + headerLength;
  if (headerLength > MAX_HEADER_BYTES) fail(`header length ${headerLength} is over the ${MAX_HEADER_BYTES}-byte limit`);
  if (dataStart > bytes.length) fail(`header length ${headerLength} runs past the end of the file (${bytes.length} bytes)`);
  let header = '';
  try {
    header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1', { fatal: true }).decode(bytes.subarray(8 + lengthBytes, dataStart));
  } catch {
    fail('header is not valid UTF-8');
  }
  if (major !== 3 && /[^\x20-\x7e\n]/.test(header)) fail('header holds characters that are not ASCII');

  let dict: PyValue;
  try {
    dict = new PyLiteralParser(header).parseWhole();
  } catch (e) {
    return fail(`header is not the dict numpy writes (${oneLine((e as Error).message)})`);
  }
  if (!(dict instanceof Map)) return fail('header is not a dict');
  const keys = [...dict.keys()].sort().join(', ');
  if (keys !== 'descr, fortran_order, shape') fail(`header has keys ${clip(keys)}; numpy writes descr, fortran_order and shape`);
  const descr = dict.get('descr');
  if (typeof descr !== 'string') return fail('descr is not a string (a structured dtype, which tsgpt does not read)');
  const dtype = /^([<>])f([48])$/.exec(descr);
  if (dtype === null)
    fail(`dtype ${clip(JSON.stringify(descr))} is not supported (tsgpt reads float32 and float64: '<f4', '>f4', '<f8', '>f8')`);
  const littleEndian = dtype![1] === '<',
    size = Number(dtype![2]);
  const fortran = dict.get('fortran_order');
  if (typeof fortran !== 'boolean') fail('fortran_order is not True or False');
  if (fortran) fail('the array is in Fortran order; save it in C order (np.ascontiguousarray)');
  const shape = dict.get('shape');
  if (!Array.isArray(shape) || shape.some((d) => typeof d !== 'number')) return fail('shape is not a tuple of integers');
  if (shape.length !== 2) fail(`the array has shape (${shape.join(', ')}); tsgpt reads 2-D arrays, one vector a row`);
  const [rows, width] = shape as [number, number];
  if (width === 0) fail('the vectors have width 0');
  const needed = rows * width * size;
  if (!Number.isSafeInteger(needed)) fail(`shape (${rows}, ${width}) is too large`);
  const available = bytes.length - dataStart;
  if (available < needed) fail(`the file is truncated: shape (${rows}, ${width}) needs ${needed} bytes of data, it has ${available}`);
  if (available > needed) fail(`${available - needed} bytes follow the data that shape (${rows}, ${width}) describes`);

  const data = new Float32Array(rows * width);
  for (let i = 0; i < data.length; i++) {
    const at = dataStart + i * size;
    const v = size === 4 ? view.getFloat32(at, littleEndian) : view.getFloat64(at, littleEndian);
    data[i] = v;
    if (!Number.isFinite(data[i]!)) fail(`row ${Math.floor(i / width)} holds ${v}, which is not a finite float32`);
  }
  return { rows, width, data };
}

function clip(s: string): string {
  return oneLine(s.length > 60 ? `${s.slice(0, 60)}…` : s);
}

/**
 * The Python literals numpy's header uses, and nothing else: a dict with string keys, strings in single or
 * double quotes (no escapes), True, False, non-negative integers (with Python 2's L suffix), tuples, lists.
 */
class PyLiteralParser {
  private at = 0;

  constructor(private readonly text: string) {}

  parseWhole(): PyValue {
    const v = this.value(0);
    this.skipSpace();
    if (this.at !== this.text.length) throw new Error(`unexpected ${JSON.stringify(this.text[this.at])} after the dict`);
    return v;
  }

  private value(depth: number): PyValue {
    if (depth > 4) throw new Error('nested too deeply');
    this.skipSpace();
    const c = this.text[this.at];
    if (c === '{') return this.dict(depth);
    if (c === '(' || c === '[') return this.sequence(depth, c === '(' ? ')' : ']');
    if (c === "'" || c === '"') return this.string();
    if (c !== undefined && c >= '0' && c <= '9') return this.integer();
    for (const [word, v] of [
      ['True', true],
      ['False', false],
    ] as const) {
      if (this.text.startsWith(word, this.at)) {
        this.at += word.length;
        return v;
      }
    }
    throw new Error(c === undefined ? 'it ends early' : `unexpected ${JSON.stringify(c)}`);
  }

  private dict(depth: number): Map<string, PyValue> {
    const out = new Map<string, PyValue>();
    this.at++; // {
    for (;;) {
      this.skipSpace();
      if (this.eat('}')) return out;
      const key = this.value(depth + 1);
      if (typeof key !== 'string') throw new Error('a key that is not a string');
      if (out.has(key)) throw new Error(`key ${JSON.stringify(key)} twice`);
      this.skipSpace();
      if (!this.eat(':')) throw new Error('a key without a value');
      out.set(key, this.value(depth + 1));
      this.skipSpace();
      if (this.eat('}')) return out;
      if (!this.eat(',')) throw new Error('entries not separated by commas');
    }
  }

  /** A tuple, or a list (a structured dtype's descr), up to its closing bracket. */
  private sequence(depth: number, close: string): PyValue[] {
    const out: PyValue[] = [];
    this.at++; // ( or [
    for (;;) {
      this.skipSpace();
      if (this.eat(close)) return out;
      out.push(this.value(depth + 1));
      this.skipSpace();
      if (this.eat(close)) return out;
      if (!this.eat(',')) throw new Error('items not separated by commas');
    }
  }

  private string(): string {
    const quote = this.text[this.at++]!;
    const end = this.text.indexOf(quote, this.at);
    if (end < 0) throw new Error('a string without its closing quote');
    const s = this.text.slice(this.at, end);
    if (s.includes('\\')) throw new Error('a string with an escape');
    this.at = end + 1;
    return s;
  }

  private integer(): number {
    const m = /^\d{1,15}L?/.exec(this.text.slice(this.at, this.at + 17));
    if (m === null || /\d/.test(this.text[this.at + m[0].length] ?? '')) throw new Error('an integer too long');
    this.at += m[0].length;
    return Number.parseInt(m[0], 10);
  }

  private skipSpace(): void {
    while (this.at < this.text.length && ' \t\n\r'.includes(this.text[this.at]!)) this.at++;
  }

  private eat(c: string): boolean {
    if (this.at >= this.text.length) throw new Error('it ends early');
    if (this.text[this.at] !== c) return false;
    this.at++;
    return true;
  }
}
