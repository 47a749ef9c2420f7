/**
 * Row-wise kernels: LayerNorm, softmax and the fused cross-entropy, with the semantics of
 * src/engine/kernels/{layernorm,softmax,cross_entropy}.ts. Sums are kept in f32x4 lanes (four partial sums
 * per row), which for rows of a few hundred to a few thousand floats stays within 1e-6 of the float64 sums.
 */
import { exp4, exp1, hmax, hsum, storeOrAdd } from './simd';

/** Sum of n floats. */
// @ts-ignore: decorator
@inline function sumN(x: usize, n: i32): f32 {
  const nv = (<usize>(n & ~3)) << 2, nb = (<usize>n) << 2;
  let acc = f32x4.splat(0);
  let o: usize = 0;
  for (; o < nv; o += 16) acc = f32x4.add(acc, v128.load(x + o));
  let s = hsum(acc);
  for (; o < nb; o += 4) s += load<f32>(x + o);
  return s;
}

/** Largest of n floats (n >= 1). */
// @ts-ignore: decorator
@inline function maxN(x: usize, n: i32): f32 {
  const nv = (<usize>(n & ~3)) << 2, nb = (<usize>n) << 2;
  let acc = f32x4.splat(-Infinity);
  let o: usize = 0;
  for (; o < nv; o += 16) acc = f32x4.pmax(acc, v128.load(x + o));
  let m = hmax(acc);
  for (; o < nb; o += 4) m = max<f32>(m, load<f32>(x + o));
  return m;
}

/** Sum over n floats of exp(x - shift); writes the exponentials to out unless out is 0. */
// @ts-ignore: decorator
@inline function sumExp(out: usize, x: usize, n: i32, shift: f32): f32 {
  const nv = (<usize>(n & ~3)) << 2, nb = (<usize>n) << 2;
  const vs = f32x4.splat(shift);
  let a0 = f32x4.splat(0), a1 = a0;
  let o: usize = 0;
  // Two vectors per iteration: exp is a long chain of dependent operations.
  for (; o + 32 <= nv; o += 32) {
    const e0 = exp4(f32x4.sub(v128.load(x + o), vs)), e1 = exp4(f32x4.sub(v128.load(x + o, 16), vs));
    if (out != 0) {
      v128.store(out + o, e0);
      v128.store(out + o, e1, 16);
    }
    a0 = f32x4.add(a0, e0);
    a1 = f32x4.add(a1, e1);
  }
  for (; o < nv; o += 16) {
    const e = exp4(f32x4.sub(v128.load(x + o), vs));
    if (out != 0) v128.store(out + o, e);
    a0 = f32x4.add(a0, e);
  }
  let s = hsum(f32x4.add(a0, a1));
  for (; o < nb; o += 4) {
    const e = exp1(load<f32>(x + o) - shift);
    if (out != 0) store<f32>(out + o, e);
    s += e;
  }
  return s;
}

export function layernormForward(
  out: usize, mean: usize, rstd: usize, x: usize, weight: usize, bias: usize, N: i32, C: i32, eps: f64,
): void {
  const rb = (<usize>C) << 2, nv = (<usize>(C & ~3)) << 2;
  const invC: f32 = 1 / <f32>C;
  for (let i = 0; i < N; i++) {
    const xp = x + (<usize>i) * rb, op = out + (<usize>i) * rb;
    const m = sumN(xp, C) * invC;
    const vm = f32x4.splat(m);
    let acc = f32x4.splat(0);
    let o: usize = 0;
    for (; o < nv; o += 16) {
      const d = f32x4.sub(v128.load(xp + o), vm);
      acc = f32x4.add(acc, f32x4.mul(d, d));
    }
    let v = hsum(acc);
    for (; o < rb; o += 4) {
      const d = load<f32>(xp + o) - m;
      v += d * d;
    }
    v *= invC;
    const r: f32 = <f32>(1 / Math.sqrt(<f64>v + eps));
    const vr = f32x4.splat(r);
    for (o = 0; o < nv; o += 16) {
      let y = f32x4.mul(f32x4.mul(f32x4.sub(v128.load(xp + o), vm), vr), v128.load(weight + o));
      if (bias != 0) y = f32x4.add(y, v128.load(bias + o));
      v128.store(op + o, y);
    }
    for (; o < rb; o += 4) {
      let y = (load<f32>(xp + o) - m) * r * load<f32>(weight + o);
      if (bias != 0) y += load<f32>(bias + o);
      store<f32>(op + o, y);
    }
    store<f32>(mean + ((<usize>i) << 2), m);
    store<f32>(rstd + ((<usize>i) << 2), r);
  }
}

/**
 * LayerNorm's backward comes in two kernels so that threads can split each along its independent axis:
 * the input gradient row by row, the weight and bias gradients column by column (each column sums its rows
 * in row order, as one thread would). See src/engine/kernels/layernorm.ts for the formulas.
 */

/**
 * dweight, dbias (+)= column sums over the N rows of dout * norm and dout, for `cols` columns of rows `ld`
 * floats apart (the caller offsets every pointer but mean and rstd to the first column; a multiple of 4, so
 * the vector loop covers the same columns as in a whole call). Either gradient may be 0.
 */
export function layernormBackwardParams(
  dweight: usize, dbias: usize, dout: usize, x: usize, mean: usize, rstd: usize, N: i32, cols: i32, ld: i32,
): void {
  const rb = (<usize>ld) << 2, cb = (<usize>cols) << 2, nv = (<usize>(cols & ~3)) << 2;
  for (let i = 0; i < N; i++) {
    const xp = x + (<usize>i) * rb, gp = dout + (<usize>i) * rb;
    const m = load<f32>(mean + ((<usize>i) << 2)), r = load<f32>(rstd + ((<usize>i) << 2));
    const vm = f32x4.splat(m), vr = f32x4.splat(r);
    let o: usize = 0;
    for (; o < nv; o += 16) {
      const g = v128.load(gp + o);
      if (dweight != 0) {
        const nrm = f32x4.mul(f32x4.sub(v128.load(xp + o), vm), vr);
        v128.store(dweight + o, f32x4.add(v128.load(dweight + o), f32x4.mul(g, nrm)));
      }
      if (dbias != 0) v128.store(dbias + o, f32x4.add(v128.load(dbias + o), g));
    }
    for (; o < cb; o += 4) {
      const g = load<f32>(gp + o);
      if (dweight != 0) store<f32>(dweight + o, load<f32>(dweight + o) + g * (load<f32>(xp + o) - m) * r);
      if (dbias != 0) store<f32>(dbias + o, load<f32>(dbias + o) + g);
    }
  }
}

/** dx (+)= the input gradient of N rows of C floats: adds when `accumulate`, else overwrites. */
export function layernormBackwardInput(
  dx: usize, dout: usize, x: usize, mean: usize, rstd: usize, weight: usize, N: i32, C: i32, accumulate: bool,
): void {
  const rb = (<usize>C) << 2, nv = (<usize>(C & ~3)) << 2;
  const invC: f32 = 1 / <f32>C;
  for (let i = 0; i < N; i++) {
    const xp = x + (<usize>i) * rb, gp = dout + (<usize>i) * rb;
    const m = load<f32>(mean + ((<usize>i) << 2)), r = load<f32>(rstd + ((<usize>i) << 2));
    const vm = f32x4.splat(m), vr = f32x4.splat(r);
    let sg = f32x4.splat(0), sgn = sg;
    let o: usize = 0;
    for (; o < nv; o += 16) {
      const nrm = f32x4.mul(f32x4.sub(v128.load(xp + o), vm), vr);
      const g = f32x4.mul(v128.load(gp + o), v128.load(weight + o));
      sg = f32x4.add(sg, g);
      sgn = f32x4.add(sgn, f32x4.mul(g, nrm));
    }
    let gMean = hsum(sg), gNormMean = hsum(sgn);
    for (; o < rb; o += 4) {
      const nrm = (load<f32>(xp + o) - m) * r;
      const g = load<f32>(gp + o) * load<f32>(weight + o);
      gMean += g;
      gNormMean += g * nrm;
    }
    gMean *= invC;
    gNormMean *= invC;
    const vgm = f32x4.splat(gMean), vgnm = f32x4.splat(gNormMean);
    const dxp = dx + (<usize>i) * rb;
    for (o = 0; o < nv; o += 16) {
      const nrm = f32x4.mul(f32x4.sub(v128.load(xp + o), vm), vr);
      const g = f32x4.mul(v128.load(gp + o), v128.load(weight + o));
      const d = f32x4.mul(vr, f32x4.sub(f32x4.sub(g, vgm), f32x4.mul(nrm, vgnm)));
      storeOrAdd(dxp + o, d, accumulate);
    }
    for (; o < rb; o += 4) {
      const nrm = (load<f32>(xp + o) - m) * r;
      const g = load<f32>(gp + o) * load<f32>(weight + o);
      const d = r * (g - gMean - nrm * gNormMean);
      store<f32>(dxp + o, accumulate ? load<f32>(dxp + o) + d : d);
    }
  }
}

export function softmaxForward(out: usize, x: usize, N: i32, C: i32): void {
  const rb = (<usize>C) << 2, nv = (<usize>(C & ~3)) << 2;
  for (let i = 0; i < N; i++) {
    const xp = x + (<usize>i) * rb, op = out + (<usize>i) * rb;
    const m = maxN(xp, C);
    const inv: f32 = 1 / sumExp(op, xp, C, m);
    const vinv = f32x4.splat(inv);
    let o: usize = 0;
    for (; o < nv; o += 16) v128.store(op + o, f32x4.mul(v128.load(op + o), vinv));
    for (; o < rb; o += 4) store<f32>(op + o, load<f32>(op + o) * inv);
  }
}

export function softmaxBackward(dx: usize, y: usize, dy: usize, N: i32, C: i32): void {
  const rb = (<usize>C) << 2, nv = (<usize>(C & ~3)) << 2;
  for (let i = 0; i < N; i++) {
    const yp = y + (<usize>i) * rb, gp = dy + (<usize>i) * rb, dp = dx + (<usize>i) * rb;
    let acc = f32x4.splat(0);
    let o: usize = 0;
    for (; o < nv; o += 16) acc = f32x4.add(acc, f32x4.mul(v128.load(yp + o), v128.load(gp + o)));
    let dot = hsum(acc);
    for (; o < rb; o += 4) dot += load<f32>(yp + o) * load<f32>(gp + o);
    const vd = f32x4.splat(dot);
    for (o = 0; o < nv; o += 16) {
      const d = f32x4.mul(v128.load(yp + o), f32x4.sub(v128.load(gp + o), vd));
      v128.store(dp + o, f32x4.add(v128.load(dp + o), d));
    }
    for (; o < rb; o += 4) store<f32>(dp + o, load<f32>(dp + o) + load<f32>(yp + o) * (load<f32>(gp + o) - dot));
  }
}

/** Rows counted by the last crossEntropyForward (targets not -1). */
let lastCount: i32 = 0;

export function crossEntropyCount(): i32 {
  return lastCount;
}

/** Writes lse[N] and returns the summed loss over counted rows (the caller divides by crossEntropyCount()). */
export function crossEntropyForward(lse: usize, logits: usize, targets: usize, N: i32, V: i32): f64 {
  const rb = (<usize>V) << 2;
  let total: f64 = 0;
  let count = 0;
  for (let i = 0; i < N; i++) {
    const xp = logits + (<usize>i) * rb;
    const m = maxN(xp, V);
    const l: f64 = <f64>m + Math.log(<f64>sumExp(0, xp, V, m));
    store<f32>(lse + ((<usize>i) << 2), <f32>l);
    const t = load<i32>(targets + ((<usize>i) << 2));
    if (t < 0) continue;
    total += l - <f64>load<f32>(xp + ((<usize>t) << 2));
    count++;
  }
  lastCount = count;
  return total;
}

export function crossEntropyBackward(
  dlogits: usize, logits: usize, lse: usize, targets: usize, N: i32, V: i32, count: i32, dloss: f64,
): void {
  if (count == 0) return;
  const s = <f32>(dloss / <f64>count);
  const vs = f32x4.splat(s);
  const rb = (<usize>V) << 2, nv = (<usize>(V & ~3)) << 2;
  for (let i = 0; i < N; i++) {
    const t = load<i32>(targets + ((<usize>i) << 2));
    if (t < 0) continue;
    const xp = logits + (<usize>i) * rb, dp = dlogits + (<usize>i) * rb;
    const l = load<f32>(lse + ((<usize>i) << 2));
    const vl = f32x4.splat(l);
    let o: usize = 0;
    for (; o < nv; o += 16) {
      const p = exp4(f32x4.sub(v128.load(xp + o), vl));
      v128.store(dp + o, f32x4.add(v128.load(dp + o), f32x4.mul(vs, p)));
    }
    for (; o < rb; o += 4) store<f32>(dp + o, load<f32>(dp + o) + s * exp1(load<f32>(xp + o) - l));
    const tp = dp + ((<usize>t) << 2);
    store<f32>(tp, load<f32>(tp) - s);
  }
}
