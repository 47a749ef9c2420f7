/**
 * Causal attention, forward and backward, with the semantics of src/engine/kernels/attention.ts: q, k, v,
 * out are [B, T, C] with head h in columns h*hs .. (h+1)*hs; att and keep are [B, nh, T, T].
 *
 * Each (batch, head) is a handful of small matrix products, run on the matmul's packing and 4x8 micro-kernel
 * (matmul.ts) with the causal structure exploited: query rows go four at a time, and a panel of rows only
 * meets the keys its last row can see. Per four query rows, forward:
 *   S = Q K^T (into att),  P = softmax(S * scale) row by row,  out = (P * keep) V
 * and backward, with W = P * keep:
 *   dW = dout V^T,  dS = P (dW keep - rowsum(P dW keep)) scale,  dq += dS K     (rows of queries)
 *   dv += W^T dout,  dk += dS^T q                                               (rows of keys, afterwards)
 * Every product sums its terms in order, one (possibly fused) multiply-add per term; terms past the
 * diagonal are exact zeros. The caller provides scratch of attentionScratchBytes() bytes for the packed
 * operands (and dS).
 */
import { microTile, packA, packB, TILE_BYTES } from './matmul';
import { exp4, hmax, hsum } from './simd';

// @ts-ignore: decorator
@inline function pad8(n: i32): usize {
  return <usize>((n + 7) & ~7);
}

// @ts-ignore: decorator
@inline function align64(p: usize): usize {
  return (p + 63) & ~(<usize>63);
}

/**
 * Scratch bytes for kind 0 (forward over T positions), 1 (backward over T positions) or 2 (cached forward
 * with T = offset + Tq keys), head size hs.
 */
export function attentionScratchBytes(kind: i32, T: i32, hs: i32): usize {
  const keysByDim = (<usize>hs * pad8(T)) << 2; // a [T, hs] operand packed as B(k = d, j = position)
  const dimsByKeys = (<usize>T * pad8(hs)) << 2; // a [T, hs] operand packed as B(k = position, j = d)
  const aPanel = ((<usize>4 * <usize>max(hs, T)) << 2) + 64 + <usize>TILE_BYTES; // and the edge tile
  if (kind == 0) return keysByDim + dimsByKeys + aPanel + 3 * 64;
  if (kind == 1) return keysByDim + 3 * dimsByKeys + aPanel + ((<usize>T * <usize>T) << 2) + 6 * 64;
  return keysByDim + dimsByKeys + aPanel + ((<usize>4 * <usize>T) << 2) + 4 * 64;
}

/** row[0..n) = softmax(scale * row[0..n)), with scale * x rounded to float32 first as the reference does. */
function softmaxScaledRow(row: usize, n: i32, scale: f32): void {
  const nv = (<usize>(n & ~3)) << 2, nb = (<usize>n) << 2;
  const vscale = f32x4.splat(scale);
  let vm = f32x4.splat(-Infinity);
  let o: usize = 0;
  for (; o < nv; o += 16) vm = f32x4.pmax(vm, f32x4.mul(v128.load(row + o), vscale));
  let m = hmax(vm);
  for (; o < nb; o += 4) m = max<f32>(m, load<f32>(row + o) * scale);
  const vmax = f32x4.splat(m);
  let s0 = f32x4.splat(0), s1 = s0;
  // Two vectors per iteration: exp is a long dependency chain.
  for (o = 0; o + 32 <= nv; o += 32) {
    const e0 = exp4(f32x4.sub(f32x4.mul(v128.load(row + o), vscale), vmax));
    const e1 = exp4(f32x4.sub(f32x4.mul(v128.load(row + o, 16), vscale), vmax));
    v128.store(row + o, e0);
    v128.store(row + o, e1, 16);
    s0 = f32x4.add(s0, e0);
    s1 = f32x4.add(s1, e1);
  }
  for (; o < nv; o += 16) {
    const e = exp4(f32x4.sub(f32x4.mul(v128.load(row + o), vscale), vmax));
    v128.store(row + o, e);
    s0 = f32x4.add(s0, e);
  }
  if (o < nb) {
    // The last n % 4 values as one vector, -inf in the unused lanes (exp gives 0 there).
    const tail = nb - o;
    let t = f32x4.splat(-Infinity);
    t = f32x4.replace_lane(t, 0, load<f32>(row + o) * scale);
    if (tail > 4) t = f32x4.replace_lane(t, 1, load<f32>(row + o, 4) * scale);
    if (tail > 8) t = f32x4.replace_lane(t, 2, load<f32>(row + o, 8) * scale);
    const e = exp4(f32x4.sub(t, vmax));
    store<f32>(row + o, f32x4.extract_lane(e, 0));
    if (tail > 4) store<f32>(row + o, f32x4.extract_lane(e, 1), 4);
    if (tail > 8) store<f32>(row + o, f32x4.extract_lane(e, 2), 8);
    s1 = f32x4.add(s1, e);
  }
  const inv: f32 = 1 / hsum(f32x4.add(s0, s1));
  const vinv = f32x4.splat(inv);
  for (o = 0; o < nv; o += 16) v128.store(row + o, f32x4.mul(v128.load(row + o), vinv));
  for (; o < nb; o += 4) store<f32>(row + o, load<f32>(row + o) * inv);
}

/**
 * One (batch, head): nq queries at positions p0 .. p0+nq-1 attend to keys/values 0 .. p0+nq-1. q, out, k, v
 * point at (row 0, head h); rows of q, k, v are `stride` bytes apart, rows of out `outStride`.
 * Scores of query i go to s + i*ldS, or, when
 * `panelLocal`, to s + (i % 4)*ldS (four rows of scratch); rows are zero-filled up to rowLen (panelLocal: up
 * to the panel's last key). `keep` (0 for none) has the layout of the score rows.
 */
function headForward(
  out: usize, q: usize, k: usize, v: usize, stride: usize, outStride: usize, nq: i32, p0: i32, hs: i32, scale: f32,
  s: usize, ldS: usize, panelLocal: bool, rowLen: i32, keep: usize, scratch: usize,
): void {
  const nk = p0 + nq;
  const cs = <i32>(stride >> 2);
  const pK = align64(scratch);
  const pV = align64(pK + ((<usize>hs * pad8(nk)) << 2));
  const pA = align64(pV + ((<usize>nk * pad8(hs)) << 2));
  const tile = align64(pA + ((<usize>4 * <usize>max(hs, nk)) << 2));
  packB(pK, k, 1, cs, 0, hs, 0, nk); // B(d, key) = k[key, d]
  packB(pV, v, cs, 1, 0, nk, 0, hs); // B(key, d) = v[key, d]
  const ldsFloats = <i32>(ldS >> 2);
  for (let i0 = 0; i0 < nq; i0 += 4) {
    const mr = min(4, nq - i0);
    const ncols = p0 + i0 + mr; // keys the panel's last query sees
    const sp = panelLocal ? s : s + <usize>i0 * ldS;
    packA(pA, q, cs, 1, i0, mr, 0, hs, 0);
    for (let j0 = 0; j0 < ncols; j0 += 8) {
      microTile(hs, pA, pK + ((<usize>j0 * <usize>hs) << 2), sp + ((<usize>j0) << 2), ldS, mr, min(8, ncols - j0), false, tile);
    }
    const end = panelLocal ? ncols : rowLen;
    for (let r = 0; r < mr; r++) {
      const row = sp + <usize>r * ldS;
      const n = p0 + i0 + r + 1;
      softmaxScaledRow(row, n, scale);
      if (n < end) memory.fill(row + ((<usize>n) << 2), 0, (<usize>(end - n)) << 2);
    }
    packA(pA, sp, ldsFloats, 1, 0, mr, 0, ncols, keep != 0 ? keep + <usize>i0 * ldS : 0);
    const orow = out + <usize>i0 * outStride;
    for (let j0 = 0; j0 < hs; j0 += 8) {
      microTile(ncols, pA, pV + ((<usize>j0 * <usize>nk) << 2), orow + ((<usize>j0) << 2), outStride, mr, min(8, hs - j0), false, tile);
    }
  }
}

/** Rows of q, k, v are `ld` floats apart (nh * hs, or 3 * nh * hs inside a fused projection's output). */
export function attentionForward(
  out: usize, att: usize, q: usize, k: usize, v: usize, keep: usize,
  B: i32, T: i32, nh: i32, hs: i32, scale: f32, scratch: usize, ld: i32,
): void {
  const stride = (<usize>ld) << 2, outStride = (<usize>(nh * hs)) << 2;
  const ldS = (<usize>T) << 2;
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < nh; h++) {
      const head = (<usize>(h * hs)) << 2;
      const base = (<usize>b * <usize>T) * stride + head, outBase = (<usize>b * <usize>T) * outStride + head;
      const attBase = (<usize>(b * nh + h) * <usize>T) * ldS;
      headForward(
        out + outBase, q + base, k + base, v + base, stride, outStride, T, 0, hs, scale,
        att + attBase, ldS, false, T, keep != 0 ? keep + attBase : 0, scratch,
      );
    }
  }
}

/**
 * Attention of Tq new queries (positions offset .. offset + Tq - 1) over a key/value cache [B, Tmax, C], for
 * sampling. Same arithmetic as attentionForward for those rows (the products only gain exact zero terms), so
 * the cached path reproduces the uncached one bit for bit.
 */
export function attentionCachedForward(
  out: usize, q: usize, kCache: usize, vCache: usize,
  B: i32, Tq: i32, Tmax: i32, offset: i32, nh: i32, hs: i32, scale: f32, scratch: usize,
): void {
  const stride = (<usize>(nh * hs)) << 2;
  const nk = offset + Tq;
  const ldS = (<usize>nk) << 2;
  const rows = align64(scratch);
  const rest = rows + ((<usize>4 * <usize>nk) << 2);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < nh; h++) {
      const head = (<usize>(h * hs)) << 2;
      const qo = (<usize>b * <usize>Tq) * stride + head;
      const co = (<usize>b * <usize>Tmax) * stride + head;
      headForward(out + qo, q + qo, kCache + co, vCache + co, stride, stride, Tq, offset, hs, scale, rows, ldS, true, 0, 0, rest);
    }
  }
}

/**
 * Backward, accumulating into dq, dk, dv (see the top of the file); scratch of attentionScratchBytes(1, T, hs).
 * Any of dq, dk, dv may be 0 (null): that gradient is not needed, and nothing is written for it.
 * Rows of q, k, v, dq, dk, dv are `ld` floats apart, rows of dout nh * hs.
 */
export function attentionBackward(
  dq: usize, dk: usize, dv: usize, dout: usize, q: usize, k: usize, v: usize, att: usize, keep: usize,
  B: i32, T: i32, nh: i32, hs: i32, scale: f32, scratch: usize, ld: i32,
): void {
  const stride = (<usize>ld) << 2;
  const cs = ld, csOut = nh * hs;
  const ldG = (<usize>T) << 2;
  const pVt = align64(scratch);
  const pdO = align64(pVt + ((<usize>hs * pad8(T)) << 2));
  const dimsByKeys = (<usize>T * pad8(hs)) << 2;
  const pK = align64(pdO + dimsByKeys);
  const pQ = align64(pK + dimsByKeys);
  const G = align64(pQ + dimsByKeys);
  const pA = align64(G + ((<usize>T * <usize>T) << 2));
  const tile = align64(pA + ((<usize>4 * <usize>max(hs, T)) << 2));
  const vscale = f32x4.splat(scale);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < nh; h++) {
      const head = (<usize>(h * hs)) << 2;
      const base = (<usize>b * <usize>T) * stride + head, outBase = (<usize>(b * T * csOut) << 2) + head;
      const attBase = (<usize>(b * nh + h) * <usize>T) * ldG;
      const P = att + attBase, M = keep != 0 ? keep + attBase : 0;
      packB(pVt, v + base, 1, cs, 0, hs, 0, T); // B(d, s) = v[s, d]
      packB(pdO, dout + outBase, csOut, 1, 0, T, 0, hs); // B(t, d) = dout[t, d]
      packB(pK, k + base, cs, 1, 0, T, 0, hs); // B(s, d) = k[s, d]
      packB(pQ, q + base, cs, 1, 0, T, 0, hs); // B(t, d) = q[t, d]
      // Rows of queries: dW, then dS in place (G), then dq.
      for (let i0 = 0; i0 < T; i0 += 4) {
        const mr = min(4, T - i0);
        const ncols = i0 + mr;
        const gp = G + <usize>i0 * ldG;
        packA(pA, dout + outBase, csOut, 1, i0, mr, 0, hs, 0);
        for (let j0 = 0; j0 < ncols; j0 += 8) {
          microTile(hs, pA, pVt + ((<usize>j0 * <usize>hs) << 2), gp + ((<usize>j0) << 2), ldG, mr, min(8, ncols - j0), false, tile);
        }
        for (let r = 0; r < mr; r++) {
          const t = i0 + r, n = t + 1;
          const g = gp + <usize>r * ldG, p = P + <usize>t * ldG, m = M != 0 ? M + <usize>t * ldG : 0;
          const nv = (<usize>(n & ~3)) << 2, nb = (<usize>n) << 2;
          // dP = dW * keep (in place), and sum P dP
          let acc = f32x4.splat(0);
          let o: usize = 0;
          for (; o < nv; o += 16) {
            let d = v128.load(g + o);
            if (m != 0) d = f32x4.mul(d, v128.load(m + o));
            v128.store(g + o, d);
            acc = f32x4.add(acc, f32x4.mul(v128.load(p + o), d));
          }
          let pdp = hsum(acc);
          for (; o < nb; o += 4) {
            let d = load<f32>(g + o);
            if (m != 0) d *= load<f32>(m + o);
            store<f32>(g + o, d);
            pdp += load<f32>(p + o) * d;
          }
          // dS = P (dP - pdp) scale; zeros past the diagonal (later products read them)
          const vpdp = f32x4.splat(pdp);
          for (o = 0; o < nv; o += 16) {
            v128.store(g + o, f32x4.mul(f32x4.mul(v128.load(p + o), f32x4.sub(v128.load(g + o), vpdp)), vscale));
          }
          for (; o < nb; o += 4) store<f32>(g + o, load<f32>(p + o) * (load<f32>(g + o) - pdp) * scale);
          if (n < T) memory.fill(g + nb, 0, (<usize>(T - n)) << 2);
        }
        if (dq == 0) continue;
        packA(pA, gp, T, 1, 0, mr, 0, ncols, 0);
        const dqr = dq + base + <usize>i0 * stride;
        for (let j0 = 0; j0 < hs; j0 += 8) {
          microTile(ncols, pA, pK + ((<usize>j0 * <usize>T) << 2), dqr + ((<usize>j0) << 2), stride, mr, min(8, hs - j0), true, tile);
        }
      }
      // Rows of keys: dv += W^T dout and dk += dS^T q over the queries t >= s.
      for (let s0 = 0; s0 < T; s0 += 4) {
        const mr = min(4, T - s0), kc = T - s0;
        const skip = (<usize>s0) << 5; // depth s0 into a packed panel
        const dvr = dv + base + <usize>s0 * stride, dkr = dk + base + <usize>s0 * stride;
        if (dv != 0) {
          packA(pA, P, 1, T, s0, mr, s0, kc, M);
          for (let j0 = 0; j0 < hs; j0 += 8) {
            microTile(kc, pA, pdO + ((<usize>j0 * <usize>T) << 2) + skip, dvr + ((<usize>j0) << 2), stride, mr, min(8, hs - j0), true, tile);
          }
        }
        if (dk != 0) {
          packA(pA, G, 1, T, s0, mr, s0, kc, 0);
          for (let j0 = 0; j0 < hs; j0 += 8) {
            microTile(kc, pA, pQ + ((<usize>j0 * <usize>T) << 2) + skip, dkr + ((<usize>j0) << 2), stride, mr, min(8, hs - j0), true, tile);
          }
        }
      }
    }
  }
}
