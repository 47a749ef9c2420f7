/**
 * A restricted reader of Python's pickle format (the binary protocols 2 to 5): a small stack machine over the
 * opcodes that plain data uses, which builds values and never runs anything.
 *
 * Python's own unpickler imports any module a pickle names and calls any callable in it, so loading a pickle is
 * running the code of whoever wrote it. Here a pickle may name only the globals the caller allows
 * (`UnpickleOptions.globals`), each implemented in TypeScript as a data constructor: REDUCE applies an allowed
 * global's `call` to its argument tuple, BUILD an allowed result's `build` to its state, and nothing else can
 * be called. A pickle naming anything else (os.system, builtins.eval) is refused with one line naming it.
 *
 * Python values become:  None null, bool boolean, int number (bigint beyond 2^53), float number, str string,
 * bytes Uint8Array, list Array, tuple PyTuple, dict Map (keys str or int only), and whatever an allowed global
 * makes. The input is hostile: every length is checked against the bytes left before anything is sliced or
 * allocated, the stack, the marks and the memo are bounded, and the machine reads each byte once, so any input
 * ends (in a value or a TsgptError) after work and memory proportional to its length.
 */
import { TsgptError } from '../errors.js';
import { quote } from '../validate.js';

/** A Python tuple: kept apart from lists, which are arrays, because a checkpoint's meaning depends on which. */
export class PyTuple {
  constructor(readonly items: readonly unknown[]) {}
}

/** What a pickle may name with GLOBAL: a data constructor written in TypeScript. */
export interface PickleGlobal {
  /** The value of calling the global with `args` (REDUCE); absent when the global may not be called. */
  call?(args: readonly unknown[], fail: (problem: string) => never): unknown;
  /** Sets `state` on a value this global's call made (BUILD); absent when such values take no state. */
  build?(value: unknown, state: unknown, fail: (problem: string) => never): void;
}

export interface UnpickleOptions {
  /** The globals a pickle may name, keyed "module.name" (collections.OrderedDict). */
  globals: Readonly<Record<string, PickleGlobal>>;
  /** The value of a persistent id (BINPERSID); without it, a pickle that holds one is refused. */
  persistentLoad?(pid: unknown, fail: (problem: string) => never): unknown;
  /** Names the pickle in messages. */
  label: string;
}

/** A global a pickle named and the caller allows: on the stack until REDUCE calls it, or an operand (a storage type). */
export class GlobalRef {
  constructor(
    readonly name: string,
    readonly impl: PickleGlobal,
  ) {}
}

/** Larger than any checkpoint's structure needs, small enough that a crafted pickle cannot exhaust memory with them. */
const MAX_STACK = 1 << 22;
const MAX_MARKS = 1 << 16;
const MAX_MEMO = 1 << 22;
/** Integers wider than this (LONG1/LONG4) are refused: no checkpoint holds a number of more than 64 bits. */
const MAX_LONG_BYTES = 8;
const HIGHEST_PROTOCOL = 5;

/** Reads one pickle from `bytes` and returns its value; anything else is a TsgptError naming `label`. */
export function unpickle(bytes: Uint8Array, options: UnpickleOptions): unknown {
  return new Unpickler(bytes, options).run();
}

class Unpickler {
  private pos = 0;
  private readonly stack: unknown[] = [];
  private readonly marks: number[] = [];
  private readonly memo = new Map<number, unknown>();
  /** Which global made each value that BUILD may set state on. */
  private readonly madeBy = new WeakMap<object, PickleGlobal>();
  private readonly view: DataView;
  private readonly utf8 = new TextDecoder('utf-8', { fatal: true });
  /** The offset of the opcode being run, for messages. */
  private at = 0;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly options: UnpickleOptions,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  readonly fail = (problem: string): never => {
    throw new TsgptError(`${this.options.label}: ${problem} (pickle byte ${this.at})`);
  };

  run(): unknown {
    for (;;) {
      this.at = this.pos;
      const op = this.u8();
      if (op === 0x2e /* . STOP */) {
        if (this.stack.length !== 1 || this.marks.length > 0) this.fail('the pickle stops with its stack in disorder');
        return this.stack[0];
      }
      this.step(op);
    }
  }

  private step(op: number): void {
    switch (op) {
      case 0x80: {
        // PROTO
        const version = this.u8();
        if (version < 2 || version > HIGHEST_PROTOCOL)
          this.fail(`pickle protocol ${version} is not supported (2 to ${HIGHEST_PROTOCOL} are)`);
        return;
      }
      case 0x95: // FRAME: a length hint the reader does not need, checked only to be within the file
        if (this.u64() > this.bytes.length - this.pos) this.fail('a frame runs past the end of the pickle');
        return;
      case 0x28: // ( MARK
        if (this.marks.length >= MAX_MARKS) this.fail('more nested marks than any checkpoint has');
        this.marks.push(this.stack.length);
        return;
      case 0x30: // 0 POP
        this.pop();
        return;
      case 0x31: // 1 POP_MARK
        this.popMark();
        return;
      case 0x32: // 2 DUP
        this.push(this.top());
        return;
      case 0x4e: // N NONE
        this.push(null);
        return;
      case 0x88: // NEWTRUE
        this.push(true);
        return;
      case 0x89: // NEWFALSE
        this.push(false);
        return;
      case 0x4b: // K BININT1
        this.push(this.u8());
        return;
      case 0x4d: // M BININT2
        this.push(this.take(2, (p) => this.view.getUint16(p, true)));
        return;
      case 0x4a: // J BININT
        this.push(this.take(4, (p) => this.view.getInt32(p, true)));
        return;
      case 0x8a: // LONG1
        this.push(this.long(this.u8()));
        return;
      case 0x8b: // LONG4
        this.push(this.long(this.u32()));
        return;
      case 0x47: // G BINFLOAT (big-endian)
        this.push(this.take(8, (p) => this.view.getFloat64(p, false)));
        return;
      case 0x58: // X BINUNICODE
        this.push(this.text(this.u32()));
        return;
      case 0x8c: // SHORT_BINUNICODE
        this.push(this.text(this.u8()));
        return;
      case 0x8d: // BINUNICODE8
        this.push(this.text(this.u64()));
        return;
      case 0x55: // U SHORT_BINSTRING (Python 2's str): its bytes as Latin-1, as Python 3 reads it with encoding='latin1'
        this.push(latin1(this.slice(this.u8())));
        return;
      case 0x54: // T BINSTRING
        this.push(latin1(this.slice(this.u32())));
        return;
      case 0x43: // C SHORT_BINBYTES
        this.push(this.slice(this.u8()).slice());
        return;
      case 0x42: // B BINBYTES
        this.push(this.slice(this.u32()).slice());
        return;
      case 0x8e: // BINBYTES8
        this.push(this.slice(this.u64()).slice());
        return;
      case 0x29: // ) EMPTY_TUPLE
        this.push(new PyTuple([]));
        return;
      case 0x85: // TUPLE1
      case 0x86: // TUPLE2
      case 0x87: {
        // TUPLE3
        const n = op - 0x84;
        if (this.stack.length - this.floor() < n) this.fail(`TUPLE${n} finds fewer than ${n} values`);
        this.push(new PyTuple(this.stack.splice(this.stack.length - n, n)));
        return;
      }
      case 0x74: // t TUPLE
        this.push(new PyTuple(this.popMark()));
        return;
      case 0x5d: // ] EMPTY_LIST
        this.push([]);
        return;
      case 0x6c: // l LIST
        this.push(this.popMark());
        return;
      case 0x61: {
        // a APPEND
        const item = this.pop();
        this.list(this.top()).push(item);
        return;
      }
      case 0x65: {
        // e APPENDS
        const items = this.popMark();
        const list = this.list(this.top());
        if (list.length + items.length > MAX_STACK) this.fail('a list longer than any checkpoint has');
        for (const item of items) list.push(item);
        return;
      }
      case 0x7d: // } EMPTY_DICT
        this.push(new Map());
        return;
      case 0x64: {
        // d DICT
        const dict = new Map<string | number, unknown>();
        this.setItems(dict, this.popMark());
        this.push(dict);
        return;
      }
      case 0x73: {
        // s SETITEM
        const value = this.pop();
        const key = this.pop();
        this.setItems(this.dict(this.top()), [key, value]);
        return;
      }
      case 0x75: {
        // u SETITEMS
        const items = this.popMark();
        this.setItems(this.dict(this.top()), items);
        return;
      }
      case 0x71: // q BINPUT
        this.put(this.u8());
        return;
      case 0x72: // r LONG_BINPUT
        this.put(this.u32());
        return;
      case 0x94: // MEMOIZE
        this.put(this.memo.size);
        return;
      case 0x68: // h BINGET
        this.push(this.get(this.u8()));
        return;
      case 0x6a: // j LONG_BINGET
        this.push(this.get(this.u32()));
        return;
      case 0x63: {
        // c GLOBAL: "module\nname\n"
        const module = this.line();
        this.push(this.global(module, this.line()));
        return;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = this.pop();
        const module = this.pop();
        if (typeof module !== 'string' || typeof name !== 'string') this.fail('STACK_GLOBAL needs a module and a name');
        this.push(this.global(module as string, name as string));
        return;
      }
      case 0x52: {
        // R REDUCE
        const args = this.pop();
        const callable = this.pop();
        if (!(callable instanceof GlobalRef) || callable.impl.call === undefined)
          this.fail('REDUCE calls something that is not an allowed callable');
        if (!(args instanceof PyTuple)) this.fail('REDUCE needs a tuple of arguments');
        const { name, impl } = callable as GlobalRef;
        const value = impl.call!((args as PyTuple).items, (problem) => this.fail(`${name}: ${problem}`));
        if (typeof value === 'object' && value !== null) this.madeBy.set(value, impl);
        this.push(value);
        return;
      }
      case 0x62: {
        // b BUILD
        const state = this.pop();
        const value = this.top();
        const impl = typeof value === 'object' && value !== null ? this.madeBy.get(value) : undefined;
        if (impl?.build === undefined) this.fail('BUILD sets state on a value that takes none');
        impl!.build!(value, state, this.fail);
        return;
      }
      case 0x51: {
        // Q BINPERSID
        const pid = this.pop();
        const load = this.options.persistentLoad;
        if (load === undefined) this.fail('the pickle refers to data outside it (a persistent id), which this file may not');
        this.push(load!(pid, this.fail));
        return;
      }
      default:
        this.fail(`opcode 0x${op.toString(16).padStart(2, '0')} is not one a checkpoint needs, so it is not read`);
    }
  }

  /** Looks up an allowed global; anything else ends the read without importing or running it. */
  private global(module: string, name: string): GlobalRef {
    const full = `${module}.${name}`;
    const impl = Object.hasOwn(this.options.globals, full) ? this.options.globals[full] : undefined;
    if (impl === undefined) {
      this.fail(`the pickle names the global ${quote(full)}, which a checkpoint does not need; refused, nothing was run`);
    }
    return new GlobalRef(full, impl!);
  }

  private setItems(dict: Map<string | number, unknown>, items: unknown[]): void {
    if (items.length % 2 !== 0) this.fail('a dictionary update with a key but no value');
    for (let i = 0; i < items.length; i += 2) {
      const key = items[i];
      if (typeof key !== 'string' && typeof key !== 'number') this.fail('a dictionary key that is not a string or an integer');
      if (typeof key === 'number' && !Number.isInteger(key)) this.fail('a dictionary key that is a float');
      dict.set(key as string | number, items[i + 1]);
    }
  }

  private list(v: unknown): unknown[] {
    if (!Array.isArray(v)) this.fail('APPEND to something that is not a list');
    return v as unknown[];
  }

  private dict(v: unknown): Map<string | number, unknown> {
    if (!(v instanceof Map)) this.fail('SETITEM on something that is not a dictionary');
    return v as Map<string | number, unknown>;
  }

  private put(index: number): void {
    if (this.memo.size >= MAX_MEMO && !this.memo.has(index)) this.fail('more memo entries than any checkpoint has');
    this.memo.set(index, this.top());
  }

  private get(index: number): unknown {
    if (!this.memo.has(index)) this.fail(`memo entry ${index} is read before it is written`);
    return this.memo.get(index);
  }

  private push(v: unknown): void {
    if (this.stack.length >= MAX_STACK) this.fail('a stack deeper than any checkpoint needs');
    this.stack.push(v);
  }

  /** The lowest stack index the current mark lets an opcode take from. */
  private floor(): number {
    return this.marks.length > 0 ? this.marks[this.marks.length - 1]! : 0;
  }

  private pop(): unknown {
    if (this.stack.length <= this.floor()) this.fail('an opcode takes a value from an empty stack');
    return this.stack.pop();
  }

  private top(): unknown {
    if (this.stack.length <= this.floor()) this.fail('an opcode needs a value on an empty stack');
    return this.stack[this.stack.length - 1];
  }

  /** The values pushed since the last MARK, removed with it. */
  private popMark(): unknown[] {
    const mark = this.marks.pop();
    if (mark === undefined) this.fail('an opcode needs a mark and there is none');
    return this.stack.splice(mark!);
  }

  private take<T>(n: number, read: (p: number) => T): T {
    if (this.pos + n > this.bytes.length) this.fail('the pickle ends in the middle of an opcode: it is truncated');
    const v = read(this.pos);
    this.pos += n;
    return v;
  }

  private u8(): number {
    return this.take(1, (p) => this.bytes[p]!);
  }

  private u32(): number {
    return this.take(4, (p) => this.view.getUint32(p, true));
  }

  /** An 8-byte length; anything beyond the bytes left is caught by the caller's own check. */
  private u64(): number {
    const v = this.take(8, (p) => this.view.getBigUint64(p, true));
    return v > BigInt(this.bytes.length) ? Number.MAX_SAFE_INTEGER : Number(v);
  }

  /** The next `n` bytes, refused when fewer are left (a crafted length cannot make anything large). */
  private slice(n: number): Uint8Array {
    if (n > this.bytes.length - this.pos) this.fail(`a length of ${n} runs past the end of the pickle`);
    const out = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  private text(n: number): string {
    const bytes = this.slice(n);
    try {
      return this.utf8.decode(bytes);
    } catch {
      return this.fail('a string that is not valid UTF-8');
    }
  }

  /** A newline-terminated ASCII name (GLOBAL's operands). */
  private line(): string {
    const end = this.bytes.indexOf(0x0a, this.pos);
    if (end < 0 || end - this.pos > 256) this.fail('a global name that does not end');
    return latin1(this.slice(end - this.pos + 1).subarray(0, -1));
  }

  /** A little-endian two's-complement integer of n bytes (LONG1, LONG4). */
  private long(n: number): number | bigint {
    if (n > MAX_LONG_BYTES) this.fail(`an integer of ${n} bytes, wider than any checkpoint holds`);
    const bytes = this.slice(n);
    let v = 0n;
    for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[i]!);
    if (n > 0 && bytes[n - 1]! & 0x80) v -= 1n << BigInt(8 * n);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  }
}

function latin1(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return s;
}
