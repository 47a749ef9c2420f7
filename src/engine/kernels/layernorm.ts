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
 * The input gradient, with norm = (x - mean) rstd and g = dout * weight:
 *   dx = rstd (g - mean(g) - norm mean(g norm))
 * added into dx, or with `accumulate` false written over it (nothing is there yet).
 */
export function layernormBackwardInput(
  dx: Float32Array,
  dout: Float32Array,
  x: Float32Array,
  mean: Float32Array,
  rstd: Float32Array,
  weight: Float32Array,
  N: number,
  C: number,
  accumulate: boolean,
): void {
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
    }
    gMean /= C;
    gNormMean /= C;
    for (let c = 0; c < C; c++) {
      const n = (x[o + c]! - m) * r;
      const d = r * (dout[o + c]! * weight[c]! - gMean - n * gNormMean);
      dx[o + c] = accumulate ? dx[o + c]! + d : d;
    }
  }
}

/**
 * The weight and bias gradients: dweight += sum over rows of dout norm, dbias += sum over rows of dout, for
 * `cols` columns of N rows that are `ld` floats apart (a block of columns, when threads split the work).
 * Either may be null when not needed. Each column sums its rows in order.
 */
export function layernormBackwardParams(
  dweight: Float32Array | null,
  dbias: Float32Array | null,
  dout: Float32Array,
  x: Float32Array,
  mean: Float32Array,
  rstd: Float32Array,
  N: number,
  cols: number,
  ld: number,
): void {
  for (let i = 0; i < N; i++) {
    const o = i * ld;
    const m = mean[i]!,
      r = rstd[i]!;
    for (let c = 0; c < cols; c++) {
      const n = (x[o + c]! - m) * r;
      if (dweight !== null) dweight[c] += dout[o + c]! * n;
      if (dbias !== null) dbias[c] += dout[o + c]!;
    }
  }
}
