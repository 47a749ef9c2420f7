/**
 * Threads for the WebAssembly kernels: helper workers, each with its own instance of the same kernel module
 * over the same shared memory, that share a kernel call with the calling thread.
 *
 * A call is cut into chunks (blocks of rows, columns, elements), and every thread takes chunks one at a time
 * from a shared counter until none are left: big ones first, one per thread, then small ones, so a thread
 * that starts late or runs slow (the machine has other work; the OS may take the core away for a
 * millisecond) leaves the others little to wait for. Whoever computes a chunk, it computes whole outputs,
 * so results do not depend on the thread count or on who took what.
 *
 * A helper is told of a call through a small control block in the arena: the calling thread writes the
 * kernel's index, the arguments of the whole call, how each argument moves per unit, and the chunks' cuts,
 * then bumps the block's sequence number; the helper, spinning on that number (and, after a while idle,
 * sleeping in Atomics.wait), takes chunks, then writes the sequence number into the block's done word.
 * Spinning first matters: waking a sleeping thread costs about 63 us, a chunk tens to hundreds. The caller
 * waits for the chunks to be done, not for the helpers: a helper that has not even started gets no work and
 * is not waited for (it is given no new call until it has finished the old one, so it never takes a chunk of
 * a call it was not given). No messages pass after start-up.
 *
 * Nothing here needs Node: the host gives a function that starts a worker running serveKernels (see
 * src/threads/ for Node's). Waiting with Atomics.wait is refused on a browser page's main thread; there the
 * caller spins instead.
 */

import { KERNEL_NAMES, KERNEL_TABLE } from '../kernel_table.js';

/** The kernels helpers may run, by index: those whose row in the kernel table says how to split them. */
export const THREADED_KERNELS = KERNEL_NAMES.filter((name) => KERNEL_TABLE[name].split !== undefined);

/** What a helper worker is started with (structured-cloneable: a compiled module and a shared memory). */
export interface KernelWorkerInit {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  /** Byte offset of this helper's control block in the memory. */
  control: number;
  /** Byte offset of the team's chunk counters (COUNTER_BYTES each), shared by all its threads. */
  counters: number;
}

/** A started helper. */
export interface KernelWorker {
  terminate(): void;
}

/** Starts a worker (a thread) that calls serveKernels(init). */
export type SpawnKernelWorker = (init: KernelWorkerInit) => KernelWorker;

// Control block layout, in int32 words; the words the two threads write sit on separate cache lines.
const SEQ = 0; // bumped by the caller to post a call
const KERNEL = 1; // index into THREADED_KERNELS
const ARG_COUNT = 2;
const SIZE_INDEX = 3; // the argument that holds a chunk's unit count
const CHUNKS = 4;
const SLOT = 5; // which chunk counters the call uses
const FIRST = 6; // the argument that says whether a chunk is its thread's first of the call, or -1
const DONE = 16; // set by the helper to the sequence number it finished, or FAILED
const READY = 17; // set to 1 by the helper once its module instance is up
const MAX_ARGS = 20;
/** Arguments of the whole call, as float64 (every pointer and shape is exact in a float64), from byte 128. */
const ARGS_BYTE = 128;
/** Bytes each argument moves per unit (a row, a column, an element), as float64. */
const DELTAS_BYTE = ARGS_BYTE + MAX_ARGS * 8;
/** Most chunks a call is cut into; their cuts (CHUNKS + 1 unit offsets) as int32 from CUTS_BYTE. */
export const MAX_CHUNKS = 64;
const CUTS_BYTE = DELTAS_BYTE + MAX_ARGS * 8;
/** Bytes of one helper's control block. */
export const CONTROL_BYTES = CUTS_BYTE + (MAX_CHUNKS + 1) * 4;
/**
 * A call's two counters, on a cache line of their own: chunks taken and chunks done. A team keeps helpers + 2
 * of them, so a call never reuses the counters of a call a (late) helper is still in.
 */
export const COUNTER_BYTES = 64;
const TAKEN = 0;
const FINISHED = 1;
const FAILED = -1;

/**
 * Iterations of a spin before sleeping: some microseconds. Longer spins (2^17, milliseconds) won nothing on an idle
 * machine and lost much when a third busy thread shared the cores, as a browser's own threads do: a thread spinning
 * for a chunk held by one that is off its core keeps that one waiting (baby, 2 threads beside a busy loop on 2 cores:
 * 252 ms a step, 173 ms with 2^10; idle, 109 against 111 ms).
 */
const SPIN = 1 << 10;
/** How long a caller waits for a helper that never came up before giving up. */
const START_TIMEOUT_MS = 60_000;

/**
 * Where a call over `total` units is cut for `threads` threads: one big chunk per thread, together 80% of the
 * work, then chunks of 1 / (2 threads) of what is left each time (guided scheduling: a quarter on two threads),
 * down to 2% of the work, so whoever finishes last has little left to do when the others are done. A product's
 * chunks all need the same other operand: each thread packs it once per call, into a copy of its own (one copy
 * shared by all threads measured 3 to 9% slower; one per chunk, 7 to 10% slower than one per thread). Cuts
 * fall on multiples of `align` (the kernels' vectors and tiles); where they fall changes no bit of any result.
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

/** Counter slots a team of `helpers` keeps (see COUNTER_BYTES). */
export function counterSlots(helpers: number): number {
  return helpers + 2;
}

/**
 * Takes chunks of a call from the counters at `counter` (int32 index) until none are left, running each
 * through run(args): the call's arguments moved to the chunk's first unit, with its unit count, and (when
 * firstIndex is not -1) 1 there for the first chunk this thread takes, 0 for the others: a kernel can then
 * prepare what all its chunks share once per thread and call (a product packs its shared operand).
 */
function takeChunks(
  counters: Int32Array,
  counter: number,
  cuts: ArrayLike<number>,
  chunks: number,
  args: ArrayLike<number>,
  deltas: ArrayLike<number>,
  count: number,
  sizeIndex: number,
  firstIndex: number,
  call: number[],
  run: (args: number[]) => void,
): void {
  call.length = count;
  let first = 1;
  for (;;) {
    const c = Atomics.add(counters, counter + TAKEN, 1);
    if (c >= chunks) return;
    const start = cuts[c]!;
    for (let i = 0; i < count; i++) call[i] = args[i]! + start * deltas[i]!;
    call[sizeIndex] = cuts[c + 1]! - start;
    if (firstIndex >= 0) call[firstIndex] = first;
    first = 0;
    run(call);
    if (Atomics.add(counters, counter + FINISHED, 1) + 1 === chunks) Atomics.notify(counters, counter + FINISHED);
  }
}

/**
 * A helper's side: instantiates the module on the shared memory and serves calls until terminated.
 * Never returns normally.
 */
export function serveKernels(init: KernelWorkerInit): void {
  const words = new Int32Array(init.memory.buffer, init.control, CONTROL_BYTES / 4);
  const args = new Float64Array(init.memory.buffer, init.control + ARGS_BYTE, MAX_ARGS);
  const deltas = new Float64Array(init.memory.buffer, init.control + DELTAS_BYTE, MAX_ARGS);
  const cuts = new Int32Array(init.memory.buffer, init.control + CUTS_BYTE, MAX_CHUNKS + 1);
  // The counters' block never moves, and a shared memory's buffer is never detached: one view serves.
  const counters = new Int32Array(init.memory.buffer, init.counters);
  let seen = 0;
  try {
    const instance = new WebAssembly.Instance(init.module, { env: { memory: init.memory } });
    const exports = instance.exports as Record<string, unknown>;
    const fns = THREADED_KERNELS.map((name) => {
      const fn = exports[name];
      if (typeof fn !== 'function') throw new Error(`kernel module has no export ${name}`);
      return fn as (...a: number[]) => unknown;
    });
    const call: number[] = [];
    Atomics.store(words, READY, 1);
    Atomics.notify(words, READY);
    for (;;) {
      let spins = 0;
      while (Atomics.load(words, SEQ) === seen) {
        if (++spins >= SPIN) {
          Atomics.wait(words, SEQ, seen);
          spins = 0;
        }
      }
      seen = Atomics.load(words, SEQ);
      const fn = fns[words[KERNEL]!]!;
      takeChunks(
        counters,
        words[SLOT]! * (COUNTER_BYTES / 4),
        cuts,
        words[CHUNKS]!,
        args,
        deltas,
        words[ARG_COUNT]!,
        words[SIZE_INDEX]!,
        words[FIRST]!,
        call,
        (a) => void fn(...a),
      );
      Atomics.store(words, DONE, seen);
      Atomics.notify(words, DONE);
    }
  } catch (e) {
    Atomics.store(words, DONE, FAILED);
    Atomics.notify(words, DONE);
    throw e;
  }
}

/** A kernel call cut into chunks for a team (see the top of the file). */
export interface ChunkedCall {
  /** Index into THREADED_KERNELS. */
  kernel: number;
  /** The whole call's arguments for thread t (0 is the calling thread): they differ only in per-thread scratch. */
  args: (t: number) => readonly number[];
  /** Bytes (or units of a count) each argument moves per unit; 0 for those that stay. */
  deltas: readonly number[];
  /** The argument that holds the unit count. */
  sizeIndex: number;
  /** The argument set to 1 in a thread's first chunk of the call and 0 in its others, or -1 for none. */
  firstIndex: number;
  /** Chunk boundaries in units: 0, ..., total; at most MAX_CHUNKS chunks. */
  cuts: readonly number[];
}

/** The calling thread's side: a team of helpers, each with its control block in the arena. */
export class ThreadTeam {
  private readonly workers: KernelWorker[] = [];
  private readonly words: Int32Array[] = [];
  private readonly args: Float64Array[] = [];
  private readonly deltas: Float64Array[] = [];
  private readonly cuts: Int32Array[] = [];
  private readonly seq: number[] = [];
  /** The counter slot of the call each helper was last given. */
  private readonly slotOf: number[] = [];
  private readonly counters: Int32Array;
  private readonly call: number[] = [];
  /** Whether this thread may block in Atomics.wait (not on a browser page's main thread). */
  private canWait = true;

  /**
   * `controls` are byte offsets of CONTROL_BYTES-byte blocks of the shared memory, one per helper, and
   * `counters` of counterSlots(helpers) * COUNTER_BYTES bytes: the caller takes them from the arena and keeps
   * them for the team's life.
   */
  constructor(
    module: WebAssembly.Module,
    memory: WebAssembly.Memory,
    controls: readonly number[],
    counters: number,
    spawn: SpawnKernelWorker,
  ) {
    this.counters = new Int32Array(memory.buffer, counters, (counterSlots(controls.length) * COUNTER_BYTES) / 4);
    this.counters.fill(0);
    for (const control of controls) {
      const words = new Int32Array(memory.buffer, control, CONTROL_BYTES / 4);
      words.fill(0);
      this.words.push(words);
      this.args.push(new Float64Array(memory.buffer, control + ARGS_BYTE, MAX_ARGS));
      this.deltas.push(new Float64Array(memory.buffer, control + DELTAS_BYTE, MAX_ARGS));
      this.cuts.push(new Int32Array(memory.buffer, control + CUTS_BYTE, MAX_CHUNKS + 1));
      this.seq.push(0);
      this.slotOf.push(-1);
      this.workers.push(spawn({ module, memory, control, counters }));
    }
  }

  /** Helpers, not counting the calling thread. */
  get helpers(): number {
    return this.workers.length;
  }

  /** Helpers whose module instance is up (they said so in their control block) and that have not failed. */
  get running(): number {
    return this.words.filter((w) => Atomics.load(w, READY) === 1 && Atomics.load(w, DONE) !== FAILED).length;
  }

  /**
   * Runs a call with the helpers that are free: gives it to them, takes chunks here too (through
   * `local`, this thread's instance of the kernel), and returns once every chunk is done. Throws if a helper
   * failed, after every chunk taken has finished or failed.
   */
  run(c: ChunkedCall, local: (...args: number[]) => unknown): void {
    const chunks = c.cuts.length - 1;
    if (chunks > MAX_CHUNKS || c.deltas.length > MAX_ARGS) throw new RangeError('a chunked call has too many chunks or arguments');
    const busy = (h: number) => Atomics.load(this.words[h]!, DONE) !== this.seq[h];
    // Counters no busy helper is still using: a late helper must never take a chunk of a call it was not given.
    let slot = 0;
    while (this.slotOf.some((s, h) => s === slot && busy(h))) slot++;
    const counter = slot * (COUNTER_BYTES / 4);
    Atomics.store(this.counters, counter + TAKEN, 0);
    Atomics.store(this.counters, counter + FINISHED, 0);
    const given: number[] = [];
    for (let h = 0; h < this.helpers; h++) {
      if (busy(h)) continue;
      const words = this.words[h]!,
        args = c.args(h + 1),
        a = this.args[h]!,
        d = this.deltas[h]!,
        cuts = this.cuts[h]!;
      for (let i = 0; i < args.length; i++) {
        a[i] = args[i]!;
        d[i] = c.deltas[i]!;
      }
      for (let i = 0; i <= chunks; i++) cuts[i] = c.cuts[i]!;
      words[KERNEL] = c.kernel;
      words[ARG_COUNT] = args.length;
      words[SIZE_INDEX] = c.sizeIndex;
      words[FIRST] = c.firstIndex;
      words[CHUNKS] = chunks;
      words[SLOT] = slot;
      this.slotOf[h] = slot;
      const seq = (this.seq[h] = (this.seq[h]! + 1) | 0 || 1);
      Atomics.store(words, SEQ, seq);
      Atomics.notify(words, SEQ);
      given.push(h);
    }
    let failure: unknown = null;
    const args = c.args(0);
    try {
      takeChunks(
        this.counters,
        counter,
        c.cuts,
        chunks,
        args,
        c.deltas,
        args.length,
        c.sizeIndex,
        c.firstIndex,
        this.call,
        (a) => void local(...a),
      );
    } catch (e) {
      failure = e;
      Atomics.store(this.counters, counter + TAKEN, chunks); // no more chunks for anyone
    }
    this.waitFor(counter, chunks, given, failure !== null);
    if (failure !== null) throw failure;
  }

  /**
   * Blocks until `chunks` chunks are done at `counter` (or, when `failed`, until the helpers given the call
   * have left it: chunks taken before a failure may never finish).
   */
  private waitFor(counter: number, chunks: number, given: readonly number[], failed: boolean): void {
    let spins = 0;
    let started = 0;
    for (;;) {
      const done = Atomics.load(this.counters, counter + FINISHED);
      if (!failed && done === chunks) return;
      let pending = false;
      for (const h of given) {
        const state = Atomics.load(this.words[h]!, DONE);
        if (state === FAILED) {
          if (!failed) Atomics.store(this.counters, counter + TAKEN, chunks);
          throw new Error('a kernel worker thread failed');
        }
        if (state !== this.seq[h]) pending = true;
      }
      if (failed && !pending) return;
      if (++spins < SPIN) continue;
      spins = 0;
      if (given.some((h) => Atomics.load(this.words[h]!, READY) === 0)) {
        started ||= Date.now();
        if (Date.now() - started > START_TIMEOUT_MS) throw new Error('a kernel worker thread did not start');
      }
      if (this.canWait) {
        try {
          Atomics.wait(this.counters, counter + FINISHED, done, 1);
        } catch {
          this.canWait = false; // a browser page's main thread: keep spinning
        }
      }
    }
  }

  /** Stops every helper. */
  dispose(): void {
    for (const w of this.workers) w.terminate();
    this.workers.length = 0;
  }
}
