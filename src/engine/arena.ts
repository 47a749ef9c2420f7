/**
 * The arena: every tensor's bytes live in one WebAssembly.Memory, so that a WebAssembly kernel can later read
 * and write tensors in place, with no copies (llm.c keeps parameters and activations in one allocation each for
 * the same reason: every byte the model uses is visible and accounted for).
 *
 * A freed block is first kept for its exact size: a training step asks for the same sizes in the same order
 * every step, so after the first step it is served from these lists and the memory stops growing. Freed
 * blocks also merge with free neighbours (and a free block at the top gives its bytes back to the untouched
 * tail), and a request no list fits exactly takes the smallest free block big enough, splitting it: so shapes
 * that change every call (sampling, whose context grows a token at a time) reuse memory instead of growing it.
 */
/** Blocks start on 64-byte boundaries: a cache line, and a multiple of any SIMD width we will use. */
const ALIGN = 64;
const PAGE = 65536;
/**
 * The first page is never handed out: a WebAssembly kernel module that imports this memory keeps its own
 * constants and scratch there. It also means offset 0 can stand for "no block".
 */
export const RESERVED_BYTES = PAGE;

export interface ArenaOptions {
  initialBytes?: number;
  maximumBytes?: number;
  /**
   * A shared memory (over a SharedArrayBuffer), which worker threads can compute in: the WebAssembly backend's
   * threads need it. 'auto' (the default) takes one where this JavaScript engine allows it (Node; a browser
   * page only when cross-origin isolated) and a plain one elsewhere.
   */
  shared?: boolean | 'auto';
}

export class Arena {
  readonly memory: WebAssembly.Memory;
  /** Whether the memory is shared: then growing keeps old views valid (they just do not see the new pages). */
  readonly shared: boolean;
  /** Bumped whenever the memory grows: growing a plain memory detaches every typed-array view made before it. */
  generation = 0;
  private top = RESERVED_BYTES;
  /** Free blocks by size, and by where they start and end (for merging neighbours). */
  private readonly freeBySize = new Map<number, Set<number>>();
  private readonly freeAt = new Map<number, number>(); // start -> size
  private readonly freeEnding = new Map<number, number>(); // end -> start
  /** At least the size of the largest free block: requests above it skip the search. */
  private largestFree = 0;
  private bytesInUse = 0;
  /** The buffers the memory had before it grew. */
  private readonly earlier = new WeakSet<ArrayBufferLike>();

  constructor(options: ArenaOptions = {}) {
    const initial = Math.ceil((options.initialBytes ?? 1 << 24) / PAGE);
    const maximum = Math.floor((options.maximumBytes ?? 4 * 1024 * 1024 * 1024 - PAGE) / PAGE);
    const shared = options.shared ?? 'auto';
    let memory: WebAssembly.Memory | null = null;
    if (shared !== false) {
      try {
        memory = new WebAssembly.Memory({ initial, maximum, shared: true });
        // Browsers that are not cross-origin isolated may make one but cannot share it: treat as unshared.
        if (typeof SharedArrayBuffer === 'undefined' || !(memory.buffer instanceof SharedArrayBuffer)) memory = null;
      } catch (e) {
        if (shared === true) throw e;
      }
      if (memory === null && shared === true) throw new Error('this JavaScript engine cannot make a shared WebAssembly.Memory');
    }
    this.memory = memory ?? new WebAssembly.Memory({ initial, maximum });
    this.shared = memory !== null;
  }

  /** Reserves `bytes` bytes (rounded up to the alignment) and returns the block's byte offset. Contents are not cleared. */
  alloc(bytes: number): number {
    const size = roundUp(Math.max(bytes, 1), ALIGN);
    const exact = this.freeBySize.get(size);
    let offset = -1;
    if (exact !== undefined && exact.size > 0) offset = this.takeFree(exact.values().next().value!, size);
    else {
      const fit = this.smallestFreeAtLeast(size);
      if (fit !== -1) {
        const blockSize = this.freeAt.get(fit)!;
        offset = this.takeFree(fit, blockSize);
        if (blockSize > size) this.addFree(fit + size, blockSize - size);
      }
    }
    if (offset === -1) offset = this.fromTop(size);
    this.bytesInUse += size;
    return offset;
  }

  /** Returns a block taken by alloc(bytes) to the arena. */
  release(offset: number, bytes: number): void {
    const size = roundUp(Math.max(bytes, 1), ALIGN);
    this.bytesInUse -= size;
    let start = offset,
      end = offset + size;
    const before = this.freeEnding.get(start);
    if (before !== undefined) {
      this.takeFree(before, start - before);
      start = before;
    }
    const afterSize = this.freeAt.get(end);
    if (afterSize !== undefined) {
      this.takeFree(end, afterSize);
      end += afterSize;
    }
    if (end === this.top)
      this.top = start; // back to the untouched tail
    else this.addFree(start, end - start);
  }

  /** Bytes in live blocks, and bytes the memory spans (live plus free blocks plus the untouched tail). */
  stats(): { inUse: number; reserved: number; capacity: number } {
    return { inUse: this.bytesInUse, reserved: this.top, capacity: this.memory.buffer.byteLength };
  }

  private addFree(start: number, size: number): void {
    let set = this.freeBySize.get(size);
    if (set === undefined) this.freeBySize.set(size, (set = new Set()));
    set.add(start);
    if (size > this.largestFree) this.largestFree = size;
    this.freeAt.set(start, size);
    this.freeEnding.set(start + size, start);
  }

  /** Removes a free block from the lists and returns its start. */
  private takeFree(start: number, size: number): number {
    const set = this.freeBySize.get(size)!;
    set.delete(start);
    if (set.size === 0) this.freeBySize.delete(size);
    this.freeAt.delete(start);
    this.freeEnding.delete(start + size);
    return start;
  }

  /** Start of a free block of the smallest size of at least `size` bytes, or -1. */
  private smallestFreeAtLeast(size: number): number {
    if (size > this.largestFree) return -1;
    let bestSize = Infinity,
      largest = 0;
    for (const s of this.freeBySize.keys()) {
      if (s >= size && s < bestSize) bestSize = s;
      if (s > largest) largest = s;
    }
    this.largestFree = largest;
    return bestSize === Infinity ? -1 : this.freeBySize.get(bestSize)!.values().next().value!;
  }

  /** A new block from the untouched tail, growing the memory if needed. */
  private fromTop(size: number): number {
    const offset = this.top;
    this.top += size;
    const needed = this.top - this.memory.buffer.byteLength;
    if (needed > 0) {
      // Grow by at least half again, so a model that allocates tensor by tensor grows O(log n) times.
      const pages = Math.max(Math.ceil(needed / PAGE), Math.ceil(this.memory.buffer.byteLength / PAGE / 2));
      const old = this.memory.buffer;
      try {
        this.memory.grow(pages);
      } catch {
        this.top -= size;
        throw new RangeError(`tensor arena out of memory: cannot grow to ${this.top + size} bytes`);
      }
      this.earlier.add(old);
      this.generation++;
    }
    return offset;
  }

  /**
   * Whether a buffer is one this arena's plain memory had before it grew: views over it are detached and empty.
   * A shared memory's earlier buffers are never retired.
   */
  isRetired(buffer: ArrayBufferLike): boolean {
    return !this.shared && this.earlier.has(buffer);
  }

  /** Whether a view over `buffer` addresses this arena's memory (at its own byteOffset): current or earlier shared buffer. */
  owns(buffer: ArrayBufferLike): boolean {
    return buffer === this.memory.buffer || (this.shared && this.earlier.has(buffer));
  }
}

function roundUp(n: number, multiple: number): number {
  return Math.ceil(n / multiple) * multiple;
}

/** The arena every tensor uses unless told otherwise. */
export const defaultArena = new Arena();
