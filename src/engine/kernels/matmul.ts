/**
 * Matrix products, row-major float32, any layout: out(i, j) (+)= sum over k of A(i, k) B(k, j) with
 * A(i, k) = a[i ars + k acs], B(k, j) = b[k brs + j bcs], out(i, j) = out[i ldc + j]. A linear layer needs
 *   forward      y  = x  W^T   a = x [M,K] (ars K, acs 1),  b = W [N,K] (brs 1, bcs K)
 *   input grad   dx = dy W     b = W [K,N] (brs N, bcs 1)
 *   weight grad  dW = dy^T x   a = dy [K,M] (ars 1, acs M)
 * (src/engine/ops/matmul.ts names the three). The reference computes one case, A [M,K] against B stored as
 * [N,K], with a 4x4 register tile (16 accumulators, 8 loads per step of k); other layouts are first gathered
 * into that one in scratch space, which costs O(n^2) against the product's O(n^3). Every output sums its
 * products in k order. `accumulate` adds into `out` instead of overwriting it.
 */

import { PANEL } from '../matmul_layouts.js';

let scratchA: Float32Array = new Float32Array(0);
let scratchB: Float32Array = new Float32Array(0);

export function matmul(
  out: Float32Array,
  ldc: number,
  a: Float32Array,
  ars: number,
  acs: number,
  b: Float32Array,
  brs: number,
  bcs: number,
  M: number,
  N: number,
  K: number,
  accumulate: boolean,
): void {
  let A = a,
    Bt = b;
  if (!(acs === 1 && ars === K)) A = scratchA = gather(scratchA, a, M, K, ars, acs);
  if (!(brs === 1 && bcs === K)) Bt = scratchB = gather(scratchB, b, N, K, bcs, brs);
  matmulContiguous(out, ldc, A, Bt, M, N, K, accumulate);
}

/** out[c ldo + r] = x[r ldx + c] for r < rows, c < cols. */
export function transpose(out: Float32Array, x: Float32Array, rows: number, cols: number, ldx: number, ldo: number): void {
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * ldo + r] = x[r * ldx + c]!;
}

/**
 * Packs a weight w [N, K] into panels of PANEL columns of w^T: column j of w^T (row j of w) at depth k goes to
 * out[floor(j / PANEL) PANEL K + k PANEL + j mod PANEL]; a last panel's columns past N are zeros. Sampling
 * multiplies single rows by the panels (rowsTimesPanels), reading each front to back.
 */
export function packPanels(out: Float32Array, w: Float32Array, N: number, K: number): void {
  for (let j0 = 0; j0 < N; j0 += PANEL) {
    const panel = j0 * K;
    for (let k = 0; k < K; k++) {
      for (let c = 0; c < PANEL; c++) out[panel + k * PANEL + c] = j0 + c < N ? w[(j0 + c) * K + k]! : 0;
    }
  }
}

/**
 * out[i ldo + j] = sum over k of x[i K + k] w[j K + k] for i < M, j < N, the weight read from its panels
 * (packPanels): a linear layer's forward for a few rows, summed as matmul sums it (in k order), so the rows
 * have matmul's bits.
 */
export function rowsTimesPanels(
  out: Float32Array,
  ldo: number,
  x: Float32Array,
  panels: Float32Array,
  M: number,
  N: number,
  K: number,
): void {
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      const col = Math.floor(j / PANEL) * PANEL * K + (j % PANEL);
      let c = 0;
      for (let k = 0; k < K; k++) c += x[i * K + k]! * panels[col + k * PANEL]!;
      out[i * ldo + j] = c;
    }
  }
}

/** dst[r cols + c] = src[r rs + c cs] into the scratch buffer (grown when too small); returns the buffer. */
function gather(dst: Float32Array, src: Float32Array, rows: number, cols: number, rs: number, cs: number): Float32Array {
  if (dst.length < rows * cols) dst = new Float32Array(rows * cols);
  // Tiles of 16x16 keep both the reads and the writes within a few cache lines.
  const TILE = 16;
  for (let r0 = 0; r0 < rows; r0 += TILE) {
    const r1 = Math.min(r0 + TILE, rows);
    for (let c0 = 0; c0 < cols; c0 += TILE) {
      const c1 = Math.min(c0 + TILE, cols);
      for (let r = r0; r < r1; r++) {
        for (let c = c0; c < c1; c++) dst[r * cols + c] = src[r * rs + c * cs]!;
      }
    }
  }
  return dst;
}

/** out[M,N] (+)= a[M,K] @ b[N,K]^T, both contiguous, out's rows ldc apart: the one loop the reference runs. */
function matmulContiguous(
  out: Float32Array,
  ldc: number,
  a: Float32Array,
  b: Float32Array,
  M: number,
  N: number,
  K: number,
  accumulate: boolean,
): void {
  let i = 0;
  for (; i + 4 <= M; i += 4) {
    const a0 = i * K,
      a1 = a0 + K,
      a2 = a1 + K,
      a3 = a2 + K;
    const o0 = i * ldc,
      o1 = o0 + ldc,
      o2 = o1 + ldc,
      o3 = o2 + ldc;
    let j = 0;
    for (; j + 4 <= N; j += 4) {
      const b0 = j * K,
        b1 = b0 + K,
        b2 = b1 + K,
        b3 = b2 + K;
      let c00 = 0,
        c01 = 0,
        c02 = 0,
        c03 = 0;
      let c10 = 0,
        c11 = 0,
        c12 = 0,
        c13 = 0;
      let c20 = 0,
        c21 = 0,
        c22 = 0,
        c23 = 0;
      let c30 = 0,
        c31 = 0,
        c32 = 0,
        c33 = 0;
      for (let k = 0; k < K; k++) {
        const x0 = a[a0 + k]!,
          x1 = a[a1 + k]!,
          x2 = a[a2 + k]!,
          x3 = a[a3 + k]!;
        const y0 = b[b0 + k]!,
          y1 = b[b1 + k]!,
          y2 = b[b2 + k]!,
          y3 = b[b3 + k]!;
        c00 += x0 * y0;
        c01 += x0 * y1;
        c02 += x0 * y2;
        c03 += x0 * y3;
        c10 += x1 * y0;
        c11 += x1 * y1;
        c12 += x1 * y2;
        c13 += x1 * y3;
        c20 += x2 * y0;
        c21 += x2 * y1;
        c22 += x2 * y2;
        c23 += x2 * y3;
        c30 += x3 * y0;
        c31 += x3 * y1;
        c32 += x3 * y2;
        c33 += x3 * y3;
      }
      if (accumulate) {
        out[o0 + j] += c00;
        out[o0 + j + 1] += c01;
        out[o0 + j + 2] += c02;
        out[o0 + j + 3] += c03;
        out[o1 + j] += c10;
        out[o1 + j + 1] += c11;
        out[o1 + j + 2] += c12;
        out[o1 + j + 3] += c13;
        out[o2 + j] += c20;
        out[o2 + j + 1] += c21;
        out[o2 + j + 2] += c22;
        out[o2 + j + 3] += c23;
        out[o3 + j] += c30;
        out[o3 + j + 1] += c31;
        out[o3 + j + 2] += c32;
        out[o3 + j + 3] += c33;
      } else {
        out[o0 + j] = c00;
        out[o0 + j + 1] = c01;
        out[o0 + j + 2] = c02;
        out[o0 + j + 3] = c03;
        out[o1 + j] = c10;
        out[o1 + j + 1] = c11;
        out[o1 + j + 2] = c12;
        out[o1 + j + 3] = c13;
        out[o2 + j] = c20;
        out[o2 + j + 1] = c21;
        out[o2 + j + 2] = c22;
        out[o2 + j + 3] = c23;
        out[o3 + j] = c30;
        out[o3 + j + 1] = c31;
        out[o3 + j + 2] = c32;
        out[o3 + j + 3] = c33;
      }
    }
    for (; j < N; j++) {
      const bj = j * K;
      let c0 = 0,
        c1 = 0,
        c2 = 0,
        c3 = 0;
      for (let k = 0; k < K; k++) {
        const y = b[bj + k]!;
        c0 += a[a0 + k]! * y;
        c1 += a[a1 + k]! * y;
        c2 += a[a2 + k]! * y;
        c3 += a[a3 + k]! * y;
      }
      if (accumulate) {
        out[o0 + j] += c0;
        out[o1 + j] += c1;
        out[o2 + j] += c2;
        out[o3 + j] += c3;
      } else {
        out[o0 + j] = c0;
        out[o1 + j] = c1;
        out[o2 + j] = c2;
        out[o3 + j] = c3;
      }
    }
  }
  for (; i < M; i++) {
    const ai = i * K,
      oi = i * ldc;
    for (let j = 0; j < N; j++) {
      const bj = j * K;
      let c = 0;
      for (let k = 0; k < K; k++) c += a[ai + k]! * b[bj + k]!;
      out[oi + j] = accumulate ? out[oi + j]! + c : c;
    }
  }
}
