/** Softmax over rows, and its backward; the twins of src/engine/kernels/softmax.ts. */
import { hsum, maxN, sumExp } from './simd';

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

