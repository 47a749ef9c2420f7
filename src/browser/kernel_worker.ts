/**
 * The script of a browser helper thread for the WebAssembly kernels: it gets its start-up message (the
 * compiled module, the shared memory, where its control block is) and serves kernel calls until terminated.
 * It imports only the thread team, so its bundle is a few kilobytes and makes no arena of its own.
 */
import { type KernelWorkerInit, serveKernels } from '../engine/wasm/thread_team.js';

addEventListener('message', (event) => serveKernels((event as MessageEvent<KernelWorkerInit>).data), { once: true });
