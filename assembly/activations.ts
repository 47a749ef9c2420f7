/**
 * ReLU, ReLU squared, the logit soft-cap, GELU in GPT-2's tanh form and the exact GELU (x Phi(x)); the twins of
 * src/engine/kernels/activations.ts. Every loop runs f32x4 over the body and scalars over the tail.
 */
import { exp4, madd, storeOrAdd } from './simd';

export function reluForward(out: usize, x: usize, n: i32): void {
  const nv = (<usize>(n & ~3)) << 2, nb = (<usize>n) << 2;
  const zero = f32x4.splat(0);
  let o: usize = 0;
  // pmax(0, x) = 0 < x ? x : 0, which is the reference's x > 0 ? x : 0 (NaN gives 0 in both).
  for (; o < nv; o += 16) v128.store(out + o, f32x4.pmax(zero, v128.load(x + o)));
  for (; o < nb; o += 4) {
    const v = load<f32>(x + o);
    store<f32>(out + o, v > 0 ? v : 0);
  }
}

export function reluBackward(dx: usize, x: usize, dout: usize, n: i32): void {
  const nv = (<usize>(n & ~3)) << 2, nb = (<usize>n) << 2;
  const zero = f32x4.splat(0);
  let o: usize = 0;
  for (; o < nv; o += 16) {
    const g = v128.and(v128.load(dout + o), f32x4.gt(v128.load(x + o), zero));
    v128.store(dx + o, f32x4.add(v128.load(dx + o), g));
  }
  for (; o < nb; o += 4) if (load<f32>(x + o) > 0) store<f32>(dx + o, load<f32>(dx + o) + load<f32>(dout + o));
}

/** out = max(0, x)^2. */
export function relu2Forward(out: usize, x: usize, n: i32): void {
  const nv = (<usize>(n & ~3)) << 2, nb = (<usize>n) << 2;
  const zero = f32x4.splat(0);
  let o: usize = 0;
  for (; o < nv; o += 16) {
    const m = f32x4.pmax(zero, v128.load(x + o));
    v128.store(out + o, f32x4.mul(m, m));
  }
  for (; o < nb; o += 4) {
    const v = load<f32>(x + o);
    store<f32>(out + o, v > 0 ? v * v : 0);
  }
}

/** dx (+)= 2 max(0, x) dout: adds when `accumulate`, else overwrites. */
export function relu2Backward(dx: usize, x: usize, dout: usize, n: i32, accumulate: bool): void {
  const nv = (<usize>(n & ~3)) << 2, nb = (<usize>n) << 2;
  const zero = f32x4.splat(0);
  let o: usize = 0;
  for (; o < nv; o += 16) {
    const m = f32x4.pmax(zero, v128.load(x + o));
    storeOrAdd(dx + o, f32x4.mul(f32x4.add(m, m), v128.load(dout + o)), accumulate);
  }
  for (; o < nb; o += 4) {
    const v = load<f32>(x + o);
    const d: f32 = v > 0 ? (v + v) * load<f32>(dout + o) : 0;
    store<f32>(dx + o, accumulate ? load<f32>(dx + o) + d : d);
  }
}

/** tanh of four floats: sign(u) (1 - e) / (1 + e), e = exp(-2|u|) in (0, 1], so nothing overflows. */
// @ts-ignore: decorator
@inline function tanh4(u: v128): v128 {
  const a = f32x4.abs(u);
  const e = exp4(f32x4.neg(f32x4.add(a, a)));
  const t = f32x4.div(f32x4.sub(f32x4.splat(1), e), f32x4.add(f32x4.splat(1), e));
  return v128.or(t, v128.and(u, i32x4.splat(0x80000000)));
}

/** out = cap tanh(x / cap). */
export function softcapForward(out: usize, x: usize, n: i32, cap: f64): void {
  const c = <f32>cap;
  const vc = f32x4.splat(c);
  const nv = (<usize>(n & ~3)) << 2, nb = (<usize>n) << 2;
  let o: usize = 0;
  for (; o < nv; o += 16) v128.store(out + o, f32x4.mul(vc, tanh4(f32x4.div(v128.load(x + o), vc))));
  for (; o < nb; o += 4) store<f32>(out + o, c * f32x4.extract_lane(tanh4(f32x4.splat(load<f32>(x + o) / c)), 0));
}

/** dx (+)= dout (1 - (out / cap)^2): adds when `accumulate`, else overwrites. */
export function softcapBackward(dx: usize, out: usize, dout: usize, n: i32, cap: f64, accumulate: bool): void {
  const c = <f32>cap;
  const vc = f32x4.splat(c), one = f32x4.splat(1);
  const nv = (<usize>(n & ~3)) << 2, nb = (<usize>n) << 2;
  let o: usize = 0;
  for (; o < nv; o += 16) {
    const t = f32x4.div(v128.load(out + o), vc);
    storeOrAdd(dx + o, f32x4.mul(v128.load(dout + o), f32x4.sub(one, f32x4.mul(t, t))), accumulate);
  }
  for (; o < nb; o += 4) {
    const t = load<f32>(out + o) / c;
    const d = load<f32>(dout + o) * (1 - t * t);
    store<f32>(dx + o, accumulate ? load<f32>(dx + o) + d : d);
  }
}

const GELU_SCALE: f32 = 0.7978845608028654; // sqrt(2/pi)
const GELU_CUBE: f32 = 0.044715;

/**
 * GELU (tanh form) through the identity 0.5 (1 + tanh u) = 1 / (1 + exp(-2u)) = sigmoid(2u): one exp and
 * one division, no cancellation. This returns e = exp(-2u); gelu(x) = x / (1 + e).
 */
// @ts-ignore: decorator
@inline function geluParts(x: v128): v128 {
  const x2 = f32x4.mul(x, x);
  const u = f32x4.mul(f32x4.splat(GELU_SCALE), f32x4.add(x, f32x4.mul(f32x4.splat(GELU_CUBE), f32x4.mul(x2, x))));
  return exp4(f32x4.mul(u, f32x4.splat(-2))); // e = exp(-2u)
}

// The loops below take four vectors per iteration: exp's long chain of dependent operations otherwise leaves
// the CPU waiting on latency (1.7x faster measured than one vector at a time).

/** out = gelu(x); when `saved` is not 0, e = exp(-2u) goes there too, for the backward to read (no exp again). */
export function geluForward(out: usize, x: usize, saved: usize, n: i32): void {
  if (saved != 0) geluForwardLoop(out, x, saved, n, true);
  else geluForwardLoop(out, x, 0, n, false);
}

// @ts-ignore: decorator
@inline function geluForwardLoop(out: usize, x: usize, saved: usize, n: i32, save: bool): void {
  const nv = (<usize>(n & ~3)) << 2, nb = (<usize>n) << 2;
  const one = f32x4.splat(1);
  let o: usize = 0;
  for (; o + 64 <= nv; o += 64) {
    const v0 = v128.load(x + o), v1 = v128.load(x + o, 16), v2 = v128.load(x + o, 32), v3 = v128.load(x + o, 48);
    const e0 = geluParts(v0), e1 = geluParts(v1), e2 = geluParts(v2), e3 = geluParts(v3);
    if (save) {
      v128.store(saved + o, e0);
      v128.store(saved + o, e1, 16);
      v128.store(saved + o, e2, 32);
      v128.store(saved + o, e3, 48);
    }
    v128.store(out + o, f32x4.div(v0, f32x4.add(one, e0)));
    v128.store(out + o, f32x4.div(v1, f32x4.add(one, e1)), 16);
    v128.store(out + o, f32x4.div(v2, f32x4.add(one, e2)), 32);
    v128.store(out + o, f32x4.div(v3, f32x4.add(one, e3)), 48);
  }
  for (; o < nv; o += 16) {
    const v = v128.load(x + o), e = geluParts(v);
    if (save) v128.store(saved + o, e);
    v128.store(out + o, f32x4.div(v, f32x4.add(one, e)));
  }
  for (; o < nb; o += 4) {
    const v = f32x4.splat(load<f32>(x + o)), e = geluParts(v);
    if (save) store<f32>(saved + o, f32x4.extract_lane(e, 0));
    store<f32>(out + o, f32x4.extract_lane(f32x4.div(v, f32x4.add(one, e)), 0));
  }
}

/**
 * With s = sigmoid(2u) = 1 / (1 + e), e = exp(-2u): d gelu / dx = s + 2 x s (1 - s) du/dx, and
 * s (1 - s) = e s^2 exactly (no cancellation when s is near 1). du/dx = sqrt(2/pi) (1 + 3 * 0.044715 x^2).
 */
// @ts-ignore: decorator
@inline function geluGrad(x: v128, e: v128): v128 {
  const s = f32x4.div(f32x4.splat(1), f32x4.add(f32x4.splat(1), e));
  const du = f32x4.mul(f32x4.splat(GELU_SCALE), f32x4.add(f32x4.splat(1), f32x4.mul(f32x4.splat(3 * GELU_CUBE), f32x4.mul(x, x))));
  const t = f32x4.mul(f32x4.mul(f32x4.add(x, x), du), f32x4.mul(e, f32x4.mul(s, s)));
  return f32x4.add(s, t);
}

/**
 * dx (+)= dout * gelu'(x): adds when `accumulate`, else overwrites (dx holds nothing yet: no zeroing pass).
 * With `saved` (the forward's e = exp(-2u), the same bits exp gives here) there is no exp to compute.
 */
export function geluBackward(dx: usize, x: usize, dout: usize, saved: usize, n: i32, accumulate: bool): void {
  if (saved != 0) {
    if (accumulate) geluBackwardLoop(dx, x, dout, saved, n, true, true);
    else geluBackwardLoop(dx, x, dout, saved, n, false, true);
  } else if (accumulate) geluBackwardLoop(dx, x, dout, 0, n, true, false);
  else geluBackwardLoop(dx, x, dout, 0, n, false, false);
}

/**
 * e read from `saved`, at most E_MAX: our exp never gives more, but another backend's forward may have saved
 * Infinity (x below about -44), which would make e s^2 = Infinity * 0.
 */
// @ts-ignore: decorator
@inline function loadSaved(p: usize): v128 {
  return f32x4.pmin(v128.load(p), f32x4.splat(E_MAX));
}
const E_MAX: f32 = 3.0e38;

/** dout * gelu'(x) for the four floats at byte offset o: e read from `saved`, or computed. */
// @ts-ignore: decorator
@inline function geluBackward4(x: usize, dout: usize, saved: usize, o: usize, useSaved: bool): v128 {
  const v = v128.load(x + o);
  return f32x4.mul(v128.load(dout + o), geluGrad(v, useSaved ? loadSaved(saved + o) : geluParts(v)));
}

// @ts-ignore: decorator
@inline function geluBackwardLoop(dx: usize, x: usize, dout: usize, saved: usize, n: i32, accumulate: bool, useSaved: bool): void {
  const nv = (<usize>(n & ~3)) << 2, nb = (<usize>n) << 2;
  let o: usize = 0;
  for (; o + 64 <= nv; o += 64) {
    const g0 = geluBackward4(x, dout, saved, o, useSaved), g1 = geluBackward4(x, dout, saved, o + 16, useSaved);
    const g2 = geluBackward4(x, dout, saved, o + 32, useSaved), g3 = geluBackward4(x, dout, saved, o + 48, useSaved);
    storeOrAdd(dx + o, g0, accumulate);
    storeOrAdd(dx + o + 16, g1, accumulate);
    storeOrAdd(dx + o + 32, g2, accumulate);
    storeOrAdd(dx + o + 48, g3, accumulate);
  }
  for (; o < nv; o += 16) storeOrAdd(dx + o, geluBackward4(x, dout, saved, o, useSaved), accumulate);
  for (; o < nb; o += 4) {
    const v = f32x4.splat(load<f32>(x + o));
    const e = useSaved ? f32x4.pmin(f32x4.splat(load<f32>(saved + o)), f32x4.splat(E_MAX)) : geluParts(v);
    const g = load<f32>(dout + o) * f32x4.extract_lane(geluGrad(v, e), 0);
    store<f32>(dx + o, accumulate ? load<f32>(dx + o) + g : g);
  }
}

// The exact GELU, x Phi(x), in float32. Phi comes from one of two approximations, fitted for this file (a
// Lawson-weighted least-squares fit toward the smallest relative error, against mpmath's ncdf):
//  - |x| < 0.8: Phi(x) = 0.5 + x A(x^2), A of degree 4 (relative error 4.6e-9);
//  - |x| >= 0.8: the tail Q(t) = Phi(-t), t = |x|, as exp(-t^2/2) R(t), R a degree-9 polynomial in
//    w = 1 / (1 + t/4) (relative error 3.0e-9 up to t = 13.5, beyond which Q underflows), so the tail keeps its
//    relative accuracy however small it gets (1 - Phi would cancel); Phi(x) = Q for x < 0, 1 - Q above.
// exp(-t^2/2) takes t^2 in two parts, th^2 exact (th: t's top 12 bits) and (t - th)(t + th): t^2 rounded whole
// would put an error of t^2 2^-24 into the exponent, 30 ulp at t = 9. The kernels' error is measured against
// the float64 reference in test/unit/gelu_erf.test.ts.
const PHI_SPLIT: f32 = 0.8;
const A0: f32 = 0.3989423;
const A1: f32 = -0.06649024;
const A2: f32 = 0.009971798;
const A3: f32 = -0.0011795894;
const A4: f32 = 0.00010133723;
const R0: f32 = -1.2112016e-5;
const R1: f32 = 0.100022025;
const R2: f32 = 0.09676867;
const R3: f32 = 0.111181326;
const R4: f32 = 0.014173944;
const R5: f32 = 0.2300276;
const R6: f32 = -0.22949028;
const R7: f32 = 0.30415478;
const R8: f32 = -0.15105742;
const R9: f32 = 0.024227483;
const INV_SQRT_2PI: f32 = 0.3989422804014327;
const HIGH_BITS: i32 = 0xfffff000;

/** x A(x^2): Phi(x) - 0.5 where |x| < PHI_SPLIT. */
// @ts-ignore: decorator
@inline function phiSmall(x: v128): v128 {
  const s = f32x4.mul(x, x);
  let a = madd(f32x4.splat(A4), s, f32x4.splat(A3));
  a = madd(a, s, f32x4.splat(A2));
  a = madd(a, s, f32x4.splat(A1));
  a = madd(a, s, f32x4.splat(A0));
  return f32x4.mul(x, a);
}

/** exp(-t^2/2) for t = |x| >= 0, with t^2 in two parts. */
// @ts-ignore: decorator
@inline function expHalfSquare(t: v128): v128 {
  const th = v128.and(t, i32x4.splat(HIGH_BITS));
  const tl = f32x4.sub(t, th);
  const half = f32x4.splat(-0.5);
  return f32x4.mul(exp4(f32x4.mul(half, f32x4.mul(th, th))), exp4(f32x4.mul(half, f32x4.mul(tl, f32x4.add(t, th)))));
}

/** R(t) = Phi(-t) exp(t^2/2) for t = |x| >= PHI_SPLIT. */
// @ts-ignore: decorator
@inline function tailRatio(t: v128): v128 {
  const w = f32x4.div(f32x4.splat(1), madd(t, f32x4.splat(0.25), f32x4.splat(1)));
  let r = madd(f32x4.splat(R9), w, f32x4.splat(R8));
  r = madd(r, w, f32x4.splat(R7));
  r = madd(r, w, f32x4.splat(R6));
  r = madd(r, w, f32x4.splat(R5));
  r = madd(r, w, f32x4.splat(R4));
  r = madd(r, w, f32x4.splat(R3));
  r = madd(r, w, f32x4.splat(R2));
  r = madd(r, w, f32x4.splat(R1));
  return madd(r, w, f32x4.splat(R0));
}

/**
 * x Phi(x). In the tails x Q = (x R) e, multiplied in that order so that a Q below float32's normal range (x
 * under -13) does not lose bits before x scales it back up.
 */
// @ts-ignore: decorator
@inline function geluErf4(x: v128): v128 {
  const t = f32x4.abs(x);
  const small = madd(x, phiSmall(x), f32x4.mul(x, f32x4.splat(0.5)));
  const xq = f32x4.mul(f32x4.mul(x, tailRatio(t)), expHalfSquare(t));
  const tail = v128.bitselect(xq, f32x4.sub(x, xq), f32x4.lt(x, f32x4.splat(0)));
  return v128.bitselect(small, tail, f32x4.lt(t, f32x4.splat(PHI_SPLIT)));
}

/**
 * Phi(x) + x phi(x), phi = e / sqrt(2 pi) with e = exp(-x^2/2). In the tails, Q + x phi = e (R + x c) below
 * zero and 1 - Q + x phi = 1 + e (x c - R) above it (c = 1/sqrt(2 pi)), so no small difference of large terms
 * is formed but where the derivative itself crosses zero (x = -0.75).
 */
// @ts-ignore: decorator
@inline function geluErfGrad4(x: v128): v128 {
  const t = f32x4.abs(x);
  const e = expHalfSquare(t);
  const r = tailRatio(t);
  const xc = f32x4.mul(x, f32x4.splat(INV_SQRT_2PI));
  const small = madd(xc, e, f32x4.add(f32x4.splat(0.5), phiSmall(x)));
  const tail = v128.bitselect(f32x4.mul(e, f32x4.add(r, xc)), madd(e, f32x4.sub(xc, r), f32x4.splat(1)), f32x4.lt(x, f32x4.splat(0)));
  return v128.bitselect(small, tail, f32x4.lt(t, f32x4.splat(PHI_SPLIT)));
}

/** out = x Phi(x) over n floats. */
export function geluErfForward(out: usize, x: usize, n: i32): void {
  const nv = (<usize>(n & ~3)) << 2, nb = (<usize>n) << 2;
  let o: usize = 0;
  for (; o < nv; o += 16) v128.store(out + o, geluErf4(v128.load(x + o)));
  for (; o < nb; o += 4) store<f32>(out + o, f32x4.extract_lane(geluErf4(f32x4.splat(load<f32>(x + o))), 0));
}

/** dx (+)= dout (Phi(x) + x phi(x)): adds when `accumulate`, else overwrites. */
export function geluErfBackward(dx: usize, x: usize, dout: usize, n: i32, accumulate: bool): void {
  const nv = (<usize>(n & ~3)) << 2, nb = (<usize>n) << 2;
  let o: usize = 0;
  for (; o < nv; o += 16) {
    storeOrAdd(dx + o, f32x4.mul(v128.load(dout + o), geluErfGrad4(v128.load(x + o))), accumulate);
  }
  for (; o < nb; o += 4) {
    const g = load<f32>(dout + o) * f32x4.extract_lane(geluErfGrad4(f32x4.splat(load<f32>(x + o))), 0);
    store<f32>(dx + o, accumulate ? load<f32>(dx + o) + g : g);
  }
}
