/**
 * Causal attention, forward and backward, one (batch, head, query) row at a time. q, k, v, out are [B, T, C]
 * with head h in columns h*hs .. (h+1)*hs; att and keep are [B, nh, T, T]. The semantics are exactly those of
 * src/engine/kernels/attention.ts. Scores are computed four keys at a time (four f32x4 dot-product accumulators
 * reduced together); weighted sums of value rows keep up to eight f32x4 accumulators over the head dimension.
 */
import { exp4, exp1, hmax, hsum, hsum4, madd } from './simd';

/** Dot product of n floats. */
// @ts-ignore: decorator
@inline function dot(x: usize, y: usize, n: i32): f32 {
  let acc = f32x4.splat(0);
  const nv = (<usize>(n & ~3)) << 2, nb = (<usize>n) << 2;
  let o: usize = 0;
  for (; o < nv; o += 16) acc = madd(v128.load(x + o), v128.load(y + o), acc);
  let s = hsum(acc);
  for (; o < nb; o += 4) s += load<f32>(x + o) * load<f32>(y + o);
  return s;
}

/** row[s] = scale * (q . k_s) for s < n, key s at kp + s*stride. */
// @ts-ignore: decorator
@inline function scores(row: usize, qp: usize, kp: usize, stride: usize, n: i32, hs: i32, scale: f32): void {
  const nv = (<usize>(hs & ~3)) << 2, nb = (<usize>hs) << 2;
  const vscale = f32x4.splat(scale);
  let s = 0;
  for (; s + 4 <= n; s += 4) {
    const k0 = kp + (<usize>s) * stride, k1 = k0 + stride, k2 = k1 + stride, k3 = k2 + stride;
    let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0;
    let o: usize = 0;
    for (; o < nv; o += 16) {
      const x = v128.load(qp + o);
      a0 = madd(x, v128.load(k0 + o), a0);
      a1 = madd(x, v128.load(k1 + o), a1);
      a2 = madd(x, v128.load(k2 + o), a2);
      a3 = madd(x, v128.load(k3 + o), a3);
    }
    let r = hsum4(a0, a1, a2, a3);
    if (o < nb) {
      let t0: f32 = 0, t1: f32 = 0, t2: f32 = 0, t3: f32 = 0;
      for (; o < nb; o += 4) {
        const x = load<f32>(qp + o);
        t0 += x * load<f32>(k0 + o);
        t1 += x * load<f32>(k1 + o);
        t2 += x * load<f32>(k2 + o);
        t3 += x * load<f32>(k3 + o);
      }
      r = f32x4.add(r, f32x4(t0, t1, t2, t3));
    }
    v128.store(row + ((<usize>s) << 2), f32x4.mul(r, vscale));
  }
  for (; s < n; s++) store<f32>(row + ((<usize>s) << 2), dot(qp, kp + (<usize>s) * stride, hs) * scale);
}

/** row[0..n) = softmax(row[0..n)). */
// @ts-ignore: decorator
@inline function softmaxRow(row: usize, n: i32): void {
  const nv = (<usize>(n & ~3)) << 2, nb = (<usize>n) << 2;
  let vm = f32x4.splat(-Infinity);
  let o: usize = 0;
  for (; o < nv; o += 16) vm = f32x4.pmax(vm, v128.load(row + o));
  let m = hmax(vm);
  for (; o < nb; o += 4) m = max<f32>(m, load<f32>(row + o));
  const vmax = f32x4.splat(m);
  let vs = f32x4.splat(0);
  for (o = 0; o < nv; o += 16) {
    const e = exp4(f32x4.sub(v128.load(row + o), vmax));
    v128.store(row + o, e);
    vs = f32x4.add(vs, e);
  }
  let sum = hsum(vs);
  for (; o < nb; o += 4) {
    const e = exp1(load<f32>(row + o) - m);
    store<f32>(row + o, e);
    sum += e;
  }
  const inv: f32 = 1 / sum;
  const vinv = f32x4.splat(inv);
  for (o = 0; o < nv; o += 16) v128.store(row + o, f32x4.mul(v128.load(row + o), vinv));
  for (; o < nb; o += 4) store<f32>(row + o, load<f32>(row + o) * inv);
}

/**
 * dst[0..hs) = sum over s < n of w_s * v_s, with w_s = att[s] (* keep[s]) and value s at vp + s*stride.
 * The head dimension goes in blocks of 8, 4 and 1 vectors (accumulators in registers), then a scalar tail.
 */
// @ts-ignore: decorator
@inline function weightedSum(dst: usize, att: usize, keep: usize, hasKeep: bool, vp: usize, stride: usize, n: i32, hs: i32): void {
  const nb = (<usize>hs) << 2;
  let o: usize = 0;
  for (; o + 128 <= nb; o += 128) {
    let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
    let p = vp + o;
    for (let s = 0; s < n; s++) {
      const so = (<usize>s) << 2;
      let w = v128.load32_splat(att + so);
      if (hasKeep) w = f32x4.mul(w, v128.load32_splat(keep + so));
      a0 = madd(w, v128.load(p), a0);
      a1 = madd(w, v128.load(p, 16), a1);
      a2 = madd(w, v128.load(p, 32), a2);
      a3 = madd(w, v128.load(p, 48), a3);
      a4 = madd(w, v128.load(p, 64), a4);
      a5 = madd(w, v128.load(p, 80), a5);
      a6 = madd(w, v128.load(p, 96), a6);
      a7 = madd(w, v128.load(p, 112), a7);
      p += stride;
    }
    const d = dst + o;
    v128.store(d, a0);
    v128.store(d, a1, 16);
    v128.store(d, a2, 32);
    v128.store(d, a3, 48);
    v128.store(d, a4, 64);
    v128.store(d, a5, 80);
    v128.store(d, a6, 96);
    v128.store(d, a7, 112);
  }
  for (; o + 64 <= nb; o += 64) {
    let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0;
    let p = vp + o;
    for (let s = 0; s < n; s++) {
      const so = (<usize>s) << 2;
      let w = v128.load32_splat(att + so);
      if (hasKeep) w = f32x4.mul(w, v128.load32_splat(keep + so));
      a0 = madd(w, v128.load(p), a0);
      a1 = madd(w, v128.load(p, 16), a1);
      a2 = madd(w, v128.load(p, 32), a2);
      a3 = madd(w, v128.load(p, 48), a3);
      p += stride;
    }
    const d = dst + o;
    v128.store(d, a0);
    v128.store(d, a1, 16);
    v128.store(d, a2, 32);
    v128.store(d, a3, 48);
  }
  for (; o + 16 <= nb; o += 16) {
    let a0 = f32x4.splat(0);
    let p = vp + o;
    for (let s = 0; s < n; s++) {
      const so = (<usize>s) << 2;
      let w = v128.load32_splat(att + so);
      if (hasKeep) w = f32x4.mul(w, v128.load32_splat(keep + so));
      a0 = madd(w, v128.load(p), a0);
      p += stride;
    }
    v128.store(dst + o, a0);
  }
  for (; o < nb; o += 4) {
    let a: f32 = 0;
    let p = vp + o;
    for (let s = 0; s < n; s++) {
      const so = (<usize>s) << 2;
      let w = load<f32>(att + so);
      if (hasKeep) w *= load<f32>(keep + so);
      a += w * load<f32>(p);
      p += stride;
    }
    store<f32>(dst + o, a);
  }
}

export function attentionForward(
  out: usize, att: usize, q: usize, k: usize, v: usize, keep: usize,
  B: i32, T: i32, nh: i32, hs: i32, scale: f32,
): void {
  const stride = (<usize>(nh * hs)) << 2;
  const rowBytes = (<usize>T) << 2;
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < nh; h++) {
      const base = (<usize>b * <usize>T) * stride + ((<usize>(h * hs)) << 2);
      const attBase = (<usize>(b * nh + h) * <usize>T) * rowBytes;
      for (let t = 0; t < T; t++) {
        const qo = base + (<usize>t) * stride;
        const row = att + attBase + (<usize>t) * rowBytes;
        const n = t + 1;
        scores(row, q + qo, k + base, stride, n, hs, scale);
        softmaxRow(row, n);
        if (n < T) memory.fill(row + ((<usize>n) << 2), 0, (<usize>(T - n)) << 2);
        if (keep != 0) {
          weightedSum(out + qo, row, keep + attBase + (<usize>t) * rowBytes, true, v + base, stride, n, hs);
        } else {
          weightedSum(out + qo, row, 0, false, v + base, stride, n, hs);
        }
      }
    }
  }
}

/**
 * Backward, accumulating into dq, dk, dv; `scratch` holds T floats (dP, then dscore, for one row).
 */
export function attentionBackward(
  dq: usize, dk: usize, dv: usize, dout: usize, q: usize, k: usize, v: usize, att: usize, keep: usize,
  B: i32, T: i32, nh: i32, hs: i32, scale: f32, scratch: usize,
): void {
  const stride = (<usize>(nh * hs)) << 2;
  const rowBytes = (<usize>T) << 2;
  const nv = (<usize>(hs & ~3)) << 2, nb = (<usize>hs) << 2;
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < nh; h++) {
      const base = (<usize>b * <usize>T) * stride + ((<usize>(h * hs)) << 2);
      const attBase = (<usize>(b * nh + h) * <usize>T) * rowBytes;
      for (let t = 0; t < T; t++) {
        const qo = base + (<usize>t) * stride;
        const row = att + attBase + (<usize>t) * rowBytes;
        const krow = keep + attBase + (<usize>t) * rowBytes;
        const dop = dout + qo;
        const n = t + 1;
        // dW[s] = dout_t . v_s and dv_s += W[s] dout_t in one pass over the head dimension.
        let pdp: f32 = 0;
        for (let s = 0; s < n; s++) {
          const so = (<usize>s) << 2;
          const p = load<f32>(row + so);
          const m: f32 = keep != 0 ? load<f32>(krow + so) : 1;
          const w = p * m;
          const vw = f32x4.splat(w);
          const vp = v + base + (<usize>s) * stride, dvp = dv + base + (<usize>s) * stride;
          let acc = f32x4.splat(0);
          let o: usize = 0;
          for (; o < nv; o += 16) {
            const g = v128.load(dop + o);
            acc = madd(g, v128.load(vp + o), acc);
            v128.store(dvp + o, madd(vw, g, v128.load(dvp + o)));
          }
          let dw = hsum(acc);
          for (; o < nb; o += 4) {
            const g = load<f32>(dop + o);
            dw += g * load<f32>(vp + o);
            store<f32>(dvp + o, load<f32>(dvp + o) + w * g);
          }
          const dp = dw * m;
          store<f32>(scratch + so, dp);
          pdp += p * dp;
        }
        // dscore[s] = P[s] (dP[s] - sum P dP) scale
        {
          const vpdp = f32x4.splat(pdp), vscale = f32x4.splat(scale);
          const rv = (<usize>(n & ~3)) << 2, rb = (<usize>n) << 2;
          let o: usize = 0;
          for (; o < rv; o += 16) {
            const ds = f32x4.mul(f32x4.mul(v128.load(row + o), f32x4.sub(v128.load(scratch + o), vpdp)), vscale);
            v128.store(scratch + o, ds);
          }
          for (; o < rb; o += 4) {
            store<f32>(scratch + o, load<f32>(row + o) * (load<f32>(scratch + o) - pdp) * scale);
          }
        }
        // dq_t += sum_s dscore[s] k_s;  dk_s += dscore[s] q_t. Blocks of 4 vectors keep q and the dq sums in registers.
        const qp = q + qo, dqp = dq + qo;
        let o: usize = 0;
        for (; o + 64 <= nb; o += 64) {
          const q0 = v128.load(qp + o), q1 = v128.load(qp + o, 16), q2 = v128.load(qp + o, 32), q3 = v128.load(qp + o, 48);
          let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0;
          let kp = k + base + o, dkp = dk + base + o;
          for (let s = 0; s < n; s++) {
            const ds = v128.load32_splat(scratch + ((<usize>s) << 2));
            a0 = madd(ds, v128.load(kp), a0);
            a1 = madd(ds, v128.load(kp, 16), a1);
            a2 = madd(ds, v128.load(kp, 32), a2);
            a3 = madd(ds, v128.load(kp, 48), a3);
            v128.store(dkp, madd(ds, q0, v128.load(dkp)));
            v128.store(dkp, madd(ds, q1, v128.load(dkp, 16)), 16);
            v128.store(dkp, madd(ds, q2, v128.load(dkp, 32)), 32);
            v128.store(dkp, madd(ds, q3, v128.load(dkp, 48)), 48);
            kp += stride;
            dkp += stride;
          }
          const d = dqp + o;
          v128.store(d, f32x4.add(v128.load(d), a0));
          v128.store(d, f32x4.add(v128.load(d, 16), a1), 16);
          v128.store(d, f32x4.add(v128.load(d, 32), a2), 32);
          v128.store(d, f32x4.add(v128.load(d, 48), a3), 48);
        }
        for (; o + 16 <= nb; o += 16) {
          const q0 = v128.load(qp + o);
          let a0 = f32x4.splat(0);
          let kp = k + base + o, dkp = dk + base + o;
          for (let s = 0; s < n; s++) {
            const ds = v128.load32_splat(scratch + ((<usize>s) << 2));
            a0 = madd(ds, v128.load(kp), a0);
            v128.store(dkp, madd(ds, q0, v128.load(dkp)));
            kp += stride;
            dkp += stride;
          }
          v128.store(dqp + o, f32x4.add(v128.load(dqp + o), a0));
        }
        for (; o < nb; o += 4) {
          const qd = load<f32>(qp + o);
          let a: f32 = 0;
          let kp = k + base + o, dkp = dk + base + o;
          for (let s = 0; s < n; s++) {
            const ds = load<f32>(scratch + ((<usize>s) << 2));
            a += ds * load<f32>(kp);
            store<f32>(dkp, load<f32>(dkp) + ds * qd);
            kp += stride;
            dkp += stride;
          }
          store<f32>(dqp + o, load<f32>(dqp + o) + a);
        }
      }
    }
  }
}
