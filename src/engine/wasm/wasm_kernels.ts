/**
 * The WebAssembly SIMD backend: the kernels of assembly/*.ts (compiled by scripts/build-wasm.mjs, embedded as
 * base64 in ./generated/kernels_wasm.ts) instantiated against the arena's memory, so they read and write
 * tensors in place: every kernel gets `view.byteOffset` as a pointer. Nothing here needs Node: it loads in a
 * browser too (use the async factory there; synchronous compilation is for Node or workers).
 *
 * Views not over the arena's current buffer (a plain Float32Array, say) are copied into a scratch block of the
 * arena, the kernel runs there, and the arrays it writes are copied back: correct, slower, rare.
 *
 * With `threads` above 1 (a shared arena, and a way to start workers: see threads.ts), the big kernels (the
 * products, attention, GELU, LayerNorm, same-shape adds and copies, AdamW, zeroing) are cut into chunks that
 * the threads take as they come free, where every output value is computed whole by one chunk, so the
 * results do not depend on the thread count.
 *
 * Scratch blocks (the matmul packing buffers, the attention kernels' packed operands, the copies above) come
 * from the arena and are kept. Taking one can grow the memory, which detaches every typed-array view made before it:
 * the engine re-reads `tensor.data` for every kernel call, and the wrappers here read every view's byteOffset
 * before allocating anything, so this is safe; a caller holding a view across kernel calls must re-read it
 * after `arena.generation` changes, as with any allocation.
 */
import { defaultArena, type Arena } from '../arena.js';
import type { Kernels } from '../backend.js';
import {
  KERNELS_WASM_RELAXED_SIMD,
  KERNELS_WASM_RELAXED_SIMD_SHARED,
  KERNELS_WASM_SIMD,
  KERNELS_WASM_SIMD_SHARED,
} from './generated/kernels_wasm.js';
import {
  CONTROL_BYTES,
  COUNTER_BYTES,
  counterSlots,
  MAX_CHUNKS,
  ThreadTeam,
  THREADED_KERNELS,
  type SpawnKernelWorker,
  type ThreadedKernel,
} from './thread_team.js';

type View = Float32Array | Int32Array;

/** The module's exports (assembly/index.ts); pointers are byte offsets into the arena, 0 for null. */
interface WasmExports {
  matmulStrided(
    out: number,
    ldc: number,
    a: number,
    ars: number,
    acs: number,
    b: number,
    brs: number,
    bcs: number,
    M: number,
    N: number,
    K: number,
    acc: number,
    packA: number,
    packB: number,
    whole: number,
    tag: number,
    shared: number,
  ): void;
  matmulPackABytes(): number;
  matmulPackBBytes(): number;
  matmulWholeBytes(shared: number, M: number, N: number, K: number): number;
  attentionScratchBytes(kind: number, T: number, hs: number): number;
  attentionForward(
    out: number,
    att: number,
    q: number,
    k: number,
    v: number,
    keep: number,
    B: number,
    T: number,
    nh: number,
    hs: number,
    scale: number,
    scratch: number,
    ld: number,
    h0: number,
    hn: number,
  ): void;
  attentionBackward(
    dq: number,
    dk: number,
    dv: number,
    dout: number,
    q: number,
    k: number,
    v: number,
    att: number,
    keep: number,
    B: number,
    T: number,
    nh: number,
    hs: number,
    scale: number,
    scratch: number,
    ld: number,
    accumulate: number,
  ): void;
  attentionCachedForward(
    out: number,
    q: number,
    kCache: number,
    vCache: number,
    B: number,
    Tq: number,
    Tmax: number,
    offset: number,
    nh: number,
    hs: number,
    scale: number,
    scratch: number,
  ): void;
  fillZero(out: number, n: number): void;
  copy(out: number, x: number, n: number): void;
  addSame(out: number, a: number, b: number, n: number): void;
  dropoutMask(out: number, n: number, threshold: number, keep: number, state: number): void;
  transpose(out: number, x: number, rows: number, cols: number, ldx: number, ldo: number): void;
  addForward(out: number, a: number, b: number, n: number, period: number): void;
  addBackward(da: number, db: number, dout: number, n: number, period: number): void;
  mulForward(out: number, x: number, mask: number, n: number): void;
  mulBackward(dx: number, dout: number, mask: number, n: number): void;
  biasForward(out: number, bias: number, M: number, N: number): void;
  biasBackward(dbias: number, dout: number, M: number, N: number): void;
  reluForward(out: number, x: number, n: number): void;
  reluBackward(dx: number, x: number, dout: number, n: number): void;
  geluForward(out: number, x: number, saved: number, n: number): void;
  geluBackward(dx: number, x: number, dout: number, saved: number, n: number, accumulate: number): void;
  embeddingForward(out: number, weight: number, idx: number, N: number, C: number): void;
  embeddingBackward(dweight: number, dout: number, idx: number, N: number, C: number): void;
  layernormForward(
    out: number,
    mean: number,
    rstd: number,
    x: number,
    weight: number,
    bias: number,
    N: number,
    C: number,
    eps: number,
  ): void;
  layernormBackwardParams(
    dweight: number,
    dbias: number,
    dout: number,
    x: number,
    mean: number,
    rstd: number,
    N: number,
    cols: number,
    ld: number,
  ): void;
  layernormBackwardInput(
    dx: number,
    dout: number,
    x: number,
    mean: number,
    rstd: number,
    weight: number,
    N: number,
    C: number,
    accumulate: number,
  ): void;
  softmaxForward(out: number, x: number, N: number, C: number): void;
  softmaxBackward(dx: number, y: number, dy: number, N: number, C: number): void;
  crossEntropyForward(lse: number, logits: number, targets: number, N: number, V: number): number;
  crossEntropyCount(): number;
  crossEntropyBackward(
    dlogits: number,
    logits: number,
    lse: number,
    targets: number,
    N: number,
    V: number,
    count: number,
    dloss: number,
  ): void;
  adamwStep(
    p: number,
    g: number,
    m: number,
    v: number,
    n: number,
    stepSize: number,
    decay: number,
    invBc2: number,
    beta1: number,
    beta2: number,
    eps: number,
    gradScale: number,
    zeroGrad: number,
  ): void;
  sumOfSquares(x: number, n: number): number;
}

export interface WasmKernelOptions {
  /**
   * Use the relaxed-SIMD build (fused multiply-add) when this engine validates it: true (the default) or false.
   * Node 20 validates it only after enableRelaxedSimd() (src/cli/wasm_flags.ts) or --experimental-wasm-relaxed-simd.
   */
  relaxed?: boolean;
  /**
   * Threads to compute on, the calling one included (default 1). More than 1 needs a shared arena
   * (Arena.shared) and `spawnWorker`, which starts a helper thread (src/threads/node_workers.ts for Node).
   * Results are the same bit for bit whatever the count: threads split work only where each output value is
   * computed whole by one thread.
   */
  threads?: number;
  spawnWorker?: SpawnKernelWorker;
}

/** Whether this JavaScript engine can run the SIMD kernels at all. */
export function wasmSimdSupported(): boolean {
  return WebAssembly.validate(decode(KERNELS_WASM_SIMD));
}

/** Which build createWasmKernels would pick: 'relaxed-simd' when allowed and validated, else 'simd'. */
export function wasmVariant(options: WasmKernelOptions = {}): 'simd' | 'relaxed-simd' {
  return chooseBytes(options).variant;
}

/** The WebAssembly SIMD kernels over `arena`'s memory (compiled asynchronously: works on a browser's main thread). */
export async function createWasmKernels(arena: Arena = defaultArena, options: WasmKernelOptions = {}): Promise<Kernels> {
  const module = await WebAssembly.compile(chooseBytes(options, arena.shared).bytes);
  const instance = await WebAssembly.instantiate(module, { env: { memory: arena.memory } });
  return wrap(instance.exports as unknown as WasmExports, arena, makeTeam(module, arena, options));
}

/**
 * The same, compiled synchronously: fine in Node and in workers; browsers refuse synchronous compilation of
 * modules this size on the main thread.
 */
export function createWasmKernelsSync(arena: Arena = defaultArena, options: WasmKernelOptions = {}): Kernels {
  const module = new WebAssembly.Module(chooseBytes(options, arena.shared).bytes);
  const instance = new WebAssembly.Instance(module, { env: { memory: arena.memory } });
  return wrap(instance.exports as unknown as WasmExports, arena, makeTeam(module, arena, options));
}

function makeTeam(module: WebAssembly.Module, arena: Arena, options: WasmKernelOptions): ThreadTeam | null {
  const threads = options.threads ?? 1;
  if (!Number.isInteger(threads) || threads < 1) throw new RangeError(`threads must be a whole number of at least 1, got ${threads}`);
  if (threads === 1) return null;
  if (!arena.shared) throw new Error('more than one thread needs a shared memory, which this JavaScript engine does not give');
  if (options.spawnWorker === undefined) throw new Error('more than one thread needs a spawnWorker function');
  const controls = Array.from({ length: threads - 1 }, () => arena.alloc(CONTROL_BYTES));
  const counters = arena.alloc(counterSlots(threads - 1) * COUNTER_BYTES);
  return new ThreadTeam(module, arena.memory, controls, counters, options.spawnWorker);
}

function chooseBytes(options: WasmKernelOptions, shared = false): { bytes: Uint8Array<ArrayBuffer>; variant: 'simd' | 'relaxed-simd' } {
  if (options.relaxed !== false) {
    const relaxed = decode(shared ? KERNELS_WASM_RELAXED_SIMD_SHARED : KERNELS_WASM_RELAXED_SIMD);
    if (WebAssembly.validate(relaxed)) return { bytes: relaxed, variant: 'relaxed-simd' };
  }
  const bytes = decode(shared ? KERNELS_WASM_SIMD_SHARED : KERNELS_WASM_SIMD);
  if (!WebAssembly.validate(bytes)) throw new Error('this JavaScript engine does not support WebAssembly SIMD');
  return { bytes, variant: 'simd' };
}

function decode(base64: string): Uint8Array<ArrayBuffer> {
  const s = atob(base64);
  const bytes = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) bytes[i] = s.charCodeAt(i);
  return bytes;
}

const ALIGN = 64;
const roundUp = (n: number) => Math.ceil(n / ALIGN) * ALIGN;

/** A block of the arena kept between calls and replaced by a bigger one when a call needs more. */
class Scratch {
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

/**
 * Turns views into pointers. `run(views, written, fn)` calls fn with the byte offsets of the views (0 for
 * null); a view outside the arena's current buffer is copied into scratch first and, if its bit is set in
 * `written`, copied back afterwards. The same foreign view passed twice gets one copy, so in-place calls work.
 */
class Bridge {
  private buffer: ArrayBuffer;
  private generation: number;
  private readonly copies: Scratch;

  constructor(private readonly arena: Arena) {
    this.buffer = arena.memory.buffer;
    this.generation = arena.generation;
    this.copies = new Scratch(arena);
  }

  run<R>(views: readonly (View | null)[], written: number, fn: (p: number[]) => R): R {
    if (this.generation !== this.arena.generation) {
      this.buffer = this.arena.memory.buffer;
      this.generation = this.arena.generation;
    }
    const p: number[] = new Array<number>(views.length);
    let foreign = false;
    for (let i = 0; i < views.length; i++) {
      const v = views[i]!;
      if (v === null) p[i] = 0;
      else if (v.buffer === this.buffer) p[i] = v.byteOffset;
      else if (v.buffer === (this.buffer = this.arena.memory.buffer))
        p[i] = v.byteOffset; // grown behind our back
      else if (this.arena.owns(v.buffer))
        p[i] = v.byteOffset; // a shared memory's earlier buffer: still valid
      else if (this.arena.isRetired(v.buffer)) {
        // Growing the memory detached this view: it reads as empty, and copying it would compute on garbage.
        throw new Error('a kernel was given a typed-array view detached by memory growth; take tensor.data after allocating');
      } else {
        p[i] = -1;
        foreign = true;
      }
    }
    if (!foreign) return fn(p);
    return this.runWithCopies(views, written, p, fn);
  }

  private runWithCopies<R>(views: readonly (View | null)[], written: number, p: number[], fn: (p: number[]) => R): R {
    // Offsets of arena views are already in p: from here on allocating (and so growing) is safe.
    // slot[i]: offset in the copy block of a foreign view's first occurrence; a repeat shares it, and its
    // written bit moves to the first occurrence.
    let bytes = 0;
    const slot = new Array<number>(views.length).fill(-1);
    for (let i = 0; i < views.length; i++) {
      if (p[i] !== -1) continue;
      const first = views.indexOf(views[i]!);
      if (first < i) {
        if (written & (1 << i)) written |= 1 << first;
        continue;
      }
      slot[i] = bytes;
      bytes += roundUp(views[i]!.byteLength);
    }
    const base = this.copies.get(bytes);
    let mem = new Uint8Array(this.arena.memory.buffer);
    for (let i = 0; i < views.length; i++) {
      if (p[i] !== -1) continue;
      const v = views[i]!;
      if (slot[i] === -1) {
        p[i] = p[views.indexOf(v)]!;
        continue;
      }
      p[i] = base + slot[i]!;
      mem.set(new Uint8Array(v.buffer, v.byteOffset, v.byteLength), p[i]!);
    }
    const result = fn(p);
    mem = new Uint8Array(this.arena.memory.buffer); // fn may have grown the memory
    for (let i = 0; i < views.length; i++) {
      if (slot[i] === -1 || (written & (1 << i)) === 0) continue;
      const v = views[i]!;
      new Uint8Array(v.buffer, v.byteOffset, v.byteLength).set(mem.subarray(p[i]!, p[i]! + v.byteLength));
    }
    return result;
  }
}

/** Bit masks of written arguments, by position. */
const W0 = 1,
  W1 = 2,
  W2 = 4,
  W3 = 8;

/** Products smaller than this many multiply-adds stay on one thread: handing work over costs a few microseconds. */
const PARALLEL_MIN_MACS = 1 << 17;
/** Which operand the chunks of a split product share (assembly/matmul.ts): B for chunks of rows, A for columns. */
const SHARED_B = 1,
  SHARED_A = 2;
/** A shared operand is packed whole once per thread only up to this size; past it, each chunk packs its own. */
const MAX_WHOLE_BYTES = 16 << 20;
/** Elementwise calls shorter than this stay on one thread. */
const PARALLEL_MIN_ELEMENTS = 1 << 14;

/**
 * Where a call over `total` units is cut for `threads` threads (see threads.ts): one big chunk per thread,
 * together 80% of the work, then chunks of 1 / (2 threads) of what is left each time (guided scheduling: a
 * quarter on two threads), down to 2% of the work, so whoever finishes last has little left to do when the
 * others are done. A product's chunks all need the same other operand: each thread packs it once per call,
 * into a copy of its own (one copy shared by all threads measured 3 to 9% slower; one per chunk, 7 to 10%
 * slower than one per thread). Cuts fall on multiples of `align` (the kernels' vectors and tiles); where they
 * fall changes no bit of any result.
 */
export function chunkCuts(total: number, align: number, threads: number): number[] {
  const units = Math.ceil(total / align);
  const t = Math.min(threads, MAX_CHUNKS / 2); // past that, threads share the big chunks too
  const big = Math.max(1, Math.floor((0.8 * units) / t));
  const smallest = Math.max(1, Math.floor(0.02 * units));
  const cuts = [0];
  let u = 0;
  const cut = (size: number) => {
    u = Math.min(units, u + size);
    cuts.push(Math.min(total, u * align));
  };
  for (let i = 0; i < t && u < units; i++) cut(big);
  while (u < units) cut(cuts.length === MAX_CHUNKS ? units - u : Math.max(smallest, Math.ceil((units - u) / (2 * t))));
  return cuts;
}

function wrap(ex: WasmExports, arena: Arena, team: ThreadTeam | null): Kernels {
  const bridge = new Bridge(arena);
  const threads = 1 + (team?.helpers ?? 0);
  // Per thread: the matmul packing buffers (fixed sizes: the kernels block by them), taken once, and the
  // attention kernels' packed operands (and the backward's dS), sized per call and kept.
  const packA = Array.from({ length: threads }, () => arena.alloc(ex.matmulPackABytes()));
  const packB = Array.from({ length: threads }, () => arena.alloc(ex.matmulPackBBytes()));
  const whole = Array.from({ length: threads }, () => new Scratch(arena));
  const wholeAt = whole.map(() => -1);
  let wholeTag = 0; // tells a thread's packed operand from one packed for an earlier call
  /**
   * Thread t's buffer for a shared operand packed whole, or 0 past MAX_WHOLE_BYTES. The tag word at its
   * start is cleared whenever the buffer is new (whatever the arena held there might read as a later tag).
   */
  const wholeBuffer = (t: number, bytes: number): number => {
    if (bytes > MAX_WHOLE_BYTES) return 0;
    const at = whole[t]!.get(bytes);
    if (at !== wholeAt[t]) {
      new Int32Array(arena.memory.buffer, at, 1)[0] = 0;
      wholeAt[t] = at;
    }
    return at;
  };
  /** A tag no buffer holds yet; after 2^31 - 1 calls the tags start again, and every buffer is cleared. */
  const nextWholeTag = (): number => {
    if (wholeTag === 0x7fffffff) {
      wholeTag = 0;
      wholeAt.fill(-1);
    }
    return ++wholeTag;
  };
  const attention = Array.from({ length: threads }, () => new Scratch(arena));
  const rngState = new Scratch(arena);
  const local = THREADED_KERNELS.map((name) => ex[name] as (...a: number[]) => void);
  const index = (name: ThreadedKernel) => THREADED_KERNELS.indexOf(name);
  const MATMUL = index('matmulStrided'),
    ATTENTION_F = index('attentionForward'),
    ATTENTION_B = index('attentionBackward');
  const GELU_F = index('geluForward'),
    GELU_B = index('geluBackward'),
    FILL_ZERO = index('fillZero');
  const LAYERNORM_F = index('layernormForward'),
    ADAMW = index('adamwStep'),
    COPY = index('copy'),
    ADD = index('addSame');
  const TRANSPOSE = index('transpose');
  const LAYERNORM_BP = index('layernormBackwardParams'),
    LAYERNORM_BI = index('layernormBackwardInput');

  /**
   * Runs a call over `total` units (rows, columns, elements) on all threads, in chunks cut at multiples of
   * `align` (chunkCuts): args(t) are thread t's arguments for the whole call, and a chunk moves argument i by
   * deltas[i] per unit and puts its unit count in argument sizeIndex. Returns when every chunk is done.
   * Scratch for every thread must be taken before: taking it may grow the memory.
   */
  const split = (
    kernel: number,
    total: number,
    align: number,
    args: (t: number) => number[],
    deltas: number[],
    sizeIndex: number,
  ): void => {
    team!.run({ kernel, args, deltas, sizeIndex, cuts: chunkCuts(total, align, threads) }, local[kernel]!);
  };

  /**
   * A kernel over `total` independent units (rows, elements), split across the threads when `parallel`:
   * argument sizeIndex is the unit count, and argument i moves by deltas[i] bytes per unit. Parts start on
   * multiples of `align` units, so an elementwise kernel's vector loop covers the same elements as in one call.
   */
  const blocks = (
    kernel: number,
    args: number[],
    sizeIndex: number,
    total: number,
    deltas: number[],
    align: number,
    parallel: boolean,
  ): void => {
    if (threads === 1 || !parallel) {
      local[kernel]!(...args);
      return;
    }
    split(kernel, total, align, () => args, deltas, sizeIndex);
  };

  /** An elementwise kernel (pointers..., n, ...flags) over n floats. */
  const elementwise = (kernel: number, pointers: number[], n: number, flags: number[] = []): void =>
    blocks(
      kernel,
      [...pointers, n, ...flags],
      pointers.length,
      n,
      [...pointers.map((p) => (p === 0 ? 0 : 4)), 0, ...flags.map(() => 0)],
      16,
      n >= PARALLEL_MIN_ELEMENTS,
    );

  const matmul =
    (layout: number) =>
    (out: Float32Array, a: Float32Array, b: Float32Array, M: number, N: number, K: number, accumulate: boolean): void =>
      bridge.run([out, a, b], W0, (p) => {
        let ars = K,
          acs = 1,
          brs = 1,
          bcs = K; // NT: a [M, K], b [N, K]
        if (layout === 1) {
          brs = N; // NN: b [K, N]
          bcs = 1;
        } else if (layout === 2) {
          ars = 1; // TN: a [K, M], b [K, N]
          acs = M;
          brs = N;
          bcs = 1;
        }
        const acc = accumulate ? 1 : 0;
        const o = p[0]!,
          pa = p[1]!,
          pb = p[2]!;
        if (threads === 1 || M * N * K < PARALLEL_MIN_MACS) {
          ex.matmulStrided(o, N, pa, ars, acs, pb, brs, bcs, M, N, K, acc, packA[0]!, packB[0]!, 0, 0, 0);
          return;
        }
        // Blocks of whole micro-tiles (4 rows, 8 columns) along the longer side; each thread packs the operand
        // its chunks share once.
        const byRows = M >= N;
        const shared = byRows ? SHARED_B : SHARED_A;
        const bytes = ex.matmulWholeBytes(shared, M, N, K);
        const tag = nextWholeTag();
        const packed = whole.map((_, t) => wholeBuffer(t, bytes));
        const args = (t: number) => [o, N, pa, ars, acs, pb, brs, bcs, M, N, K, acc, packA[t]!, packB[t]!, packed[t]!, tag, shared];
        const fixed = [0, 0, 0, 0, 0, 0, 0, 0, 0];
        if (byRows) split(MATMUL, M, 4, args, [N * 4, 0, ars * 4, 0, 0, 0, 0, 0, ...fixed], 8);
        else split(MATMUL, N, 8, args, [4, 0, 0, 0, 0, bcs * 4, 0, 0, ...fixed], 9);
      });

  /**
   * Attention split by batch rows: per row b, q, k, v (and their gradients) start at b * T * ld floats, out
   * and dout at b * T * C, att and keep at b * nh * T * T. `layout` says which each pointer of p is: 'i'
   * (q, k, v), 'o' (out) or 'a' (att).
   */
  const attentionSplit = (
    kernel: number,
    kind: number,
    p: number[],
    layout: string,
    B: number,
    T: number,
    nh: number,
    hs: number,
    scale: number,
    ld: number,
    flags: number[] = [],
  ): void => {
    const bytes = ex.attentionScratchBytes(kind, T, hs);
    // The forward of a single sequence (sampling past the context) splits by heads instead, when long enough
    // to pay for it (its products come to about T^2 hs nh multiply-adds): flags are its first head and count.
    const byHeads = B === 1 && kernel === ATTENTION_F && nh > 1 && T * T * hs * nh >= PARALLEL_MIN_MACS;
    const parallel = threads > 1 && (B > 1 || byHeads);
    // Any thread may take a chunk: each needs its scratch.
    const scratch = Array.from({ length: parallel ? threads : 1 }, (_, t) => attention[t]!.get(bytes));
    const args = (t: number) => [...p, B, T, nh, hs, scale, scratch[t]!, ld, ...flags];
    if (!parallel) {
      local[kernel]!(...args(0));
      return;
    }
    const fixed = [...p.map(() => 0), 0, 0, 0, 0, 0, 0, 0];
    if (byHeads) {
      split(kernel, nh, 1, args, [...fixed, 1, 0], fixed.length + 1);
      return;
    }
    const rowBytes = { i: T * ld * 4, o: T * nh * hs * 4, a: nh * T * T * 4 } as Record<string, number>;
    const deltas = [...p.map((q, i) => (q === 0 ? 0 : rowBytes[layout[i]!]!)), 0, 0, 0, 0, 0, 0, 0, ...flags.map(() => 0)];
    split(kernel, B, 1, args, deltas, p.length);
  };

  return {
    name: 'wasm-simd',
    threads,
    dispose: () => team?.dispose(),
    matmulNT: matmul(0),
    matmulNN: matmul(1),
    matmulTN: matmul(2),
    fillZero: (out, n) => bridge.run([out], W0, (p) => elementwise(FILL_ZERO, p, n)),
    copy: (out, x, n) => bridge.run([out, x], W0, (p) => elementwise(COPY, p, n)),
    dropoutMask: (out, n, p, state) => {
      // The state words go through a small block of the arena and back (the Rng keeps its own array).
      const words = rngState.get(16);
      const view = new Uint32Array(arena.memory.buffer, words, 4);
      view.set(state);
      bridge.run([out], W0, (q) => ex.dropoutMask(q[0]!, n, p * 4294967296, 1 / (1 - p), words));
      state.set(new Uint32Array(arena.memory.buffer, words, 4));
    },
    // By blocks of x's rows (4 at a time, whole 4x4 blocks), which are blocks of out's columns.
    transpose: (out, x, rows, cols) =>
      bridge.run([out, x], W0, (p) =>
        blocks(
          TRANSPOSE,
          [p[0]!, p[1]!, rows, cols, cols, rows],
          2,
          rows,
          [4, cols * 4, 0, 0, 0, 0],
          4,
          rows * cols >= PARALLEL_MIN_ELEMENTS,
        ),
      ),
    biasForward: (out, bias, M, N) => bridge.run([out, bias], W0, (p) => ex.biasForward(p[0]!, p[1]!, M, N)),
    biasBackward: (dbias, dout, M, N) => bridge.run([dbias, dout], W0, (p) => ex.biasBackward(p[0]!, p[1]!, M, N)),
    // Same shapes (the residual stream) go through addSame, which threads split; a repeating operand does not.
    addForward: (out, a, b, n, period) =>
      bridge.run([out, a, b], W0, (p) => (period === n ? elementwise(ADD, p, n) : ex.addForward(p[0]!, p[1]!, p[2]!, n, period))),
    addBackward: (da, db, dout, n, period) =>
      bridge.run([da, db, dout], W0 | W1, (p) => {
        if (period !== n) {
          ex.addBackward(p[0]!, p[1]!, p[2]!, n, period);
          return;
        }
        if (p[0] !== 0) elementwise(ADD, [p[0]!, p[0]!, p[2]!], n);
        if (p[1] !== 0) elementwise(ADD, [p[1]!, p[1]!, p[2]!], n);
      }),
    mulForward: (out, x, mask, n) => bridge.run([out, x, mask], W0, (p) => ex.mulForward(p[0]!, p[1]!, p[2]!, n)),
    mulBackward: (dx, dout, mask, n) => bridge.run([dx, dout, mask], W0, (p) => ex.mulBackward(p[0]!, p[1]!, p[2]!, n)),
    embeddingForward: (out, weight, idx, N, C) => bridge.run([out, weight, idx], W0, (p) => ex.embeddingForward(p[0]!, p[1]!, p[2]!, N, C)),
    embeddingBackward: (dweight, dout, idx, N, C) =>
      bridge.run([dweight, dout, idx], W0, (p) => ex.embeddingBackward(p[0]!, p[1]!, p[2]!, N, C)),
    // By rows: out and x move C floats a row, mean and rstd one; weight and bias stay.
    layernormForward: (out, mean, rstd, x, weight, bias, N, C, eps) =>
      bridge.run([out, mean, rstd, x, weight, bias], W0 | W1 | W2, (p) =>
        blocks(LAYERNORM_F, [...p, N, C, eps], 6, N, [C * 4, 4, 4, C * 4, 0, 0, 0, 0, 0], 1, N * C >= PARALLEL_MIN_ELEMENTS),
      ),
    // The input gradient by rows; the weight's and bias's by columns (each column's rows summed in order).
    layernormBackward: (dx, dweight, dbias, dout, x, mean, rstd, weight, N, C, accumulateDx = true) =>
      bridge.run([dx, dweight, dbias, dout, x, mean, rstd, weight], W0 | W1 | W2, (p) => {
        const [pdx, pdw, pdb, pdo, px, pm, pr, pw] = p as [number, number, number, number, number, number, number, number];
        const parallel = N * C >= PARALLEL_MIN_ELEMENTS;
        if (pdw !== 0 || pdb !== 0) {
          blocks(
            LAYERNORM_BP,
            [pdw, pdb, pdo, px, pm, pr, N, C, C],
            7,
            C,
            [pdw === 0 ? 0 : 4, pdb === 0 ? 0 : 4, 4, 4, 0, 0, 0, 0, 0],
            4,
            parallel && C >= 64,
          );
        }
        if (pdx !== 0) {
          blocks(
            LAYERNORM_BI,
            [pdx, pdo, px, pm, pr, pw, N, C, accumulateDx ? 1 : 0],
            6,
            N,
            [C * 4, C * 4, C * 4, 4, 4, 0, 0, 0, 0],
            1,
            parallel,
          );
        }
      }),
    reluForward: (out, x, n) => bridge.run([out, x], W0, (p) => ex.reluForward(p[0]!, p[1]!, n)),
    reluBackward: (dx, x, dout, n) => bridge.run([dx, x, dout], W0, (p) => ex.reluBackward(p[0]!, p[1]!, p[2]!, n)),
    geluForward: (out, x, n, saved = null) => bridge.run([out, x, saved], W0 | W2, (p) => elementwise(GELU_F, p, n)),
    geluBackward: (dx, x, dout, n, accumulate = true, saved = null) =>
      bridge.run([dx, x, dout, saved], W0, (p) => elementwise(GELU_B, p, n, [accumulate ? 1 : 0])),
    softmaxForward: (out, x, N, C) => bridge.run([out, x], W0, (p) => ex.softmaxForward(p[0]!, p[1]!, N, C)),
    softmaxBackward: (dx, y, dy, N, C) => bridge.run([dx, y, dy], W0, (p) => ex.softmaxBackward(p[0]!, p[1]!, p[2]!, N, C)),
    attentionForward: (out, att, q, k, v, keep, B, T, nh, hs, scale, ld = nh * hs) =>
      bridge.run([out, att, q, k, v, keep], W0 | W1, (p) => attentionSplit(ATTENTION_F, 0, p, 'oaiiia', B, T, nh, hs, scale, ld, [0, nh])),
    attentionBackward: (dq, dk, dv, dout, q, k, v, att, keep, B, T, nh, hs, scale, ld = nh * hs, accumulate = true) =>
      bridge.run([dq, dk, dv, dout, q, k, v, att, keep], W0 | W1 | W2, (p) =>
        attentionSplit(ATTENTION_B, 1, p, 'iiioiiiaa', B, T, nh, hs, scale, ld, [accumulate ? 1 : 0]),
      ),
    // `row` is the caller's scratch (often a plain array, which would be copied in and out): ours serves instead.
    attentionCachedForward: (out, q, kCache, vCache, _row, B, Tq, Tmax, offset, nh, hs, scale) =>
      bridge.run([out, q, kCache, vCache], W0, (p) =>
        ex.attentionCachedForward(
          p[0]!,
          p[1]!,
          p[2]!,
          p[3]!,
          B,
          Tq,
          Tmax,
          offset,
          nh,
          hs,
          scale,
          attention[0]!.get(ex.attentionScratchBytes(2, offset + Tq, hs)),
        ),
      ),
    crossEntropyForward: (lse, logits, targets, N, V) =>
      bridge.run([lse, logits, targets], W0, (p) => {
        const total = ex.crossEntropyForward(p[0]!, p[1]!, p[2]!, N, V);
        const count = ex.crossEntropyCount();
        return { loss: count === 0 ? NaN : total / count, count };
      }),
    crossEntropyBackward: (dlogits, logits, lse, targets, N, V, count, dloss) =>
      bridge.run([dlogits, logits, lse, targets], W0, (p) => ex.crossEntropyBackward(p[0]!, p[1]!, p[2]!, p[3]!, N, V, count, dloss)),
    adamwStep: (p_, g, m, v, n, lr, beta1, beta2, eps, weightDecay, step, gradScale, zeroGrad = false) => {
      const stepSize = lr / (1 - Math.pow(beta1, step));
      const invBc2 = 1 / Math.sqrt(1 - Math.pow(beta2, step));
      const decay = 1 - lr * weightDecay;
      bridge.run([p_, g, m, v], W0 | (zeroGrad ? W1 : 0) | W2 | W3, (p) =>
        blocks(
          ADAMW,
          [...p, n, stepSize, decay, invBc2, beta1, beta2, eps, gradScale, zeroGrad ? 1 : 0],
          4,
          n,
          [4, 4, 4, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0],
          16,
          n >= PARALLEL_MIN_ELEMENTS,
        ),
      );
    },
    sumOfSquares: (x, n) => bridge.run([x], 0, (p) => ex.sumOfSquares(p[0]!, n)),
  };
}
