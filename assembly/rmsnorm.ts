/**
 * RMS norm without a gain, forward and backward; the twins of src/engine/kernels/rmsnorm.ts. Each group's sums
 * are kept in f32x4 lanes (four partial sums), then reduced.
 */
import { hsum, storeOrAdd } from './simd';

/** Sum of squares of n floats at p. */
// @ts-ignore: decorator
@inline function sumSquares(p: usize, n: i32): f32 {
  const nv = (<usize>(n & ~3)) << 2, nb = (<usize>n) << 2;
  let acc = f32x4.splat(0);
  let o: usize = 0;
  for (; o < nv; o += 16) {
    const v = v128.load(p + o);
    acc = f32x4.add(acc, f32x4.mul(v, v));
  }
  let s = hsum(acc);
  for (; o < nb; o += 4) {
    const v = load<f32>(p + o);
    s += v * v;
  }
  return s;
}

export function rmsnormForward(out: usize, rstd: usize, x: usize, N: i32, groups: i32, size: i32, ld: i32, eps: f64): void {
  const gb = (<usize>size) << 2, nv = (<usize>(size & ~3)) << 2, rb = (<usize>ld) << 2;
  const invSize: f32 = 1 / <f32>size;
  for (let r = 0; r < N; r++) {
    for (let g = 0; g < groups; g++) {
      const at = (<usize>r) * rb + (<usize>g) * gb;
      const xp = x + at, op = out + at;
      const rs: f32 = <f32>(1 / Math.sqrt(<f64>(sumSquares(xp, size) * invSize) + eps));
      const vr = f32x4.splat(rs);
      let o: usize = 0;
      for (; o < nv; o += 16) v128.store(op + o, f32x4.mul(v128.load(xp + o), vr));
      for (; o < gb; o += 4) store<f32>(op + o, load<f32>(xp + o) * rs);
      store<f32>(rstd + ((<usize>(r * groups + g)) << 2), rs);
    }
  }
}

/** dx (+)= rstd (dout - y mean(dout y)), y = x rstd, group by group: adds when `accumulate`, else overwrites. */
export function rmsnormBackward(
  dx: usize, dout: usize, x: usize, rstd: usize, N: i32, groups: i32, size: i32, ld: i32, accumulate: bool,
): void {
  const gb = (<usize>size) << 2, nv = (<usize>(size & ~3)) << 2, rb = (<usize>ld) << 2;
  const invSize: f32 = 1 / <f32>size;
  for (let r = 0; r < N; r++) {
    for (let g = 0; g < groups; g++) {
      const at = (<usize>r) * rb + (<usize>g) * gb;
      const xp = x + at, gp = dout + at, dp = dx + at;
      const rs = load<f32>(rstd + ((<usize>(r * groups + g)) << 2));
      const vr = f32x4.splat(rs);
      let acc = f32x4.splat(0);
      let o: usize = 0;
      for (; o < nv; o += 16) acc = f32x4.add(acc, f32x4.mul(v128.load(gp + o), f32x4.mul(v128.load(xp + o), vr)));
      let dot = hsum(acc);
      for (; o < gb; o += 4) dot += load<f32>(gp + o) * (load<f32>(xp + o) * rs);
      const m = dot * invSize;
      const vm = f32x4.splat(m);
      for (o = 0; o < nv; o += 16) {
        const y = f32x4.mul(v128.load(xp + o), vr);
        storeOrAdd(dp + o, f32x4.mul(vr, f32x4.sub(v128.load(gp + o), f32x4.mul(y, vm))), accumulate);
      }
      for (; o < gb; o += 4) {
        const d = rs * (load<f32>(gp + o) - load<f32>(xp + o) * rs * m);
        store<f32>(dp + o, accumulate ? load<f32>(dp + o) + d : d);
      }
    }
  }
}
