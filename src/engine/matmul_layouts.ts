/**
 * The three layouts of a linear layer's products, named as BLAS names them, over the one strided matmul
 * kernel (kernel_table.ts): N for an operand read as stored, T for one read transposed, all row-major.
 */
import type { Kernels } from './backend.js';

/** out[M, N] (+)= a product of a and b, with a's and b's layouts given by the function's name. */
export type Product = (
  k: Kernels,
  out: Float32Array,
  a: Float32Array,
  b: Float32Array,
  M: number,
  N: number,
  K: number,
  accumulate: boolean,
) => void;

/** out[M,N] (+)= a[M,K] @ b[N,K]^T: a linear layer's forward, y = x W^T. */
export const matmulNT: Product = (k, out, a, b, M, N, K, accumulate) => k.matmul(out, N, a, K, 1, b, 1, K, M, N, K, accumulate);

/** out[M,N] (+)= a[M,K] @ b[K,N]: the input gradient, dx = dy W. */
export const matmulNN: Product = (k, out, a, b, M, N, K, accumulate) => k.matmul(out, N, a, K, 1, b, N, 1, M, N, K, accumulate);

/** out[M,N] (+)= a[K,M]^T @ b[K,N]: the weight gradient, dW = dy^T x. */
export const matmulTN: Product = (k, out, a, b, M, N, K, accumulate) => k.matmul(out, N, a, 1, M, b, N, 1, M, N, K, accumulate);

/**
 * Columns of a weight panel: sampling keeps each linear layer's weight [N, K] as panels of PANEL columns of
 * its transpose (the kernels packPanels and rowsTimesPanels), which a row times the weight reads front to back.
 */
export const PANEL = 32;

/** Floats of a weight [N, K] packed into panels: whole panels of PANEL columns, the last padded with zeros. */
export function panelFloats(N: number, K: number): number {
  return Math.ceil(N / PANEL) * PANEL * K;
}
