/**
 * The WebAssembly kernels on every core of a browser: helper threads are module workers running
 * ./kernel_worker.ts, which share the arena's memory with the thread that computes. Sharing memory needs a
 * cross-origin isolated page (the headers Cross-Origin-Opener-Policy: same-origin and
 * Cross-Origin-Embedder-Policy: require-corp); without them `threads: 'auto'` computes on one thread and says
 * why, once, and asking for more than one thread is an error that names the headers.
 *
 * createBrowserKernels waits until every helper has started, so a helper whose script failed to load is an
 * error naming the script, not a run that quietly stays on one thread, and the count it reports is the count
 * that is running.
 */
import { type Arena, defaultArena } from '../engine/arena.js';
import type { Kernels } from '../engine/backend.js';
import type { SpawnKernelWorker } from '../engine/wasm/thread_team.js';
import type { WasmVariant } from '../engine/wasm/kernel_module.js';
import { createWasmKernels, SHARED_MEMORY_HINT, wasmVariant } from '../engine/wasm/wasm_kernels.js';
import { TsgptError } from '../errors.js';
import { describeWorkerError, startModuleWorker } from './module_worker.js';

/** The message of the one-thread fallback. */
export const NOT_ISOLATED_NOTE =
  'computing on 1 thread: this page is not cross-origin isolated, so it cannot share memory with helper threads; ' +
  "serve it with the headers 'Cross-Origin-Opener-Policy: same-origin' and 'Cross-Origin-Embedder-Policy: require-corp' " +
  'to compute on every core';

/** How long helpers may take to start before it counts as a failure: loading a script, compiling nothing. */
const START_TIMEOUT_MS = 20_000;

export interface BrowserKernelOptions {
  /** Threads to compute on, the calling one included: 'auto' (the default) is every core where memory can be shared. */
  threads?: number | 'auto';
  /** Use the relaxed-SIMD build (fused multiply-add) where the engine has it (default true); see wasmVariant. */
  relaxed?: boolean;
  /** The helper threads' script (default: kernel_worker.js beside this module, as the package and its bundle ship it). */
  kernelWorkerUrl?: string | URL;
  arena?: Arena;
}

export interface BrowserKernels {
  kernels: Kernels;
  /** Threads computing, the calling one included: every helper asked for has started. */
  threads: number;
  /** The build the kernels run: results are identical only between machines that run the same one. */
  variant: WasmVariant;
  /** Whether this page (or worker) may share memory with helper threads. */
  isolated: boolean;
  /** Why fewer threads than cores are used, or null. */
  note: string | null;
}

/** Whether this page or worker can share memory with workers: cross-origin isolated. */
export function crossOriginIsolated(): boolean {
  return (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true && typeof SharedArrayBuffer === 'function';
}

/** The cores the browser reports (navigator.hardwareConcurrency), at least 1. */
export function coreCountInBrowser(): number {
  const n = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency;
  return typeof n === 'number' && Number.isInteger(n) && n >= 1 ? n : 1;
}

/** The thread count to use for a request, and the note that explains a fallback to one thread. */
export function threadsFor(requested: number | 'auto', isolated = crossOriginIsolated()): { threads: number; note: string | null } {
  if (requested === 'auto') {
    const cores = coreCountInBrowser();
    if (isolated) return { threads: cores, note: null };
    return { threads: 1, note: cores > 1 ? NOT_ISOLATED_NOTE : null };
  }
  if (!Number.isInteger(requested) || requested < 1 || requested > 256) {
    throw new TsgptError(`threads must be 'auto' or a whole number from 1 to 256, got ${String(requested)}`);
  }
  if (requested > 1 && !isolated)
    throw new TsgptError(`${requested} threads need a shared memory (SharedArrayBuffer), ${SHARED_MEMORY_HINT}`);
  return { threads: requested, note: null };
}

/** The default script of the helper threads: beside this module, in the package and in its single-file build. */
export function defaultKernelWorkerUrl(): URL {
  return new URL('./kernel_worker.js', import.meta.url);
}

/**
 * A SpawnKernelWorker for browsers: a module worker running kernel_worker.js (or `url`); `onError` hears of a
 * helper whose script failed to load or that failed later.
 */
export function spawnBrowserKernelWorker(
  url: string | URL = defaultKernelWorkerUrl(),
  onError?: (message: string) => void,
): SpawnKernelWorker {
  return (init) => {
    const worker = startModuleWorker(url, 'tsgpt kernels');
    if (onError !== undefined) worker.addEventListener('error', (e) => onError(describeWorkerError(e)));
    worker.postMessage(init);
    return { terminate: () => worker.terminate() };
  };
}

/**
 * The WebAssembly kernels with helper threads, once every helper is running (make them the active kernels
 * with setKernels). Compiles asynchronously, so it works on a page's main thread too, though training there
 * blocks the page: train in a worker (TrainingWorker) instead.
 */
export async function createBrowserKernels(options: BrowserKernelOptions = {}): Promise<BrowserKernels> {
  const isolated = crossOriginIsolated();
  const { threads, note } = threadsFor(options.threads ?? 'auto', isolated);
  if (note !== null) console.warn(`tsgpt: ${note}`);
  const url = options.kernelWorkerUrl ?? defaultKernelWorkerUrl();
  const failures: string[] = [];
  const spawnWorker = spawnBrowserKernelWorker(url, (message) => failures.push(message));
  const relaxed = options.relaxed !== false;
  const kernels = await createWasmKernels(options.arena ?? defaultArena, { threads, relaxed, spawnWorker });
  const started = Date.now();
  while ((kernels.helpersRunning?.() ?? 0) < threads - 1) {
    const why = failures[0] ?? (Date.now() - started > START_TIMEOUT_MS ? `none started within ${START_TIMEOUT_MS / 1000} s` : null);
    if (why !== null) {
      kernels.dispose?.();
      throw new TsgptError(`the kernels' helper threads did not start from ${String(url)}: ${why}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  return { kernels, threads, variant: wasmVariant({ relaxed }), isolated, note };
}
