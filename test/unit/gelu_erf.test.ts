/**
 * The exact GELU, x Phi(x): the float64 erf behind the reference kernel against C's libm (Python's math.erf and
 * math.erfc, test/fixtures/erf_reference.json from scripts/torch_parity.py), then both kernels against that
 * float64 reference over a dense sweep of float32 inputs, in units in the last place of the float32 result.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { referenceKernels } from '../../src/engine/backend.js';
import { add, geluErf, Rng } from '../../src/engine/index.js';
import { erf, erfc, normalCdf, normalPdf } from '../../src/engine/normal_cdf.js';
import { createWasmKernelsSync } from '../../src/engine/wasm/wasm_kernels.js';
import { enableRelaxedSimd } from '../../src/cli/wasm_flags.js';
import { FIXTURES } from '../helpers/fixtures.js';
import { assertGradCheck, normals, type GradInput } from '../helpers/gradcheck.js';
import { withKernels } from '../helpers/kernel_sets.js';

const SMALLEST_NORMAL = 2 ** -126;

/** The gap between |v| rounded to float32 and the next float32 up: one ulp of the float32 result. */
function ulp(v: number): number {
  const a = Math.abs(Math.fround(v));
  if (a < SMALLEST_NORMAL) return 2 ** -149;
  return 2 ** (Math.floor(Math.log2(a)) - 23);
}

/** Every `stride`-th float32 from the smallest normal up to `limit`, with both signs. */
function sweep(limit: number, stride: number): Float32Array {
  const bits = new Uint32Array(1);
  const f = new Float32Array(bits.buffer);
  f[0] = limit;
  const top = bits[0]!;
  const out: number[] = [];
  for (let b = 0x00800000; b <= top; b += stride) {
    bits[0] = b;
    out.push(f[0]!, -f[0]!);
  }
  out.push(0);
  return Float32Array.from(out);
}

test('float64 erf, erfc and Phi agree with C libm (Python math.erf, math.erfc) to a few float64 ulps', () => {
  const fx = JSON.parse(readFileSync(new URL('erf_reference.json', FIXTURES), 'utf8')) as {
    source: string;
    points: [number, number, number][];
  };
  assert.ok(fx.points.length >= 1000);
  let worstErf = 0,
    worstErfc = 0;
  for (const [z, e, c] of fx.points) {
    worstErf = Math.max(worstErf, Math.abs(erf(z) - e) / Math.max(Math.abs(e), 1e-300));
    if (c > 1e-300) worstErfc = Math.max(worstErfc, Math.abs(erfc(z) - c) / c);
  }
  // Relative errors: erf's within a few float64 ulps; erfc's (down to 1e-300, z = 26) within 2e-13: below z = 2
  // it is 1 - erf, which gives up to 8 of float64's 53 bits there. float32 needs 24.
  assert.ok(worstErf < 1e-15, `erf: worst relative error ${worstErf}`);
  assert.ok(worstErfc < 2e-13, `erfc: worst relative error ${worstErfc}`);
  assert.equal(normalCdf(0), 0.5);
  assert.equal(erf(-0.5), -erf(0.5));
  assert.equal(erfc(Infinity), 0);
  assert.ok(Math.abs(normalPdf(0) - 1 / Math.sqrt(2 * Math.PI)) < 1e-16);
});

test('the exact GELU: the WebAssembly kernel within 6 ulp of x Phi(x), the reference within half an ulp', () => {
  const x = sweep(16, 2048);
  const n = x.length;
  const truth = Float64Array.from(x, (v) => v * normalCdf(v));
  enableRelaxedSimd();
  for (const [name, k, bound] of [
    ['reference', referenceKernels, 0.5],
    ['wasm', createWasmKernelsSync(undefined, { relaxed: false }), 6],
    ['wasm relaxed', createWasmKernelsSync(), 6],
  ] as const) {
    const out = new Float32Array(n);
    k.geluErfForward(out, x, n);
    let worst = 0,
      at = 0;
    for (let i = 0; i < n; i++) {
      const t = truth[i]!;
      // Below float32's normal range the result is a denormal or 0 (x under -13): counted in absolute terms.
      const e = Math.abs(t) >= SMALLEST_NORMAL ? Math.abs(out[i]! - t) / ulp(t) : Math.abs(out[i]! - t) / SMALLEST_NORMAL;
      if (e > worst) [worst, at] = [e, x[i]!];
    }
    assert.ok(worst <= bound, `${name}: ${worst.toFixed(2)} ulp at x = ${at}`);
  }
});

test("the exact GELU's derivative: within 1.5e-7 everywhere, and a few ulp away from its zero at x = -0.75", () => {
  const x = sweep(16, 2048);
  const n = x.length;
  const dout = new Float32Array(n).fill(1);
  for (const [name, k, bound] of [
    ['reference', referenceKernels, 0.5],
    ['wasm', createWasmKernelsSync(undefined, { relaxed: false }), 8],
  ] as const) {
    const dx = new Float32Array(n);
    k.geluErfBackward(dx, x, dout, n, false);
    let worstAbs = 0,
      worstUlp = 0;
    for (let i = 0; i < n; i++) {
      const v = x[i]!;
      const g = normalCdf(v) + v * normalPdf(v);
      worstAbs = Math.max(worstAbs, Math.abs(dx[i]! - g));
      // Near the zero a float32 difference of two terms cannot be relatively accurate; below -13 phi(x) is
      // below float32's normal range, where the kernel's exp gives 0.
      if ((v < -1 || v > -0.5) && v > -13) worstUlp = Math.max(worstUlp, Math.abs(dx[i]! - g) / ulp(g));
    }
    assert.ok(worstAbs <= 1.5e-7, `${name}: absolute error ${worstAbs}`);
    assert.ok(worstUlp <= bound, `${name}: ${worstUlp.toFixed(2)} ulp`);
    // accumulate adds what overwrite writes
    const acc = new Float32Array(n).fill(0.25);
    k.geluErfBackward(acc, x, dout, n, true);
    for (let i = 0; i < n; i += 997) assert.ok(Math.abs(acc[i]! - (0.25 + dx[i]!)) <= 6e-8, `${name} accumulate at ${x[i]}`);
  }
});

test('gradcheck: the exact GELU, and used twice, on the reference and the WebAssembly kernels', () => {
  const rng = new Rng(11);
  const x: GradInput = { name: 'x', shape: [3, 5, 7], values: normals(105, rng, 2) };
  for (const [name, k] of [
    ['reference', referenceKernels],
    ['wasm', createWasmKernelsSync(undefined, { relaxed: false })],
  ] as const) {
    withKernels(k, () => {
      assertGradCheck(`${name}: geluErf`, [x], ([a]) => geluErf(a!));
      assertGradCheck(`${name}: geluErf(x) + geluErf(x)`, [x], ([a]) => add(geluErf(a!), geluErf(a!)));
    });
  }
});
