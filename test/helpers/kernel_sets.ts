/**
 * The kernel sets the bit-for-bit tests run on: the reference TypeScript kernels, and the WebAssembly ones on
 * one thread and on two (relaxed SIMD's fused multiply-add where the engine has it). The WebAssembly kernels
 * take other paths for few-row products and single sequences, which is what those tests are after.
 */
import { kernels, referenceKernels, setKernels, type Kernels } from '../../src/engine/backend.js';
import { createWasmKernelsSync } from '../../src/engine/wasm/wasm_kernels.js';
import { enableRelaxedSimd } from '../../src/cli/wasm_flags.js';
import { spawnNodeKernelWorker } from '../../src/node/kernel_threads.js';

export function exactnessKernelSets(): [string, Kernels][] {
  enableRelaxedSimd();
  return [
    ['reference', referenceKernels],
    ['wasm', createWasmKernelsSync(undefined, { relaxed: false })],
    ['wasm relaxed, 2 threads', createWasmKernelsSync(undefined, { threads: 2, spawnWorker: spawnNodeKernelWorker })],
  ];
}

/** Runs fn with `set` as the active kernels, then puts the previous ones back. */
export function withKernels<T>(set: Kernels, fn: () => T): T {
  const saved = kernels();
  setKernels(set);
  try {
    return fn();
  } finally {
    setKernels(saved);
  }
}
