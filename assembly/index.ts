/**
 * The WebAssembly SIMD kernels of tsgpt: the entry file whose exports are the module's exports. Every kernel
 * takes byte offsets into the imported memory (the engine's arena) plus the shapes of
 * src/engine/kernels/*.ts; src/engine/wasm/backend.ts wraps them into the Kernels interface.
 * Built by scripts/build-wasm.mjs (two variants: plain SIMD, and relaxed SIMD with fused multiply-add).
 */
export { matmulStrided, matmulPackABytes, matmulPackBBytes, matmulWholeBytes, transpose } from './matmul';
export { attentionForward, attentionBackward, attentionCachedForward, attentionScratchBytes } from './attention';
export {
  fillZero, copy, addSame, dropoutMask, addForward, addBackward, mulForward, mulBackward, biasForward, biasBackward, reluForward, reluBackward,
  geluForward, geluBackward, embeddingForward, embeddingBackward,
} from './elementwise';
export {
  layernormForward, layernormBackwardParams, layernormBackwardInput, softmaxForward, softmaxBackward, crossEntropyForward,
  crossEntropyBackward, crossEntropyCount,
} from './norm';
export { adamwStep, sumOfSquares } from './optim';

/** End of the module's static data: the build checks that it lies within the arena's reserved first 64 KiB. */
export function staticDataEnd(): usize {
  return __heap_base;
}
