/**
 * Small SIMD helpers shared by the kernels: multiply-add (fused when built with relaxed SIMD), horizontal
 * reductions, a vectorised exp, sums over n floats and over a row. A helper file: no kernel of the table is here.
 */

/** a * b + c. The relaxed build uses f32x4.relaxed_madd (one FMA where the CPU has it). */
// @ts-ignore: decorator
@inline export function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(f32x4.mul(a, b), c);
}

/** Writes v to dst, or adds it to what is there when `add` (a kernel that overwrites a fresh output or accumulates). */
// @ts-ignore: decorator
@inline export function storeOrAdd(dst: usize, v: v128, add: bool): void {
  v128.store(dst, add ? f32x4.add(v, v128.load(dst)) : v);
}

/** Sum of the four lanes. */
// @ts-ignore: decorator
@inline export function hsum(v: v128): f32 {
  const s = f32x4.add(v, v128.shuffle<f32>(v, v, 2, 3, 0, 1));
  return f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 1);
}

/** Largest of the four lanes. */
// @ts-ignore: decorator
@inline export function hmax(v: v128): f32 {
  const s = f32x4.pmax(v, v128.shuffle<f32>(v, v, 2, 3, 0, 1));
  return max<f32>(f32x4.extract_lane(s, 0), f32x4.extract_lane(s, 1));
}

/** [hsum(a), hsum(b), hsum(c), hsum(d)]: four dot-product accumulators reduced with two rounds of shuffles. */
// @ts-ignore: decorator
@inline export function hsum4(a: v128, b: v128, c: v128, d: v128): v128 {
  const ab = f32x4.add(v128.shuffle<f32>(a, b, 0, 4, 1, 5), v128.shuffle<f32>(a, b, 2, 6, 3, 7));
  const cd = f32x4.add(v128.shuffle<f32>(c, d, 0, 4, 1, 5), v128.shuffle<f32>(c, d, 2, 6, 3, 7));
  // ab = [a0+a2, b0+b2, a1+a3, b1+b3], cd likewise
  return f32x4.add(v128.shuffle<f32>(ab, cd, 0, 1, 4, 5), v128.shuffle<f32>(ab, cd, 2, 3, 6, 7));
}

const EXP_LO: f32 = -87.33654; // below this exp(x) is a float32 denormal: we return 0
const EXP_HI: f32 = 88.37626; // largest x whose rounded exponent still fits: exp(88.376) = 2.4e38
const LOG2E: f32 = 1.44269504088896341;
const LN2_HI: f32 = 0.693359375; // ln 2 split in two (Cody-Waite): n * LN2_HI is exact for |n| < 2^9
const LN2_LO: f32 = -2.12194440e-4;
/** 1.5 * 2^23: adding it rounds a float of magnitude < 2^22 to an integer, which lands in the low mantissa bits. */
const ROUNDER: f32 = 12582912.0;

/**
 * exp of four floats: x = n ln2 + r with |r| <= ln2 / 2, exp(r) by a degree-7 polynomial (Cephes expf
 * coefficients, about 1 ulp), times 2^n built in the exponent bits. n is rounded by adding 1.5 * 2^23 (its
 * integer value is then the low bits of the sum: no conversion instructions). NaN propagates, -inf gives 0.
 */
// @ts-ignore: decorator
@inline export function exp4(x: v128): v128 {
  const xc = f32x4.pmin(f32x4.pmax(x, f32x4.splat(EXP_LO)), f32x4.splat(EXP_HI));
  const t = madd(xc, f32x4.splat(LOG2E), f32x4.splat(ROUNDER));
  const n = f32x4.sub(t, f32x4.splat(ROUNDER));
  let r = f32x4.sub(xc, f32x4.mul(n, f32x4.splat(LN2_HI)));
  r = f32x4.sub(r, f32x4.mul(n, f32x4.splat(LN2_LO)));
  let p = f32x4.splat(1.9875691500e-4);
  p = madd(p, r, f32x4.splat(1.3981999507e-3));
  p = madd(p, r, f32x4.splat(8.3334519073e-3));
  p = madd(p, r, f32x4.splat(4.1665795894e-2));
  p = madd(p, r, f32x4.splat(1.6666665459e-1));
  p = madd(p, r, f32x4.splat(5.0000001201e-1));
  const y = f32x4.add(madd(f32x4.mul(p, r), r, r), f32x4.splat(1));
  // t's bits are those of ROUNDER plus n in the low mantissa bits: shifting left 23 moves n (two's complement,
  // low 9 bits suffice for |n| <= 127) into the exponent field; adding 127 << 23 biases it.
  const scale = i32x4.add(i32x4.shl(t, 23), i32x4.splat(127 << 23));
  const e = f32x4.mul(y, scale);
  return v128.bitselect(f32x4.splat(0), e, f32x4.lt(x, f32x4.splat(EXP_LO)));
}

/** Scalar exp through the vector routine, for loop tails (so tails round exactly as the vector body). */
// @ts-ignore: decorator
@inline export function exp1(x: f32): f32 {
  return f32x4.extract_lane(exp4(f32x4.splat(x)), 0);
}

/** out = a + b over n floats. */
// @ts-ignore: decorator
@inline export function addN(out: usize, a: usize, b: usize, n: i32): void {
  const nv = (<usize>(n & ~3)) << 2, nb = (<usize>n) << 2;
  let o: usize = 0;
  for (; o < nv; o += 16) v128.store(out + o, f32x4.add(v128.load(a + o), v128.load(b + o)));
  for (; o < nb; o += 4) store<f32>(out + o, load<f32>(a + o) + load<f32>(b + o));
}

/** y += x over n floats. */
// @ts-ignore: decorator
@inline export function accN(y: usize, x: usize, n: i32): void {
  addN(y, y, x, n);
}

/** Sum of n floats. */
// @ts-ignore: decorator
@inline export function sumN(x: usize, n: i32): f32 {
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
@inline export function maxN(x: usize, n: i32): f32 {
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
@inline export function sumExp(out: usize, x: usize, n: i32, shift: f32): f32 {
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
