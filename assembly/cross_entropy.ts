/** Cross-entropy fused with log-softmax, and its backward; the twins of src/engine/kernels/cross_entropy.ts. */
import { exp1, exp4, maxN, sumExp } from './simd';

/** Writes lse[N] and returns the summed loss over rows whose target is not -1 (the op counts them and divides). */
export function crossEntropyForward(lse: usize, logits: usize, targets: usize, N: i32, V: i32): f64 {
  const rb = (<usize>V) << 2;
  let total: f64 = 0;
  for (let i = 0; i < N; i++) {
    const xp = logits + (<usize>i) * rb;
    const m = maxN(xp, V);
    const l: f64 = <f64>m + Math.log(<f64>sumExp(0, xp, V, m));
    store<f32>(lse + ((<usize>i) << 2), <f32>l);
    const t = load<i32>(targets + ((<usize>i) << 2));
    if (t < 0) continue;
    total += l - <f64>load<f32>(xp + ((<usize>t) << 2));
  }
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
