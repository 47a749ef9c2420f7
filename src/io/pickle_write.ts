/**
 * Writing Python pickles (protocol 2, what torch.save and Python 2 and 3 all read) from a small description of
 * the value. Python's ints and floats are both numbers in JavaScript, and tuples and lists both arrays, so the
 * description says which each is (`py.int(3)`, `py.tuple(...)`); strings, booleans and None map directly.
 * Nothing is memoised: every value is written where it occurs, which is all a reader needs. Browser-safe.
 */
import { TsgptError } from '../errors.js';
import { quote } from '../validate.js';

export type PyValue =
  | null
  | boolean
  | string
  | { kind: 'int'; value: number }
  | { kind: 'float'; value: number }
  | { kind: 'tuple'; items: readonly PyValue[] }
  | { kind: 'list'; items: readonly PyValue[] }
  | { kind: 'dict'; entries: readonly (readonly [PyValue, PyValue])[] }
  | { kind: 'global'; module: string; name: string }
  | { kind: 'reduce'; callable: PyValue; args: PyValue; items?: readonly (readonly [PyValue, PyValue])[] }
  | { kind: 'persid'; pid: PyValue };

/** Constructors for the values that need saying which Python type they are. */
export const py = {
  int: (value: number): PyValue => {
    if (!Number.isSafeInteger(value)) throw new Error(`pickle: ${value} is not a safe integer`);
    return { kind: 'int', value };
  },
  float: (value: number): PyValue => ({ kind: 'float', value }),
  tuple: (...items: PyValue[]): PyValue => ({ kind: 'tuple', items }),
  list: (items: readonly PyValue[]): PyValue => ({ kind: 'list', items }),
  dict: (entries: readonly (readonly [PyValue, PyValue])[]): PyValue => ({ kind: 'dict', entries }),
  /** A dict with string keys, in the order given. */
  record: (fields: Readonly<Record<string, PyValue>>): PyValue => ({ kind: 'dict', entries: Object.entries(fields) }),
  global: (module: string, name: string): PyValue => ({ kind: 'global', module, name }),
  /** callable(*args): what the reader rebuilds an object with. */
  reduce: (callable: PyValue, args: PyValue): PyValue => ({ kind: 'reduce', callable, args }),
  /** collections.OrderedDict with these items, written as Python writes it: made empty, then filled by SETITEMS. */
  orderedDict: (entries: readonly (readonly [PyValue, PyValue])[]): PyValue => ({
    kind: 'reduce',
    callable: { kind: 'global', module: 'collections', name: 'OrderedDict' },
    args: { kind: 'tuple', items: [] },
    items: entries,
  }),
  /** An object kept outside the pickle (torch's storages), referred to by `pid`. */
  persid: (pid: PyValue): PyValue => ({ kind: 'persid', pid }),
};

/** Python writes dict items and list elements in batches of this many, each batch one SETITEMS or APPENDS. */
const BATCH = 1000;

/** The pickle of `value`, protocol 2. */
export function pickle(value: PyValue): Uint8Array {
  const out = new ByteSink();
  out.bytes(0x80, 2); // PROTO 2
  write(out, value);
  out.bytes(0x2e); // STOP
  return out.finish();
}

function write(out: ByteSink, v: PyValue): void {
  if (v === null) {
    out.bytes(0x4e);
    return;
  }
  if (v === true) {
    out.bytes(0x88);
    return;
  }
  if (v === false) {
    out.bytes(0x89);
    return;
  }
  if (typeof v === 'string') {
    if (LONE_SURROGATE.test(v)) throw new TsgptError(`cannot write the string ${quote(v)}: it holds half of a UTF-16 pair, no character`);
    const utf8 = new TextEncoder().encode(v);
    out.bytes(0x58);
    out.u32(utf8.length);
    out.append(utf8);
    return;
  }
  switch (v.kind) {
    case 'int':
      writeInt(out, v.value);
      return;
    case 'float':
      out.bytes(0x47);
      out.f64BigEndian(v.value);
      return;
    case 'tuple':
      if (v.items.length === 0) {
        out.bytes(0x29);
        return;
      }
      if (v.items.length > 3) out.bytes(0x28);
      for (const item of v.items) write(out, item);
      out.bytes(v.items.length <= 3 ? 0x84 + v.items.length : 0x74); // TUPLE1..3, or TUPLE after a MARK
      return;
    case 'list':
      out.bytes(0x5d);
      for (let i = 0; i < v.items.length; i += BATCH) {
        out.bytes(0x28);
        for (const item of v.items.slice(i, i + BATCH)) write(out, item);
        out.bytes(0x65); // APPENDS
      }
      return;
    case 'dict':
      out.bytes(0x7d);
      writeItems(out, v.entries);
      return;
    case 'global':
      out.bytes(0x63);
      out.append(new TextEncoder().encode(`${v.module}\n${v.name}\n`));
      return;
    case 'reduce':
      write(out, v.callable);
      write(out, v.args);
      out.bytes(0x52);
      writeItems(out, v.items ?? []);
      return;
    case 'persid':
      write(out, v.pid);
      out.bytes(0x51);
      return;
  }
}

/** Key-value pairs into the dictionary on top of the stack, in batches of SETITEMS. */
function writeItems(out: ByteSink, entries: readonly (readonly [PyValue, PyValue])[]): void {
  for (let i = 0; i < entries.length; i += BATCH) {
    out.bytes(0x28);
    for (const [key, value] of entries.slice(i, i + BATCH)) {
      write(out, key);
      write(out, value);
    }
    out.bytes(0x75); // SETITEMS
  }
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** The shortest of BININT1, BININT2, BININT and LONG1 that holds n. */
function writeInt(out: ByteSink, n: number): void {
  if (n >= 0 && n < 0x100) {
    out.bytes(0x4b, n);
    return;
  }
  if (n >= 0 && n < 0x10000) {
    out.bytes(0x4d, n & 0xff, n >>> 8);
    return;
  }
  if (n >= -0x80000000 && n <= 0x7fffffff) {
    out.bytes(0x4a);
    out.u32(n >>> 0);
    return;
  }
  // LONG1: little-endian two's complement, as few bytes as keep the sign.
  const bytes: number[] = [];
  let v = BigInt(n);
  for (;;) {
    const byte = Number(v & 0xffn);
    bytes.push(byte);
    v >>= 8n;
    if ((v === 0n && !(byte & 0x80)) || (v === -1n && byte & 0x80)) break;
  }
  out.bytes(0x8a, bytes.length, ...bytes);
}

/** A byte buffer that grows by doubling. */
class ByteSink {
  private buf = new Uint8Array(1024);
  private length = 0;

  private reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }

  bytes(...values: number[]): void {
    this.reserve(values.length);
    for (const b of values) this.buf[this.length++] = b;
  }

  append(data: Uint8Array): void {
    this.reserve(data.length);
    this.buf.set(data, this.length);
    this.length += data.length;
  }

  u32(n: number): void {
    this.reserve(4);
    new DataView(this.buf.buffer).setUint32(this.length, n, true);
    this.length += 4;
  }

  f64BigEndian(x: number): void {
    this.reserve(8);
    new DataView(this.buf.buffer).setFloat64(this.length, x, false);
    this.length += 8;
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}
