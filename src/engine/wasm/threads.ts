/**
 * Threads for the WebAssembly kernels: helper workers, each with its own instance of the same kernel module
 * over the same shared memory, that run a part of a kernel call while the calling thread runs another part.
 *
 * A helper is told what to run through a small control block in the arena: the calling thread writes the
 * kernel's index and arguments, then bumps the block's sequence number; the helper, spinning on that number
 * (and, after a while idle, sleeping in Atomics.wait), runs the call and writes the sequence number into the
 * block's done word. Spinning first matters: waking a sleeping thread costs about 63 us, a kernel call a few
 * hundred. No messages pass after start-up, so a helper needs nothing from its host but the first one.
 *
 * Nothing here needs Node: the host gives a function that starts a worker running serveKernels (see
 * src/threads/ for Node's). Waiting with Atomics.wait is refused on a browser page's main thread; there the
 * caller spins instead.
 */

/** The exports helpers may run, by index: kernels that threads split (src/engine/wasm/backend.ts). */
export const THREADED_KERNELS = [
  'matmulStrided', 'attentionForward', 'attentionBackward', 'geluForward', 'geluBackward', 'fillZero', 'copy',
  'addSame', 'layernormForward', 'layernormBackwardParams', 'layernormBackwardInput', 'adamwStep',
] as const;
export type ThreadedKernel = (typeof THREADED_KERNELS)[number];

/** What a helper worker is started with (structured-cloneable: a compiled module and a shared memory). */
export interface KernelWorkerInit {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  /** Byte offset of this helper's control block in the memory. */
  control: number;
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
const DONE = 16; // set by the helper to the sequence number it finished, or FAILED
const READY = 17; // set to 1 by the helper once its module instance is up
const ELAPSED_F64 = 14; // the helper's time for the call, in milliseconds (float64 words 14 and 15 are free)
const ARGS_F64 = 16; // arguments as float64 from byte 128 (every pointer and shape is exact in a float64)
const MAX_ARGS = 20;
/** Bytes of one helper's control block. */
export const CONTROL_BYTES = 128 + MAX_ARGS * 8;
const FAILED = -1;

/** Iterations of a spin before sleeping: some hundreds of microseconds. */
const SPIN = 1 << 17;
/** How long a caller waits for a helper that never came up before giving up. */
const START_TIMEOUT_MS = 60_000;

/**
 * A helper's side: instantiates the module on the shared memory and serves calls until terminated.
 * Never returns normally.
 */
export function serveKernels(init: KernelWorkerInit): void {
  const words = new Int32Array(init.memory.buffer, init.control, CONTROL_BYTES / 4);
  const args = new Float64Array(init.memory.buffer, init.control + ARGS_F64 * 8, MAX_ARGS);
  const f64 = new Float64Array(init.memory.buffer, init.control, CONTROL_BYTES / 8);
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
      const n = words[ARG_COUNT]!;
      call.length = n;
      for (let i = 0; i < n; i++) call[i] = args[i]!;
      const started = performance.now();
      fns[words[KERNEL]!]!(...call);
      f64[ELAPSED_F64] = performance.now() - started;
      Atomics.store(words, DONE, seen);
      Atomics.notify(words, DONE);
    }
  } catch (e) {
    Atomics.store(words, DONE, FAILED);
    Atomics.notify(words, DONE);
    throw e;
  }
}

/** The calling thread's side: a team of helpers, each with its control block in the arena. */
export class ThreadTeam {
  private readonly workers: KernelWorker[] = [];
  private readonly words: Int32Array[] = [];
  private readonly args: Float64Array[] = [];
  private readonly f64: Float64Array[] = [];
  private readonly seq: number[] = [];
  /** Whether this thread may block in Atomics.wait (not on a browser page's main thread). */
  private canWait = true;

  /**
   * `controls` are byte offsets of CONTROL_BYTES-byte blocks of the shared memory, one per helper: the
   * caller takes them from the arena and keeps them for the team's life.
   */
  constructor(module: WebAssembly.Module, memory: WebAssembly.Memory, controls: readonly number[], spawn: SpawnKernelWorker) {
    for (const control of controls) {
      const words = new Int32Array(memory.buffer, control, CONTROL_BYTES / 4);
      words.fill(0);
      this.words.push(words);
      this.args.push(new Float64Array(memory.buffer, control + ARGS_F64 * 8, MAX_ARGS));
      this.f64.push(new Float64Array(memory.buffer, control, CONTROL_BYTES / 8));
      this.seq.push(0);
      this.workers.push(spawn({ module, memory, control }));
    }
  }

  /** Helpers, not counting the calling thread. */
  get helpers(): number {
    return this.workers.length;
  }

  /** Posts a call of THREADED_KERNELS[kernel] to helper h; returns at once. Call wait(h) before posting again. */
  post(h: number, kernel: number, args: ArrayLike<number>): void {
    const words = this.words[h]!, a = this.args[h]!;
    if (args.length > MAX_ARGS) throw new RangeError(`a threaded kernel call takes at most ${MAX_ARGS} arguments`);
    for (let i = 0; i < args.length; i++) a[i] = args[i]!;
    words[KERNEL] = kernel;
    words[ARG_COUNT] = args.length;
    const seq = (this.seq[h] = (this.seq[h]! + 1) | 0 || 1);
    Atomics.store(words, SEQ, seq);
    Atomics.notify(words, SEQ);
  }

  /** Blocks until helper h has finished the call posted last. */
  wait(h: number): void {
    const words = this.words[h]!, seq = this.seq[h]!;
    let spins = 0;
    let started = 0;
    for (;;) {
      const done = Atomics.load(words, DONE);
      if (done === seq) return;
      if (done === FAILED) throw new Error('a kernel worker thread failed');
      if (++spins < SPIN) continue;
      spins = 0;
      if (Atomics.load(words, READY) === 0) {
        started ||= Date.now();
        if (Date.now() - started > START_TIMEOUT_MS) throw new Error('a kernel worker thread did not start');
      }
      if (this.canWait) {
        try {
          Atomics.wait(words, DONE, done, 100);
        } catch {
          this.canWait = false; // a browser page's main thread: keep spinning
        }
      }
    }
  }

  /** How long helper h took over its last call, in milliseconds (read after wait(h)). */
  elapsed(h: number): number {
    return this.f64[h]![ELAPSED_F64]!;
  }

  /** Stops every helper. */
  dispose(): void {
    for (const w of this.workers) w.terminate();
    this.workers.length = 0;
  }
}
