/** AdamW and the sum of squares for the gradient norm (src/engine/kernels/adamw.ts). */

/**
 * One AdamW update of n floats in place, from the float64 values the reference starts from: the step's scalars
 * are derived here in float64 exactly as the reference derives them (stepSize = lr / bc1, decay =
 * 1 - lr * weightDecay, 1 / bc2Sqrt), then rounded to float32 for the loop. With zeroGrad not 0, g is zeroed
 * as it is read (the next step's zero_grad, without a pass of its own).
 */
export function adamwStep(
  p: usize, g: usize, m: usize, v: usize, n: i32,
  lr: f64, beta1: f64, beta2: f64, eps: f64, weightDecay: f64, bc1: f64, bc2Sqrt: f64, gradScale: f64, zeroGrad: i32,
): void {
  const stepSize = lr / bc1, decay = 1 - lr * weightDecay, invBc2 = 1 / bc2Sqrt;
  if (zeroGrad != 0) adamwLoop(p, g, m, v, n, stepSize, decay, invBc2, beta1, beta2, eps, gradScale, true);
  else adamwLoop(p, g, m, v, n, stepSize, decay, invBc2, beta1, beta2, eps, gradScale, false);
}

// @ts-ignore: decorator
@inline function adamwLoop(
  p: usize, g: usize, m: usize, v: usize, n: i32,
  stepSize_: f64, decay_: f64, invBc2_: f64, beta1: f64, beta2: f64, eps: f64, gradScale: f64, zeroGrad: bool,
): void {
  const stepSize = <f32>stepSize_, decay = <f32>decay_, invBc2 = <f32>invBc2_;
  const b1 = <f32>beta1, b2 = <f32>beta2, c1 = <f32>(1 - beta1), c2 = <f32>(1 - beta2);
  const e = <f32>eps, gs = <f32>gradScale;
  const vb1 = f32x4.splat(b1), vb2 = f32x4.splat(b2), vc1 = f32x4.splat(c1), vc2 = f32x4.splat(c2);
  const vstep = f32x4.splat(stepSize), vdecay = f32x4.splat(decay), vinv = f32x4.splat(invBc2);
  const ve = f32x4.splat(e), vgs = f32x4.splat(gs);
  const nv = (<usize>(n & ~3)) << 2, nb = (<usize>n) << 2;
  let o: usize = 0;
  for (; o < nv; o += 16) {
    const gi = f32x4.mul(v128.load(g + o), vgs);
    if (zeroGrad) v128.store(g + o, f32x4.splat(0));
    const mi = f32x4.add(f32x4.mul(vb1, v128.load(m + o)), f32x4.mul(vc1, gi));
    const vi = f32x4.add(f32x4.mul(vb2, v128.load(v + o)), f32x4.mul(vc2, f32x4.mul(gi, gi)));
    v128.store(m + o, mi);
    v128.store(v + o, vi);
    const den = f32x4.add(f32x4.mul(f32x4.sqrt(vi), vinv), ve);
    const upd = f32x4.div(f32x4.mul(vstep, mi), den);
    v128.store(p + o, f32x4.sub(f32x4.mul(v128.load(p + o), vdecay), upd));
  }
  for (; o < nb; o += 4) {
    const gi = load<f32>(g + o) * gs;
    if (zeroGrad) store<f32>(g + o, 0);
    const mi = b1 * load<f32>(m + o) + c1 * gi;
    const vi = b2 * load<f32>(v + o) + c2 * gi * gi;
    store<f32>(m + o, mi);
    store<f32>(v + o, vi);
    store<f32>(p + o, load<f32>(p + o) * decay - (stepSize * mi) / (Mathf.sqrt(vi) * invBc2 + e));
  }
}

/** Sum of squares of n floats, accumulated in float64 lanes as the reference does. */
export function sumOfSquares(x: usize, n: i32): f64 {
  const nv = (<usize>(n & ~3)) << 2, nb = (<usize>n) << 2;
  let a0 = f64x2.splat(0), a1 = a0;
  let o: usize = 0;
  for (; o < nv; o += 16) {
    const w = v128.load(x + o);
    const lo = f64x2.promote_low_f32x4(w);
    const hi = f64x2.promote_low_f32x4(v128.shuffle<f32>(w, w, 2, 3, 2, 3));
    a0 = f64x2.add(a0, f64x2.mul(lo, lo));
    a1 = f64x2.add(a1, f64x2.mul(hi, hi));
  }
  const a = f64x2.add(a0, a1);
  let s = f64x2.extract_lane(a, 0) + f64x2.extract_lane(a, 1);
  for (; o < nb; o += 4) {
    const w = <f64>load<f32>(x + o);
    s += w * w;
  }
  return s;
}
