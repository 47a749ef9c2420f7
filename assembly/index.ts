/**
 * The WebAssembly SIMD kernels of tsgpt: the entry file whose exports are the module's exports, one per row of
 * the kernel table (src/engine/kernel_table.ts), each in the file named as its reference twin in
 * src/engine/kernels/. gemm.ts and simd.ts are helpers. Built by scripts/build-wasm.mjs (plain SIMD, and
 * relaxed SIMD with fused multiply-add); src/engine/wasm/wasm_kernels.ts binds the exports to the table.
 */
export * from './activations';
export * from './adamw';
export * from './attention';
export * from './cross_entropy';
export * from './dropout';
export * from './elementwise';
export * from './embedding';
export * from './layernorm';
export * from './matmul';
export * from './rmsnorm';
export * from './rotary';
export * from './search';
export * from './softmax';

/** End of the module's static data: the build checks that it lies within the arena's reserved first 64 KiB. */
export function staticDataEnd(): usize {
  return __heap_base;
}
