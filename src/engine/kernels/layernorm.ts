/**
 * LayerNorm over the last dimension C of N rows: out = (x - mean) * rstd * weight + bias.
 * The forward saves exactly what the backward needs, mean[N] and rstd[N] (1/sqrt(var + eps)), as llm.c does.
 * `bias` is null for nanoGPT's bias=False form.
 */
export function layernormForward(
  out: Float32Array,
  mean: Float32Array,
  rstd: Float32Array,
  x: Float32Array,
  weight: Float32Array,
  bias: Float32Array | null,
  N: number,
  C: number,
  eps: number,
): void {
  for (let i = 0; i < N; i++) {
    const o = i * C;
    let m = 0;
    for (let c = 0; c < C; c++) m += x[o + c]!;
    m /= C;
    let v = 0;
    for (let c = 0; c < C; c++) {
      const d = x[o + c]! - m;
      v += d * d;
    }
    v /= C; // biased variance, as PyTorch's LayerNorm
    const r = 1 / Math.sqrt(v + eps);
    for (let c = 0; c < C; c++) {
      const n = (x[o + c]! - m) * r;
      out[o + c] = n * weight[c]! + (bias === null ? 0 : bias[c]!);
    }
    mean[i] = m;
    rstd[i] = r;
  }
}

/**
 * With norm = (x - mean) rstd and g = dout * weight:
 *   dx = rstd (g - mean(g) - norm mean(g norm)),  dweight += sum over rows dout norm,  dbias += sum dout.
 * Any of dx, dweight, dbias may be null when nothing needs it. dx is added to, or with `accumulateDx` false
 * overwritten (nothing is there yet); dweight and dbias are always added to.
 */
export function layernormBackward(
  dx: Float32Array | null,
  dweight: Float32Array | null,
  dbias: Float32Array | null,
  dout: Float32Array,
  x: Float32Array,
  mean: Float32Array,
  rstd: Float32Array,
  weight: Float32Array,
  N: number,
  C: number,
  accumulateDx = true,
): void {
  if (dx !== null && !accumulateDx) dx.fill(0, 0, N * C);
  for (let i = 0; i < N; i++) {
    const o = i * C;
    const m = mean[i]!,
      r = rstd[i]!;
    let gMean = 0,
      gNormMean = 0;
    for (let c = 0; c < C; c++) {
      const n = (x[o + c]! - m) * r;
      const g = dout[o + c]! * weight[c]!;
      gMean += g;
      gNormMean += g * n;
      if (dweight !== null) dweight[c] += dout[o + c]! * n;
      if (dbias !== null) dbias[c] += dout[o + c]!;
    }
    if (dx === null) continue;
    gMean /= C;
    gNormMean /= C;
    for (let c = 0; c < C; c++) {
      const n = (x[o + c]! - m) * r;
      const g = dout[o + c]! * weight[c]!;
      dx[o + c] += r * (g - gMean - n * gNormMean);
    }
  }
}
