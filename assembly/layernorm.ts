/**
 * LayerNorm, forward and the two halves of its backward; the twins of src/engine/kernels/layernorm.ts. Sums
 * are kept in f32x4 lanes (four partial sums per row), which for rows of a few hundred to a few thousand floats
 * stays within 1e-6 of the float64 sums.
 */
import { hsum, storeOrAdd, sumN } from './simd';

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
