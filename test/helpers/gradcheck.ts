/**
 * Numerical gradient checks by central differences.
 *
 * For an op output y = build(x_1, ..., x_n) and a fixed random upstream gradient R (same shape as y), the
 * objective is f(x) = sum(y * R), summed in float64. backward(R) gives the analytic df/dx_i; each checked
 * element is then perturbed to the float32 values just above and below x +- h, and the numerical derivative is
 * (f(x+) - f(x-)) / (x+ - x-), dividing by the step that float32 actually took rather than by 2h.
 *
 * An element passes when |numerical - analytic| <= atol + rtol * |analytic|; the report gives the worst ratio
 * of the error to that bound (1 = exactly at the limit).
 */
import assert from 'node:assert/strict';
import { noGrad, tapeLength } from '../../src/engine/autograd.js';
import { Rng } from '../../src/engine/random.js';
import { parameter, tensor, tidy, type Shape, type Tensor } from '../../src/engine/tensor.js';

export interface GradInput {
  /** A name for messages. */
  name: string;
  values: ArrayLike<number>;
  shape: Shape;
}

export interface GradCheckOptions {
  /** Step of the central difference (default 2^-8 ~ 3.9e-3). */
  h?: number;
  /** Absolute and relative parts of the tolerance (defaults 5e-4 and 5e-3). */
  atol?: number;
  rtol?: number;
  /** Inputs larger than this are checked on a seeded random subset of this many elements (default 60). */
  maxPerInput?: number;
  /** Seed for R and for the subsets. */
  seed?: number;
  /** Called on the analytic gradients before the comparison: lets a test show that a wrong gradient fails. */
  corrupt?: (grads: Float32Array[]) => void;
}

export interface GradCheckResult {
  /** Largest |num - ana| / (atol + rtol |ana|) over every checked element (<= 1 passes). */
  worst: number;
  /** Where the worst ratio was found. */
  where: string;
  /** Number of elements compared. */
  checked: number;
  /** The analytic gradients (a copy), one per input. */
  analytic: Float32Array[];
  /** Output of the op on the unperturbed inputs. */
  output: Float32Array;
}

export const DEFAULT_H = 2 ** -8;
export const DEFAULT_ATOL = 5e-4;
export const DEFAULT_RTOL = 5e-3;

/** Runs the check and returns its result without asserting. */
export function gradCheck(inputs: readonly GradInput[], build: (xs: Tensor[]) => Tensor, opts: GradCheckOptions = {}): GradCheckResult {
  const h = opts.h ?? DEFAULT_H,
    atol = opts.atol ?? DEFAULT_ATOL,
    rtol = opts.rtol ?? DEFAULT_RTOL;
  const maxPerInput = opts.maxPerInput ?? 60;
  const rng = new Rng(opts.seed ?? 12345);
  const values = inputs.map((x) => Float32Array.from(x.values));

  // The unperturbed output: its shape fixes R.
  const { output, outShape } = noGrad(() =>
    tidy(() => {
      const y = build(values.map((v, i) => tensor(v, inputs[i]!.shape)));
      return { output: Float32Array.from(y.data), outShape: [...y.shape] };
    }),
  );
  const R = new Float32Array(output.length);
  for (let i = 0; i < R.length; i++) R[i] = rng.normal();

  // Analytic gradients.
  const params = inputs.map((x, i) => parameter(() => tensor(values[i]!, x.shape)));
  const tapeBefore = tapeLength();
  let analytic: Float32Array[];
  try {
    tidy(() => {
      const out = build(params);
      assert.deepEqual([...out.shape], outShape, 'output shape changes between runs');
      out.backward(tensor(R, out.shape));
    });
    assert.equal(tapeLength(), tapeBefore, 'backward left nodes on the tape');
    analytic = params.map((p) => (p.grad === null ? new Float32Array(p.size) : Float32Array.from(p.grad.data)));
  } finally {
    for (const p of params) p.dispose();
  }
  const compared = analytic.map((g) => Float32Array.from(g));
  opts.corrupt?.(compared);

  const objective = (): number =>
    noGrad(() =>
      tidy(() => {
        const y = build(values.map((v, i) => tensor(v, inputs[i]!.shape))).data;
        let s = 0;
        for (let i = 0; i < y.length; i++) s += y[i]! * R[i]!;
        return s;
      }),
    );

  let worst = 0,
    where = '',
    checked = 0;
  for (let i = 0; i < inputs.length; i++) {
    const v = values[i]!;
    for (const j of pickIndices(v.length, maxPerInput, rng)) {
      const orig = v[j]!;
      const plus = Math.fround(orig + h),
        minus = Math.fround(orig - h);
      v[j] = plus;
      const fPlus = objective();
      v[j] = minus;
      const fMinus = objective();
      v[j] = orig;
      const num = (fPlus - fMinus) / (plus - minus);
      const ana = compared[i]![j]!;
      const ratio = Math.abs(num - ana) / (atol + rtol * Math.abs(ana));
      if (!(ratio <= worst)) {
        worst = Number.isNaN(ratio) ? Infinity : ratio;
        where = `${inputs[i]!.name}[${j}]: numerical ${num.toPrecision(6)}, analytic ${ana.toPrecision(6)}`;
      }
      checked++;
    }
  }
  return { worst, where, checked, analytic, output };
}

/** Runs the check and fails the test when some element is outside the tolerance. */
export function assertGradCheck(
  what: string,
  inputs: readonly GradInput[],
  build: (xs: Tensor[]) => Tensor,
  opts: GradCheckOptions = {},
): GradCheckResult {
  const r = gradCheck(inputs, build, opts);
  assert.ok(r.checked > 0, `${what}: nothing checked`);
  assert.ok(r.worst <= 1, `${what}: gradient check failed (ratio ${r.worst.toFixed(2)}) at ${r.where}`);
  return r;
}

/** Every index when n <= max, else `max` distinct indices drawn from rng. */
function pickIndices(n: number, max: number, rng: Rng): number[] {
  const all = Array.from({ length: n }, (_, i) => i);
  if (n <= max) return all;
  for (let i = 0; i < max; i++) {
    const j = i + rng.int(n - i);
    [all[i], all[j]] = [all[j]!, all[i]!];
  }
  return all.slice(0, max).sort((a, b) => a - b);
}

/** n standard-normal values times std, from rng. */
export function normals(n: number, rng: Rng, std = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.normal() * std;
  return out;
}
