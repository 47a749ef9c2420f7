/**
 * The compiled kernels: assembly/*.ts built by scripts/build-wasm.mjs into four WebAssembly modules (plain SIMD
 * and relaxed SIMD, each for a plain and a shared memory), embedded as base64 in ./generated/kernels_wasm.ts
 * so they load with no file system, in browsers too. This picks the one an engine and an arena can run.
 */
import {
  KERNELS_WASM_RELAXED_SIMD,
  KERNELS_WASM_RELAXED_SIMD_SHARED,
  KERNELS_WASM_SIMD,
  KERNELS_WASM_SIMD_SHARED,
} from './generated/kernels_wasm.js';

export type WasmVariant = 'simd' | 'relaxed-simd';

/** Whether this JavaScript engine can run the SIMD kernels at all. */
export function wasmSimdSupported(): boolean {
  return WebAssembly.validate(decode(KERNELS_WASM_SIMD));
}

/**
 * The module's bytes: the relaxed-SIMD build (fused multiply-add) when `relaxed` allows it and this engine
 * validates it, else plain SIMD; for a shared memory (threads) or a plain one.
 */
export function kernelModuleBytes(relaxed: boolean, shared: boolean): { bytes: Uint8Array<ArrayBuffer>; variant: WasmVariant } {
  if (relaxed) {
    const bytes = decode(shared ? KERNELS_WASM_RELAXED_SIMD_SHARED : KERNELS_WASM_RELAXED_SIMD);
    if (WebAssembly.validate(bytes)) return { bytes, variant: 'relaxed-simd' };
  }
  const bytes = decode(shared ? KERNELS_WASM_SIMD_SHARED : KERNELS_WASM_SIMD);
  if (!WebAssembly.validate(bytes)) throw new Error('this JavaScript engine does not support WebAssembly SIMD');
  return { bytes, variant: 'simd' };
}

function decode(base64: string): Uint8Array<ArrayBuffer> {
  const s = atob(base64);
  const bytes = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) bytes[i] = s.charCodeAt(i);
  return bytes;
}
