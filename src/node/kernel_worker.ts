/** The entry point of a Node helper thread (see node_workers.ts): serves kernel calls until terminated. */
import { workerData } from 'node:worker_threads';
import { serveKernels, type KernelWorkerInit } from '../engine/wasm/thread_team.js';

serveKernels(workerData as KernelWorkerInit);
