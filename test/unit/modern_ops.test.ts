/**
 * The ops of the modern options (RMS norm, QK-norm and rotary embeddings on a fused qkv, ReLU squared, the logit
 * soft-cap), three ways as test/unit/ops.test.ts does the lecture's: against PyTorch's values
 * (test/fixtures/modern_ops.safetensors, from scripts/torch_modern_ops.py), against central differences, and
 * against properties stated with real values (rotary scores depend on relative positions only; norms give unit RMS).
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import {
  add,
  attentionQKV,
  noGrad,
  parameter,
  relu2,
  rmsNorm,
  rotaryAngles,
  Rng,
  softcap,
  tensor,
  tidy,
  transformQK,
  type RotaryAngles,
  type Tensor,
} from '../../src/engine/index.js';
import { relativeError } from '../helpers/assert.js';
import { loadFixture } from '../helpers/fixtures.js';
import { assertGradCheck, normals, type GradInput } from '../helpers/gradcheck.js';

const FIXTURE_TOLERANCE = 1e-5;
const fx = loadFixture('modern_ops.safetensors');
const cfg = fx.config as { B: number; T: number; C: number; n_head: number; softcap: number; rms_eps: number };

/** Runs `build` on the fixture's input, compares the output and, after backpropagating its dy, the input's gradient. */
function checkFixture(t: TestContext, op: string, inputName: string, gradName: string, build: (x: Tensor) => Tensor): void {
  const f = fx.get(`${op}.${inputName}`);
  const x = parameter(() => tensor(f.data, f.shape));
  try {
    let outErr = 0;
    tidy(() => {
      const out = build(x);
      outErr = relativeError(out.data, fx.get(`${op}.out`).data);
      const dy = fx.get(`${op}.dy`);
      out.backward(tensor(dy.data, dy.shape));
    });
    const gradErr = relativeError(x.grad!.data, fx.get(`${op}.${gradName}`).data);
    t.diagnostic(`${op}: out ${outErr.toExponential(2)}, ${gradName} ${gradErr.toExponential(2)}`);
    assert.ok(outErr <= FIXTURE_TOLERANCE, `${op}.out: relative error ${outErr}`);
    assert.ok(gradErr <= FIXTURE_TOLERANCE, `${op}.${gradName}: relative error ${gradErr}`);
  } finally {
    x.dispose();
  }
}

function withAngles<R>(positions: number, headSize: number, fn: (a: RotaryAngles) => R): R {
  const a = rotaryAngles(positions, headSize);
  try {
    return fn(a);
  } finally {
    a.cos.dispose();
    a.sin.dispose();
  }
}

test('rotaryAngles: the tables PyTorch computes, row t the same in every table, and bad sizes refused', () => {
  const hs = cfg.C / cfg.n_head;
  withAngles(cfg.T, hs, (a) => {
    assert.deepEqual([...a.cos.data], [...fx.get('rotary.cos').data]);
    assert.deepEqual([...a.sin.data], [...fx.get('rotary.sin').data]);
    withAngles(3 * cfg.T, hs, (b) => assert.deepEqual([...b.cos.data.subarray(0, a.cos.size)], [...a.cos.data]));
  });
  assert.throws(() => rotaryAngles(4, 5), /even head size/);
  assert.throws(() => rotaryAngles(0, 4), /positive integer/);
});

test('fixture: rmsNorm, relu2 and softcap match PyTorch', (t) => {
  assert.equal(cfg.rms_eps, 2 ** -23);
  checkFixture(t, 'rms_norm', 'x', 'dx', (x) => rmsNorm(x));
  checkFixture(t, 'relu2', 'x', 'dx', (x) => relu2(x));
  checkFixture(t, 'softcap', 'x', 'dx', (x) => softcap(x, cfg.softcap));
});

test('fixture: transformQK (QK-norm, rotary embeddings, both) matches PyTorch', (t) => {
  withAngles(cfg.T, cfg.C / cfg.n_head, (rotary) => {
    checkFixture(t, 'qk_norm', 'qkv', 'dqkv', (x) => transformQK(x, cfg.n_head, { norm: true, rotary: null }));
    checkFixture(t, 'qk_rotary', 'qkv', 'dqkv', (x) => transformQK(x, cfg.n_head, { norm: false, rotary }));
    checkFixture(t, 'qk_both', 'qkv', 'dqkv', (x) => transformQK(x, cfg.n_head, { norm: true, rotary }));
  });
});

function input(name: string, shape: number[], rng: Rng, std = 1, shift = 0): GradInput {
  const n = shape.reduce((a, b) => a * b, 1);
  return { name, shape, values: Array.from(normals(n, rng, std), (v) => v + shift) };
}

function grad(t: TestContext, what: string, inputs: GradInput[], build: (xs: Tensor[]) => Tensor): void {
  const r = assertGradCheck(what, inputs, build);
  t.diagnostic(`${what}: ${r.checked} elements, worst ${r.worst.toFixed(3)} of tolerance`);
}

test('gradcheck: rmsNorm, relu2 (away from the kink), softcap, each also used twice', (t) => {
  const rng = new Rng(15);
  const x = input('x', [3, 5, 7], rng, 1, 0.3);
  grad(t, 'rmsNorm', [x], ([a]) => rmsNorm(a!));
  grad(t, 'rmsNorm + x', [x], ([a]) => add(rmsNorm(a!), a!));
  const raw = input('x', [3, 5, 7], rng);
  const away: GradInput = { ...raw, values: Array.from(raw.values, (v) => Math.sign(v || 1) * (0.1 + Math.abs(v))) };
  grad(t, 'relu2', [away], ([a]) => relu2(a!));
  grad(t, 'relu2(x) + relu2(x)', [away], ([a]) => add(relu2(a!), relu2(a!)));
  const big = input('x', [3, 5, 7], rng, 10);
  grad(t, 'softcap 15', [big], ([a]) => softcap(a!, 15));
  grad(t, 'softcap 15 + x', [big], ([a]) => add(softcap(a!, 15), a!));
});

test('gradcheck: transformQK with norm, rotary or both, 1 and 3 heads, and through attention', (t) => {
  const rng = new Rng(16);
  for (const [B, T, nh, hs] of [
    [1, 4, 1, 6],
    [2, 5, 3, 4],
  ] as const) {
    const C = nh * hs;
    const qkv = input('qkv', [B, T, 3 * C], rng, 1, 0.2);
    withAngles(T + 2, hs, (rotary) => {
      for (const [what, tr] of [
        ['norm', { norm: true, rotary: null }],
        ['rotary', { norm: false, rotary }],
        ['both', { norm: true, rotary }],
      ] as const) {
        grad(t, `transformQK ${what} [${B},${T},${3 * C}] ${nh} heads`, [qkv], ([a]) => transformQK(a!, nh, tr));
        // qkv read twice: transformed, and as it is.
        grad(t, `attention over transformQK ${what} plus attention over qkv`, [qkv], ([a]) =>
          add(attentionQKV(transformQK(a!, nh, tr), nh), attentionQKV(a!, nh)),
        );
      }
    });
  }
});

test('rotary embeddings: a query-key score depends on the distance between positions only', () => {
  const hs = 8,
    T = 12;
  const rng = new Rng(17);
  const q = normals(hs, rng),
    k = normals(hs, rng);
  // One sequence: the same query and the same key at every position.
  const qkv = new Float32Array(T * 3 * hs);
  for (let p = 0; p < T; p++) {
    qkv.set(q, p * 3 * hs);
    qkv.set(k, p * 3 * hs + hs);
  }
  const rotated = noGrad(() =>
    tidy(() => withAngles(T, hs, (rotary) => Float32Array.from(transformQK(tensor(qkv, [1, T, 3 * hs]), 1, { norm: false, rotary }).data))),
  );
  const score = (tq: number, tk: number) => {
    let s = 0;
    for (let i = 0; i < hs; i++) s += rotated[tq * 3 * hs + i]! * rotated[tk * 3 * hs + hs + i]!;
    return s;
  };
  let plain = 0;
  for (let i = 0; i < hs; i++) plain += q[i]! * k[i]!;
  assert.ok(Math.abs(score(0, 0) - plain) < 1e-5, 'no turn at position 0');
  for (const d of [0, 1, 3, 7]) {
    const first = score(d, 0);
    for (let s = 1; s + d < T; s++) assert.ok(Math.abs(score(s + d, s) - first) < 1e-4, `distance ${d}: ${score(s + d, s)} vs ${first}`);
  }
  assert.ok(Math.abs(score(3, 0) - score(1, 0)) > 1e-3, 'different distances give different scores');
});

test('QK-norm: every query and key head has RMS 1; values pass through bit for bit; bad shapes refused', () => {
  const [B, T, nh, hs] = [2, 3, 2, 5];
  const C = nh * hs;
  const x = normals(B * T * 3 * C, new Rng(18), 3);
  const y = noGrad(() => tidy(() => Float32Array.from(transformQK(tensor(x, [B, T, 3 * C]), nh, { norm: true, rotary: null }).data)));
  for (let r = 0; r < B * T; r++) {
    for (let g = 0; g < 2 * nh; g++) {
      let ss = 0;
      for (let i = 0; i < hs; i++) ss += y[r * 3 * C + g * hs + i]! ** 2;
      assert.ok(Math.abs(ss / hs - 1) < 1e-5, `row ${r} group ${g}: mean square ${ss / hs}`);
    }
    assert.deepEqual([...y.subarray(r * 3 * C + 2 * C, (r + 1) * 3 * C)], [...x.subarray(r * 3 * C + 2 * C, (r + 1) * 3 * C)]);
  }
  noGrad(() =>
    tidy(() => {
      assert.throws(() => transformQK(tensor(x.subarray(0, 20), [1, 2, 10]), 1, { norm: true, rotary: null }), /must be \[B, T, 3C\]/);
      withAngles(T, 4, (rotary) =>
        assert.throws(() => transformQK(tensor(x, [B, T, 3 * C]), nh, { norm: false, rotary }), /rotary embeddings need an even head size/),
      );
      withAngles(2, 4, (rotary) =>
        assert.throws(
          () => transformQK(tensor(x.subarray(0, 3 * 3 * 8), [1, 3, 24]), 2, { norm: false, rotary }),
          /angles for 2 positions, not 3/,
        ),
      );
    }),
  );
  assert.throws(() => noGrad(() => tidy(() => softcap(tensor([1], [1]), 0))), /cap must be positive/);
});
