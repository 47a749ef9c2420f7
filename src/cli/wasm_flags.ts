/**
 * Node-only switch for the relaxed-SIMD build of the WebAssembly kernels (src/engine/wasm/backend.ts).
 * Node 20's V8 validates relaxed SIMD (f32x4.relaxed_madd: fused multiply-add, about 30% faster matmuls)
 * only behind --experimental-wasm-relaxed-simd; browsers that ship it (Chrome 114+) need nothing. Call this
 * once at start-up, before the kernels are created: createWasmKernels() then picks the relaxed build, as it
 * picks any build WebAssembly.validate accepts. Kept out of src/engine, which must load in a browser.
 */
import { setFlagsFromString } from 'node:v8';
import { wasmVariant } from '../engine/wasm/wasm_kernels.js';

/** Turns the flag on; returns whether the relaxed-SIMD build now validates (false on an engine without it). */
export function enableRelaxedSimd(): boolean {
  setFlagsFromString('--experimental-wasm-relaxed-simd');
  return wasmVariant() === 'relaxed-simd';
}
