/**
 * The error function and the standard normal distribution in float64, for the exact GELU's reference kernel
 * (x Phi(x)) and for measuring the WebAssembly kernel's float32 error against. JavaScript has no Math.erf.
 *
 * Two textbook forms, each used where it converges fast and loses nothing to cancellation:
 *  - |z| < 2: erf(z) = 2/sqrt(pi) exp(-z^2) sum over n of 2^n z^(2n+1) / (1 3 5 ... (2n+1)) (Abramowitz and
 *    Stegun 7.1.6), whose terms are all positive; erfc = 1 - erf there (erfc(2) = 0.0047, so at most 8 of
 *    53 bits go);
 *  - |z| >= 2: erfc(z) = exp(-z^2)/sqrt(pi) / (z + (1/2) / (z + 1 / (z + (3/2) / (z + 2 / (z + ...))))) (A&S
 *    7.1.14), evaluated from the bottom of a fixed depth; at z = 2 its 60 levels reach float64's precision.
 * exp(-z^2) takes z^2 as the sum of two exactly representable parts, or a large z would lose the relative
 * accuracy of the tail (z^2 = 200 rounds with an absolute error near 3e-14 otherwise: harmless, but free to
 * avoid). Checked against Python's math.erf and math.erfc (C's libm) in test/unit/normal_cdf.test.ts.
 */

const TWO_OVER_SQRT_PI = 1.1283791670955126;
const ONE_OVER_SQRT_PI = 0.5641895835477563;
const SERIES_LIMIT = 2;
const FRACTION_DEPTH = 60;

/** exp(-z^2), with z^2 split so that its rounding does not cost relative accuracy for large z. */
function expMinusSquare(z: number): number {
  // z = hi + lo with hi holding about 26 bits: hi^2 is exact, and (z - hi)(z + hi) is small.
  const hi = Math.fround(z);
  const lo = z - hi;
  return Math.exp(-hi * hi) * Math.exp(-lo * (z + hi));
}

/** erf(z) for |z| < 2 by the positive series; returns erf(|z|) without the sign. */
function erfSeries(z: number): number {
  const z2 = z * z;
  let term = z;
  let sum = z;
  for (let n = 1; n < 200; n++) {
    term *= (2 * z2) / (2 * n + 1);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return TWO_OVER_SQRT_PI * expMinusSquare(z) * sum;
}

/** erfc(z) for z >= 2 by the continued fraction. */
function erfcFraction(z: number): number {
  if (z === Infinity) return 0;
  let tail = z;
  for (let k = FRACTION_DEPTH; k >= 1; k--) tail = z + k / 2 / tail;
  return (ONE_OVER_SQRT_PI * expMinusSquare(z)) / tail;
}

export function erf(z: number): number {
  if (Number.isNaN(z)) return z;
  const a = Math.abs(z);
  const r = a < SERIES_LIMIT ? erfSeries(a) : 1 - erfcFraction(a);
  return z < 0 ? -r : r;
}

export function erfc(z: number): number {
  if (Number.isNaN(z)) return z;
  if (z >= SERIES_LIMIT) return erfcFraction(z);
  if (z <= -SERIES_LIMIT) return 2 - erfcFraction(-z);
  return 1 - (z < 0 ? -erfSeries(-z) : erfSeries(z));
}

/** Phi(x) = P(N(0, 1) <= x) = erfc(-x / sqrt(2)) / 2: accurate in relative terms in both tails. */
export function normalCdf(x: number): number {
  return 0.5 * erfc(-x * Math.SQRT1_2);
}

/** phi(x) = exp(-x^2 / 2) / sqrt(2 pi). */
export function normalPdf(x: number): number {
  return 0.3989422804014327 * expMinusSquare(x * Math.SQRT1_2);
}
