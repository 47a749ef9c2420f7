/**
 * Helper threads for the WebAssembly kernels in Node: worker_threads workers running serveKernels
 * (src/engine/wasm/threads.ts). Kept out of src/engine, which must load in a browser.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { SpawnKernelWorker } from '../engine/wasm/thread_team.js';

/** Starts a helper thread; it does not keep the process alive (unref), so a finished program exits. */
export const spawnNodeKernelWorker: SpawnKernelWorker = (init) => {
  const worker = new Worker(new URL('./kernel_worker.js', import.meta.url), { workerData: init });
  worker.unref();
  // The calling thread learns of a failure through the shared control block (and throws); this says why,
  // once it is back in its event loop.
  worker.on('error', (e) => process.stderr.write(`tsgpt: a kernel worker thread failed: ${e.message}\n`));
  return { terminate: () => void worker.terminate() };
};

/** The cores this process may use: the default thread count. */
export function coreCount(): number {
  return availableParallelism();
}
