/**
 * From a kernel's JavaScript arguments to a WebAssembly call's: every view becomes its byte offset in the
 * arena's memory (the kernels read and write tensors in place), null becomes 0, a flag 0 or 1; numbers pass
 * as they are. What an argument is comes from its role in the kernel table.
 *
 * A view outside the arena (a plain Float32Array, a generator's state words) is copied into a block of the
 * arena, the kernel runs there, and what the kernel writes (roles out, out?, idsOut, state) is copied back:
 * correct, slower, rare. The same foreign view passed twice gets one copy, so in-place calls work.
 *
 * Taking memory can grow it, which detaches every typed-array view made before: offsets are read before
 * anything is allocated, and views are made afresh after.
 */
import type { Arena } from '../arena.js';
import type { Role } from '../kernel_table.js';

type View = Float32Array | Int32Array | Uint32Array;

const ALIGN = 64;
const roundUp = (n: number) => Math.ceil(n / ALIGN) * ALIGN;

/** A block of the arena kept between calls and replaced by a bigger one when a call needs more. */
export class Scratch {
  offset = 0;
  bytes = 0;
  constructor(private readonly arena: Arena) {}

  /** Byte offset of a block of at least `bytes` bytes (may grow the memory: read view offsets first). */
  get(bytes: number): number {
    if (bytes > this.bytes) {
      if (this.bytes > 0) this.arena.release(this.offset, this.bytes);
      // Grow geometrically so a run of slightly larger requests does not reallocate each time.
      const size = roundUp(Math.max(bytes, this.bytes * 1.5));
      this.offset = this.arena.alloc(size);
      this.bytes = size;
    }
    return this.offset;
  }
}

/** How the bridge treats an argument of each role. */
const IS_VIEW: Record<Role, boolean> = {
  out: true,
  'out?': true,
  in: true,
  'in?': true,
  ids: true,
  idsOut: true,
  state: true,
  int: false,
  float: false,
  bool: false,
};
const IS_WRITTEN: Record<Role, boolean> = { ...IS_VIEW, in: false, 'in?': false, ids: false };

/** A foreign view's copy: the argument it was for, where it sits in the copy block, whether it is written. */
interface Copy {
  index: number;
  at: number;
  written: boolean;
}

export class Bridge {
  private buffer: ArrayBuffer;
  private generation: number;
  private readonly copies: Scratch;

  constructor(private readonly arena: Arena) {
    this.buffer = arena.memory.buffer;
    this.generation = arena.generation;
    this.copies = new Scratch(arena);
  }

  /**
   * Calls fn with the arguments as numbers (see the top of the file), copying foreign views in and written
   * ones back, and returns what fn returns.
   */
  run<R>(args: readonly unknown[], roles: readonly Role[], fn: (p: number[]) => R): R {
    if (this.generation !== this.arena.generation) {
      this.buffer = this.arena.memory.buffer;
      this.generation = this.arena.generation;
    }
    const p = new Array<number>(args.length);
    let foreign = false;
    for (let i = 0; i < args.length; i++) {
      const a = args[i];
      const role = roles[i]!;
      if (!IS_VIEW[role]) p[i] = role === 'bool' ? (a ? 1 : 0) : (a as number);
      else if (a === null) p[i] = 0;
      else {
        const offset = this.offsetOf(a as View);
        if (offset < 0) foreign = true;
        p[i] = offset;
      }
    }
    return foreign ? this.runWithCopies(args as readonly (View | null)[], roles, p, fn) : fn(p);
  }

  /** The view's byte offset in the arena, or -1 for a view of another buffer. */
  private offsetOf(v: View): number {
    if (v.buffer === this.buffer) return v.byteOffset;
    if (v.buffer === (this.buffer = this.arena.memory.buffer)) return v.byteOffset; // grown behind our back
    if (this.arena.owns(v.buffer)) return v.byteOffset; // a shared memory's earlier buffer: still valid
    if (this.arena.isRetired(v.buffer)) {
      // Growing the memory detached this view: it reads as empty, and copying it would compute on garbage.
      throw new Error('a kernel was given a typed-array view detached by memory growth; take tensor.data after allocating');
    }
    return -1;
  }

  private runWithCopies<R>(views: readonly (View | null)[], roles: readonly Role[], p: number[], fn: (p: number[]) => R): R {
    // Offsets of arena views are already in p: from here on allocating (and so growing) is safe.
    const copies: Copy[] = [];
    let bytes = 0;
    for (let i = 0; i < views.length; i++) {
      if (p[i] !== -1) continue;
      const first = views.indexOf(views[i]!);
      const earlier = copies.find((c) => c.index === first);
      if (earlier !== undefined) {
        earlier.written ||= IS_WRITTEN[roles[i]!];
        continue;
      }
      copies.push({ index: i, at: bytes, written: IS_WRITTEN[roles[i]!] });
      bytes += roundUp(views[i]!.byteLength);
    }
    const base = this.copies.get(bytes);
    let memory = new Uint8Array(this.arena.memory.buffer);
    for (const c of copies) {
      const v = views[c.index]!;
      memory.set(new Uint8Array(v.buffer, v.byteOffset, v.byteLength), base + c.at);
    }
    for (let i = 0; i < views.length; i++) {
      if (p[i] === -1) p[i] = base + copies.find((c) => c.index === views.indexOf(views[i]!))!.at;
    }
    const result = fn(p);
    memory = new Uint8Array(this.arena.memory.buffer); // fn may have grown the memory
    for (const c of copies) {
      if (!c.written) continue;
      const v = views[c.index]!;
      new Uint8Array(v.buffer, v.byteOffset, v.byteLength).set(memory.subarray(base + c.at, base + c.at + v.byteLength));
    }
    return result;
  }
}
