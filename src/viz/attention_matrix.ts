/**
 * Arithmetic on attention maps (T x T row-major matrices, row t = how position t spreads its attention over
 * positions 0..t): the average over a layer's heads, and the check that every row is a distribution.
 */

/** The element-wise mean of a layer's head maps: what the layer as a whole attends to. */
export function meanOverHeads(heads: readonly ArrayLike<number>[], T: number): Float32Array {
  const out = new Float32Array(T * T);
  if (heads.length === 0) return out;
  for (const h of heads) for (let i = 0; i < T * T; i++) out[i]! += h[i]!;
  for (let i = 0; i < T * T; i++) out[i]! /= heads.length;
  return out;
}

/**
 * The largest deviation of a row sum from 1, counting weight above the diagonal (where a causal map must hold
 * none) as deviation too. A correct map gives about 1e-7 (float32 rounding).
 */
export function causalRowError(matrix: ArrayLike<number>, T: number): number {
  let worst = 0;
  for (let t = 0; t < T; t++) {
    let sum = 0,
      above = 0;
    for (let s = 0; s < T; s++) {
      const w = matrix[t * T + s]!;
      if (s <= t) sum += w;
      else above += Math.abs(w);
    }
    worst = Math.max(worst, Math.abs(sum - 1) + above);
  }
  return worst;
}
