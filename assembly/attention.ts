/**
 * Causal attention, forward and backward, with the semantics of src/engine/kernels/attention.ts: q, k, v,
 * out are [B, T, C] with head h in columns h*hs .. (h+1)*hs; att and keep are [B, nh, T, T].
 *
 * Each (batch, head) is a handful of small matrix products, run on the matmul's packing and 4x8 micro-kernel
 * (gemm.ts) with the causal structure exploited: query rows go four at a time, and a panel of rows only
 * meets the keys its last row can see. Per four query rows, forward:
 *   S = Q K^T (into att),  P = softmax(S * scale) row by row,  out = (P * keep) V
 * and backward, with W = P * keep:
 *   dW = dout V^T,  dS = P (dW keep - rowsum(P dW keep)) scale,  dq += dS K     (rows of queries)
 *   dv += W^T dout,  dk += dS^T q                                               (rows of keys, afterwards)
 * Every product sums its terms in order, one (possibly fused) multiply-add per term; terms past the
 * diagonal are exact zeros. Each kernel's `<name>Scratch` says how much scratch its packed operands (and
 * dS) take; `way` and `first` (src/engine/wasm/wasm_kernels.ts) change nothing here.
 */
import { microTile, packA, packB, TILE_BYTES } from './gemm';
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
function scratchBytes(kind: i32, T: i32, hs: i32): usize {
  const keysByDim = (<usize>hs * pad8(T)) << 2; // a [T, hs] operand packed as B(k = d, j = position)
  const dimsByKeys = (<usize>T * pad8(hs)) << 2; // a [T, hs] operand packed as B(k = position, j = d)
  const aPanel = ((<usize>4 * <usize>max(hs, T)) << 2) + 64 + <usize>TILE_BYTES; // and the edge tile
  if (kind == 0) return keysByDim + dimsByKeys + aPanel + 3 * 64;
  if (kind == 1) return keysByDim + 3 * dimsByKeys + aPanel + ((<usize>T * <usize>T) << 2) + 6 * 64;
  return keysByDim + dimsByKeys + aPanel + ((<usize>4 * <usize>T) << 2) + 4 * 64;
}

export function attentionForwardScratch(
  out: usize, att: usize, q: usize, k: usize, v: usize, keep: usize,
  B: i32, T: i32, nh: i32, hs: i32, scale: f32, ld: i32, h0: i32, hn: i32, way: i32,
): f64 {
  return <f64>scratchBytes(0, T, hs);
}

export function attentionBackwardScratch(
  dq: usize, dk: usize, dv: usize, dout: usize, q: usize, k: usize, v: usize, att: usize, keep: usize,
  B: i32, T: i32, nh: i32, hs: i32, scale: f32, ld: i32, accumulate: bool, way: i32,
): f64 {
  return <f64>scratchBytes(1, T, hs);
}

export function attentionCachedForwardScratch(
  out: usize, q: usize, kCache: usize, vCache: usize, B: i32, Tq: i32, Tmax: i32, offset: i32, nh: i32, hs: i32, scale: f32, way: i32,
): f64 {
  return <f64>scratchBytes(2, offset + Tq, hs);
}

/** The largest of scale * row[0..n) (each product rounded to float32, as the reference does), n >= 1. */
// @ts-ignore: decorator
@inline function scaledMax(row: usize, n: i32, vscale: v128, scale: f32): v128 {
  const nv = (<usize>(n & ~3)) << 2, nb = (<usize>n) << 2;
  let vm = f32x4.splat(-Infinity);
  let o: usize = 0;
  for (; o < nv; o += 16) vm = f32x4.pmax(vm, f32x4.mul(v128.load(row + o), vscale));
  let m = hmax(vm);
  for (; o < nb; o += 4) m = max<f32>(m, load<f32>(row + o) * scale);
  return f32x4.splat(m);
}

/** exp(scale * x - max) of the four floats at row + o. */
// @ts-ignore: decorator
@inline function expScaled(row: usize, o: usize, vscale: v128, vmax: v128): v128 {
  return exp4(f32x4.sub(f32x4.mul(v128.load(row + o), vscale), vmax));
}

/**
 * Replaces row[o/4 .. n) by exp(scale * x - max), whole vectors first, then the last n % 4 floats as one
 * vector (-inf in the unused lanes, which exp turns to 0); returns acc plus every vector, added in order.
 */
// @ts-ignore: decorator
@inline function expRest(row: usize, n: i32, o: usize, acc: v128, vscale: v128, vmax: v128, scale: f32): v128 {
  const nv = (<usize>(n & ~3)) << 2, nb = (<usize>n) << 2;
  for (; o < nv; o += 16) {
    const e = expScaled(row, o, vscale, vmax);
    v128.store(row + o, e);
    acc = f32x4.add(acc, e);
  }
  if (o < nb) {
    const tail = nb - o;
    let t = f32x4.splat(-Infinity);
    t = f32x4.replace_lane(t, 0, load<f32>(row + o) * scale);
    if (tail > 4) t = f32x4.replace_lane(t, 1, load<f32>(row + o, 4) * scale);
    if (tail > 8) t = f32x4.replace_lane(t, 2, load<f32>(row + o, 8) * scale);
    const e = exp4(f32x4.sub(t, vmax));
    store<f32>(row + o, f32x4.extract_lane(e, 0));
    if (tail > 4) store<f32>(row + o, f32x4.extract_lane(e, 1), 4);
    if (tail > 8) store<f32>(row + o, f32x4.extract_lane(e, 2), 8);
    acc = f32x4.add(acc, e);
  }
  return acc;
}

/** row[0..n) *= 1 / (the sum of acc's lanes). */
// @ts-ignore: decorator
@inline function divideBySum(row: usize, n: i32, acc: v128): void {
  const nv = (<usize>(n & ~3)) << 2, nb = (<usize>n) << 2;
  const inv: f32 = 1 / hsum(acc);
  const vinv = f32x4.splat(inv);
  let o: usize = 0;
  for (; o < nv; o += 16) v128.store(row + o, f32x4.mul(v128.load(row + o), vinv));
  for (; o < nb; o += 4) store<f32>(row + o, load<f32>(row + o) * inv);
}

/**
 * Softmax of scale * x over each of mr rows (ldS bytes apart) of lengths n0, n0 + 1, ...: a panel of queries.
 * exp is a long chain of dependent operations, so four rows go together, one vector of each per step: four
 * chains in flight. Every row takes the same operations in the same order whether it comes alone or in a panel
 * (one accumulator, vectors added in order), so a query's weights do not depend on its neighbours: the cached
 * path, one query at a time, gets the bits of the uncached one.
 */
function softmaxScaledRows(s: usize, ldS: usize, mr: i32, n0: i32, scale: f32): void {
  const vscale = f32x4.splat(scale);
  const zero = f32x4.splat(0);
  if (mr == 4) {
    const r0 = s, r1 = r0 + ldS, r2 = r1 + ldS, r3 = r2 + ldS;
    const m0 = scaledMax(r0, n0, vscale, scale), m1 = scaledMax(r1, n0 + 1, vscale, scale);
    const m2 = scaledMax(r2, n0 + 2, vscale, scale), m3 = scaledMax(r3, n0 + 3, vscale, scale);
    let a0 = zero, a1 = zero, a2 = zero, a3 = zero;
    const shared = (<usize>(n0 & ~3)) << 2; // whole vectors of the shortest row, so of all four
    let o: usize = 0;
    for (; o < shared; o += 16) {
      const e0 = expScaled(r0, o, vscale, m0), e1 = expScaled(r1, o, vscale, m1);
      const e2 = expScaled(r2, o, vscale, m2), e3 = expScaled(r3, o, vscale, m3);
      v128.store(r0 + o, e0);
      v128.store(r1 + o, e1);
      v128.store(r2 + o, e2);
      v128.store(r3 + o, e3);
      a0 = f32x4.add(a0, e0);
      a1 = f32x4.add(a1, e1);
      a2 = f32x4.add(a2, e2);
      a3 = f32x4.add(a3, e3);
    }
    divideBySum(r0, n0, expRest(r0, n0, o, a0, vscale, m0, scale));
    divideBySum(r1, n0 + 1, expRest(r1, n0 + 1, o, a1, vscale, m1, scale));
    divideBySum(r2, n0 + 2, expRest(r2, n0 + 2, o, a2, vscale, m2, scale));
    divideBySum(r3, n0 + 3, expRest(r3, n0 + 3, o, a3, vscale, m3, scale));
    return;
  }
  for (let r = 0; r < mr; r++) {
    const row = s + <usize>r * ldS, n = n0 + r;
    const m = scaledMax(row, n, vscale, scale);
    divideBySum(row, n, expRest(row, n, 0, zero, vscale, m, scale));
  }
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
    softmaxScaledRows(sp, ldS, mr, p0 + i0 + 1, scale);
    const end = panelLocal ? ncols : rowLen;
    for (let r = 0; r < mr; r++) {
      const n = p0 + i0 + r + 1;
      if (n < end) memory.fill(sp + <usize>r * ldS + ((<usize>n) << 2), 0, (<usize>(end - n)) << 2);
    }
    packA(pA, sp, ldsFloats, 1, 0, mr, 0, ncols, keep != 0 ? keep + <usize>i0 * ldS : 0);
    const orow = out + <usize>i0 * outStride;
    for (let j0 = 0; j0 < hs; j0 += 8) {
      microTile(ncols, pA, pV + ((<usize>j0 * <usize>nk) << 2), orow + ((<usize>j0) << 2), outStride, mr, min(8, hs - j0), false, tile);
    }
  }
}

/**
 * Rows of q, k, v are `ld` floats apart (nh * hs, or 3 * nh * hs inside a fused projection's output). Runs
 * heads h0 .. h0 + hn - 1 of the nh (all of them: 0, nh): threads split a single sequence by heads.
 */
export function attentionForward(
  out: usize, att: usize, q: usize, k: usize, v: usize, keep: usize,
  B: i32, T: i32, nh: i32, hs: i32, scale: f32, ld: i32, h0: i32, hn: i32, scratch: usize, way: i32, first: i32,
): void {
  const stride = (<usize>ld) << 2, outStride = (<usize>(nh * hs)) << 2;
  const ldS = (<usize>T) << 2;
  for (let b = 0; b < B; b++) {
    for (let h = h0; h < h0 + hn; h++) {
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
  B: i32, Tq: i32, Tmax: i32, offset: i32, nh: i32, hs: i32, scale: f32, scratch: usize, way: i32, first: i32,
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
 * Backward into dq, dk, dv (see the top of the file); scratch of attentionBackwardScratch bytes. Each of
 * their rows is one product's output, so `accumulate` false overwrites them (nothing there yet: no zeroing
 * pass) where true adds. Any of dq, dk, dv may be 0 (null): that gradient is not needed, and nothing is
 * written for it.
 * Rows of q, k, v, dq, dk, dv are `ld` floats apart, rows of dout nh * hs.
 */
export function attentionBackward(
  dq: usize, dk: usize, dv: usize, dout: usize, q: usize, k: usize, v: usize, att: usize, keep: usize,
  B: i32, T: i32, nh: i32, hs: i32, scale: f32, ld: i32, accumulate: bool, scratch: usize, way: i32, first: i32,
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
          microTile(ncols, pA, pK + ((<usize>j0 * <usize>T) << 2), dqr + ((<usize>j0) << 2), stride, mr, min(8, hs - j0), accumulate, tile);
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
            microTile(kc, pA, pdO + ((<usize>j0 * <usize>T) << 2) + skip, dvr + ((<usize>j0) << 2), stride, mr, min(8, hs - j0), accumulate, tile);
          }
        }
        if (dk != 0) {
          packA(pA, G, 1, T, s0, mr, s0, kc, 0);
          for (let j0 = 0; j0 < hs; j0 += 8) {
            microTile(kc, pA, pQ + ((<usize>j0 * <usize>T) << 2) + skip, dkr + ((<usize>j0) << 2), stride, mr, min(8, hs - j0), accumulate, tile);
          }
        }
      }
    }
  }
}
