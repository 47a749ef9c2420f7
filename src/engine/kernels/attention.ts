/**
 * Causal scaled-dot-product attention. q, k, v and out are [B, T, C] with C = nh * hs: head h owns columns
 * h*hs .. (h+1)*hs of every row, which is nanoGPT's view(B, T, nh, hs).transpose(1, 2) without moving a byte.
 * Rows of q, k and v (and of their gradients) are `ld` floats apart (C by default): 3C reads them straight out
 * of a fused projection's output [B, T, 3C], as nanoGPT's split does, again without a copy.
 *   att[b,h,t,:] = softmax over s <= t of (q[b,t,h] . k[b,s,h]) * scale      (scale = 1/sqrt(hs))
 *   out[b,t,h]   = sum over s <= t of att[b,h,t,s] * keep[b,h,t,s] * v[b,s,h]
 * att [B, nh, T, T] is saved for the backward (zeros above the diagonal). `keep` is the attention dropout
 * multiplier (0 or 1/(1-p)), same shape as att, or null without dropout. Only heads h0 .. h0 + hn - 1 are
 * computed (all: 0, nh), so that threads can split one long sequence by heads.
 */
export function attentionForward(
  out: Float32Array,
  att: Float32Array,
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  keep: Float32Array | null,
  B: number,
  T: number,
  nh: number,
  hs: number,
  scale: number,
  ld: number,
  h0: number,
  hn: number,
): void {
  const C = nh * hs;
  for (let b = 0; b < B; b++) {
    for (let h = h0; h < h0 + hn; h++) {
      for (let t = 0; t < T; t++) {
        const qo = (b * T + t) * ld + h * hs,
          oo = (b * T + t) * C + h * hs;
        const row = ((b * nh + h) * T + t) * T;
        let max = -Infinity;
        for (let s = 0; s <= t; s++) {
          const ko = (b * T + s) * ld + h * hs;
          let dot = 0;
          for (let d = 0; d < hs; d++) dot += q[qo + d]! * k[ko + d]!;
          dot *= scale;
          att[row + s] = dot;
          if (dot > max) max = dot;
        }
        let sum = 0;
        for (let s = 0; s <= t; s++) {
          const e = Math.exp(att[row + s]! - max);
          att[row + s] = e;
          sum += e;
        }
        const inv = 1 / sum;
        for (let s = 0; s <= t; s++) att[row + s] *= inv;
        for (let s = t + 1; s < T; s++) att[row + s] = 0;
        for (let d = 0; d < hs; d++) out[oo + d] = 0;
        for (let s = 0; s <= t; s++) {
          const w = keep === null ? att[row + s]! : att[row + s]! * keep[row + s]!;
          const vo = (b * T + s) * ld + h * hs;
          for (let d = 0; d < hs; d++) out[oo + d] += w * v[vo + d]!;
        }
      }
    }
  }
}

/** A row of scores (backward: of their gradients), kept between calls. */
let scratch: Float32Array = new Float32Array(0);

/**
 * Backward of the above, accumulating into dq, dk, dv (each null when not needed). For one query row, with
 * P = att and W = P * keep:
 *   dv[s] += W[s] dout[t];   dW[s] = dout[t] . v[s];   dP = dW * keep;
 *   dscore[s] = P[s] (dP[s] - sum_r P[r] dP[r]) * scale;   dq[t] += dscore[s] k[s];   dk[s] += dscore[s] q[t]
 * With `accumulate` false, the heads' columns of dq, dk, dv are overwritten instead (nothing is there yet).
 */
export function attentionBackward(
  dq: Float32Array | null,
  dk: Float32Array | null,
  dv: Float32Array | null,
  dout: Float32Array,
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  att: Float32Array,
  keep: Float32Array | null,
  B: number,
  T: number,
  nh: number,
  hs: number,
  scale: number,
  ld: number,
  accumulate: boolean,
): void {
  const C = nh * hs;
  if (!accumulate) {
    for (let row = 0; row < B * T; row++) {
      for (const g of [dq, dk, dv]) g?.fill(0, row * ld, row * ld + C);
    }
  }
  if (scratch.length < T) scratch = new Float32Array(T);
  const dP = scratch;
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < nh; h++) {
      for (let t = 0; t < T; t++) {
        const qo = (b * T + t) * ld + h * hs,
          oo = (b * T + t) * C + h * hs;
        const row = ((b * nh + h) * T + t) * T;
        let pdp = 0;
        for (let s = 0; s <= t; s++) {
          const vo = (b * T + s) * ld + h * hs;
          const m = keep === null ? 1 : keep[row + s]!;
          const w = att[row + s]! * m;
          let dw = 0;
          for (let d = 0; d < hs; d++) dw += dout[oo + d]! * v[vo + d]!;
          if (dv !== null) for (let d = 0; d < hs; d++) dv[vo + d] += w * dout[oo + d]!;
          dP[s] = dw * m;
          pdp += att[row + s]! * dP[s]!;
        }
        if (dq === null && dk === null) continue;
        for (let s = 0; s <= t; s++) {
          const ds = att[row + s]! * (dP[s]! - pdp) * scale;
          const ko = (b * T + s) * ld + h * hs;
          if (dq !== null) for (let d = 0; d < hs; d++) dq[qo + d] += ds * k[ko + d]!;
          if (dk !== null) for (let d = 0; d < hs; d++) dk[ko + d] += ds * q[qo + d]!;
        }
      }
    }
  }
}

/**
 * Attention for Tq new queries against a key/value cache, for sampling: q and out are [B, Tq, C]; kCache and
 * vCache are [B, Tmax, C] and already hold the keys and values of positions 0 .. offset + Tq - 1; query i is
 * at position offset + i and attends to positions 0 .. offset + i. It rounds every intermediate to float32
 * exactly where attentionForward does (att is a float32 row there), so the cached path reproduces the
 * uncached one bit for bit.
 */
export function attentionCachedForward(
  out: Float32Array,
  q: Float32Array,
  kCache: Float32Array,
  vCache: Float32Array,
  B: number,
  Tq: number,
  Tmax: number,
  offset: number,
  nh: number,
  hs: number,
  scale: number,
): void {
  const C = nh * hs;
  if (scratch.length < offset + Tq) scratch = new Float32Array(offset + Tq);
  const row = scratch;
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < nh; h++) {
      for (let i = 0; i < Tq; i++) {
        const t = offset + i;
        const qo = (b * Tq + i) * C + h * hs;
        let max = -Infinity;
        for (let s = 0; s <= t; s++) {
          const ko = (b * Tmax + s) * C + h * hs;
          let dot = 0;
          for (let d = 0; d < hs; d++) dot += q[qo + d]! * kCache[ko + d]!;
          dot *= scale;
          row[s] = dot;
          if (dot > max) max = dot;
        }
        let sum = 0;
        for (let s = 0; s <= t; s++) {
          const e = Math.exp(row[s]! - max);
          row[s] = e;
          sum += e;
        }
        const inv = 1 / sum;
        for (let s = 0; s <= t; s++) row[s] *= inv;
        for (let d = 0; d < hs; d++) out[qo + d] = 0;
        for (let s = 0; s <= t; s++) {
          const w = row[s]!;
          const vo = (b * Tmax + s) * C + h * hs;
          for (let d = 0; d < hs; d++) out[qo + d] += w * vCache[vo + d]!;
        }
      }
    }
  }
}
