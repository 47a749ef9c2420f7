/**
 * RMS normalisation without a gain (PyTorch's F.rms_norm(x, (size,)) with no weight, modded-nanogpt's norm):
 *   out = x / sqrt(mean(x^2) + eps)
 * over groups of `size` floats: `groups` side by side in each of N rows `ld` floats apart. A block's norm is one
 * group a row (size C); QK-norm normalises each head of q and k on its own (2 nh groups of hs, in the rows of a
 * fused qkv projection, ld 3C). The forward saves rstd = 1/sqrt(mean(x^2) + eps) per group for the backward.
 */
export function rmsnormForward(
  out: Float32Array,
  rstd: Float32Array,
  x: Float32Array,
  N: number,
  groups: number,
  size: number,
  ld: number,
  eps: number,
): void {
  for (let r = 0; r < N; r++) {
    for (let g = 0; g < groups; g++) {
      const o = r * ld + g * size;
      let ss = 0;
      for (let i = 0; i < size; i++) ss += x[o + i]! * x[o + i]!;
      const rs = 1 / Math.sqrt(ss / size + eps);
      for (let i = 0; i < size; i++) out[o + i] = x[o + i]! * rs;
      rstd[r * groups + g] = rs;
    }
  }
}

/**
 * The input gradient, with y = x rstd: dx = rstd (dout - y mean(dout y)), per group; added into dx, or with
 * `accumulate` false written over it.
 */
export function rmsnormBackward(
  dx: Float32Array,
  dout: Float32Array,
  x: Float32Array,
  rstd: Float32Array,
  N: number,
  groups: number,
  size: number,
  ld: number,
  accumulate: boolean,
): void {
  for (let r = 0; r < N; r++) {
    for (let g = 0; g < groups; g++) {
      const o = r * ld + g * size;
      const rs = rstd[r * groups + g]!;
      let dot = 0;
      for (let i = 0; i < size; i++) dot += dout[o + i]! * x[o + i]! * rs;
      const m = dot / size;
      for (let i = 0; i < size; i++) {
        const d = rs * (dout[o + i]! - x[o + i]! * rs * m);
        dx[o + i] = accumulate ? dx[o + i]! + d : d;
      }
    }
  }
}
