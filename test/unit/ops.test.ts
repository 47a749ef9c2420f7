/**
 * Every engine op, three ways: against PyTorch's values (test/fixtures/ops.safetensors, forward output and every
 * input gradient), against central differences on random inputs of small odd shapes (including inputs used
 * twice, so that gradients must accumulate), and against properties stated with real values (dropout's rate
 * and scale, ln V for uniform logits, causality, the errors bad shapes raise).
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { record, gradIfNeeded, tapeLength } from '../../src/engine/autograd.js';
import { defaultArena } from '../../src/engine/arena.js';
import {
  add,
  attention,
  attentionQKV,
  concat,
  crossEntropy,
  dropout,
  embedding,
  geluErf,
  geluTanh,
  layerNorm,
  linear,
  noGrad,
  relu,
  softmax,
  split,
  Rng,
  Tensor,
  intTensor,
  parameter,
  randn,
  tensor,
  tidy,
} from '../../src/engine/index.js';
import { relativeError } from '../helpers/assert.js';
import { loadFixture } from '../helpers/fixtures.js';
import { assertGradCheck, gradCheck, normals, type GradCheckOptions, type GradInput } from '../helpers/gradcheck.js';

const FIXTURE_TOLERANCE = 1e-5;

// ---- (a) PyTorch fixtures ----------------------------------------------------------------------------------

const fx = loadFixture('ops.safetensors');

/**
 * Builds the op's inputs from `${op}.${name}` as parameters, runs it, compares the output with `${op}.${outName}`,
 * backpropagates `${op}.dy` (or 1 for a scalar) and compares each input's gradient with its fixture. Returns the
 * largest relative error seen.
 */
function checkFixture(
  t: TestContext,
  op: string,
  inputNames: readonly string[],
  gradNames: readonly string[],
  build: (xs: Tensor[]) => Tensor,
  outName = 'out',
): number {
  const params = inputNames.map((n) => {
    const f = fx.get(`${op}.${n}`);
    assert.equal(f.dtype, 'F32', `${op}.${n} dtype`);
    return parameter(() => tensor(f.data, f.shape));
  });
  const errors: string[] = [];
  let worst = 0;
  const compare = (actual: Tensor | null, name: string): void => {
    const expected = fx.get(`${op}.${name}`);
    assert.ok(actual !== null, `${op}: no gradient where ${name} expected one`);
    assert.deepEqual([...actual.shape], expected.shape, `${op}.${name} shape`);
    const err = relativeError(actual.data, expected.data);
    errors.push(`${name} ${err.toExponential(2)}`);
    worst = Math.max(worst, err);
    assert.ok(err <= FIXTURE_TOLERANCE, `${op}.${name}: relative error ${err.toExponential(2)} exceeds ${FIXTURE_TOLERANCE}`);
  };
  try {
    tidy(() => {
      const out = build(params);
      compare(out, outName);
      if (fx.has(`${op}.dy`)) {
        const dy = fx.get(`${op}.dy`);
        out.backward(tensor(dy.data, dy.shape));
      } else {
        out.backward(1);
      }
    });
    assert.equal(tapeLength(), 0, 'tape not cleared by backward');
    gradNames.forEach((g, i) => compare(params[i]!.grad, g));
  } finally {
    for (const p of params) p.dispose();
  }
  t.diagnostic(`${op}: ${errors.join(', ')}`);
  return worst;
}

function fixtureIds(name: string): Tensor {
  const f = fx.get(name);
  assert.equal(f.dtype, 'I32', `${name} dtype`);
  return intTensor(f.data, f.shape);
}

test('fixture: embedding matches PyTorch', (t) => {
  const idx = fixtureIds('embedding.idx');
  try {
    checkFixture(t, 'embedding', ['weight'], ['dweight'], ([w]) => embedding(w!, idx));
  } finally {
    idx.dispose();
  }
});

test('fixture: linear matches PyTorch', (t) => {
  checkFixture(t, 'linear', ['x', 'weight', 'bias'], ['dx', 'dweight', 'dbias'], ([x, w, b]) => linear(x!, w!, b!));
});

test('fixture: add with a broadcast [T, C] operand matches PyTorch, in either order', (t) => {
  checkFixture(t, 'add_broadcast', ['a', 'b'], ['da', 'db'], ([a, b]) => add(a!, b!));
  checkFixture(t, 'add_broadcast', ['a', 'b'], ['da', 'db'], ([a, b]) => add(b!, a!));
});

test('fixture: layerNorm matches PyTorch', (t) => {
  assert.equal((fx.config.layernorm as { eps: number }).eps, 1e-5);
  checkFixture(t, 'layernorm', ['x', 'weight', 'bias'], ['dx', 'dweight', 'dbias'], ([x, w, b]) => layerNorm(x!, w!, b!, 1e-5));
});

test('fixture: relu matches PyTorch', (t) => {
  checkFixture(t, 'relu', ['x'], ['dx'], ([x]) => relu(x!));
});

test('fixture: gelu (tanh) matches PyTorch', (t) => {
  assert.equal((fx.config.gelu_tanh as { approximate: string }).approximate, 'tanh');
  checkFixture(t, 'gelu_tanh', ['x'], ['dx'], ([x]) => geluTanh(x!));
});

test('fixture: gelu (exact) matches PyTorch', (t) => {
  assert.equal((fx.config.gelu as { approximate: string }).approximate, 'none');
  checkFixture(t, 'gelu', ['x'], ['dx'], ([x]) => geluErf(x!));
});

test('fixture: softmax matches PyTorch', (t) => {
  checkFixture(t, 'softmax', ['x'], ['dx'], ([x]) => softmax(x!));
});

test('fixture: causal multi-head attention matches PyTorch', (t) => {
  const cfg = fx.config.attention as { n_head: number };
  assert.equal(cfg.n_head, 3);
  checkFixture(t, 'attention', ['q', 'k', 'v'], ['dq', 'dk', 'dv'], ([q, k, v]) => attention(q!, k!, v!, cfg.n_head));
});

test('fixture: crossEntropy (with an ignored target) matches PyTorch', (t) => {
  const targets = fixtureIds('cross_entropy.targets');
  try {
    assert.ok(targets.toArray().includes(-1), 'the fixture has an ignored target');
    checkFixture(t, 'cross_entropy', ['logits'], ['dlogits'], ([l]) => crossEntropy(l!, targets), 'loss');
  } finally {
    targets.dispose();
  }
});

// ---- (b) numerical gradients -------------------------------------------------------------------------------

/** A gradient-check input of standard normals (times std) of the given shape. */
function input(name: string, shape: number[], rng: Rng, std = 1): GradInput {
  return {
    name,
    shape,
    values: normals(
      shape.reduce((a, b) => a * b, 1),
      rng,
      std,
    ),
  };
}

/** Runs the check and reports its worst ratio to the tolerance as a test diagnostic. */
function grad(t: TestContext, what: string, inputs: GradInput[], build: (xs: Tensor[]) => Tensor, opts?: GradCheckOptions) {
  const r = assertGradCheck(what, inputs, build, opts);
  t.diagnostic(`${what}: ${r.checked} elements, worst ${r.worst.toFixed(3)} of tolerance`);
  return r;
}

test('gradcheck: the checker rejects wrong gradients', () => {
  const rng = new Rng(1);
  const x = input('x', [3, 5], rng),
    w = input('w', [7, 5], rng);
  const build = ([a, b]: Tensor[]) => linear(a!, b!, null);
  assert.ok(gradCheck([x, w], build).worst <= 1, 'the correct gradient passes');
  // The tolerance is |num - ana| <= 5e-4 + 5e-3 |ana|. Each of these corruptions must fail it: the largest
  // element 2% off, a small element off by 2e-3, the whole gradient 2% too large, a sign flip.
  const argmax = (a: Float32Array) => a.reduce((best, v, i) => (Math.abs(v) > Math.abs(a[best]!) ? i : best), 0);
  const argmin = (a: Float32Array) => a.reduce((best, v, i) => (Math.abs(v) < Math.abs(a[best]!) ? i : best), 0);
  const corruptions: ((g: Float32Array[]) => void)[] = [
    (g) => {
      g[0]![argmax(g[0]!)]! *= 1.02;
    },
    (g) => {
      g[1]![argmin(g[1]!)]! += 2e-3;
    },
    (g) => {
      for (const a of g) for (let i = 0; i < a.length; i++) a[i]! *= 1.02;
    },
    (g) => {
      const i = argmax(g[1]!);
      g[1]![i] = -g[1]![i]!;
    },
  ];
  for (const corrupt of corruptions) {
    const r = gradCheck([x, w], build, { corrupt, maxPerInput: 1000 });
    assert.ok(r.worst > 1, `a corrupted gradient passed (${r.where})`);
  }
  // Deliberately wrong ops: y = x^2 whose backward says 2.05 x, or one that overwrites the gradient instead of
  // accumulating (right when x is used once, wrong when it is used twice).
  const square = (a: Tensor, factor: number, overwrite = false): Tensor => {
    const out = new Tensor(a.shape);
    for (let i = 0; i < a.size; i++) out.data[i] = a.data[i]! * a.data[i]!;
    if (a.requiresGrad) {
      record('square', out, [a], () => {
        const dx = gradIfNeeded(a)!,
          dy = out.grad!.data,
          xs = a.data;
        for (let i = 0; i < a.size; i++) dx[i] = (overwrite ? 0 : dx[i]!) + factor * xs[i]! * dy[i]!;
      });
    }
    return out;
  };
  assert.ok(gradCheck([x], ([a]) => square(a!, 2)).worst <= 1, 'right square passes');
  assert.ok(gradCheck([x], ([a]) => square(a!, 2.05)).worst > 1, 'wrong square fails');
  assert.ok(gradCheck([x], ([a]) => add(square(a!, 2), square(a!, 2))).worst <= 1, 'right square used twice passes');
  assert.ok(gradCheck([x], ([a]) => square(a!, 2, true)).worst <= 1, 'overwriting square used once passes');
  assert.ok(gradCheck([x], ([a]) => add(square(a!, 2, true), square(a!, 2, true))).worst > 1, 'overwriting square used twice fails');
});

test('gradcheck: embedding (repeated ids accumulate, and two lookups of one table)', (t) => {
  const rng = new Rng(2);
  const idsA = intTensor([0, 4, 2, 4, 6, 0, 1, 4, 3, 5, 6, 6, 0, 2, 4], [3, 5]);
  const idsB = intTensor([1, 1, 3, 4, 6], [5]); // [5, 5], added to [3, 5, 5] by broadcasting
  try {
    const w = input('weight', [7, 5], rng);
    grad(t, 'embedding', [w], ([a]) => embedding(a!, idsA));
    grad(t, 'embedding used twice', [w], ([a]) => add(embedding(a!, idsA), embedding(a!, idsB)));
  } finally {
    idsA.dispose();
    idsB.dispose();
  }
});

test('gradcheck: linear with and without bias, and with x and W used twice', (t) => {
  const rng = new Rng(3);
  const x = input('x', [3, 5, 7], rng),
    w = input('weight', [9, 7], rng),
    b = input('bias', [9], rng);
  grad(t, 'linear', [x, w, b], ([a, c, d]) => linear(a!, c!, d!));
  grad(t, 'linear, bias null', [x, w], ([a, c]) => linear(a!, c!, null));
  grad(t, 'linear 2-D input', [input('x', [5, 7], rng), w, b], ([a, c, d]) => linear(a!, c!, d!));
  grad(t, 'linear twice', [x, w, b], ([a, c, d]) => add(linear(a!, c!, d!), linear(a!, c!, null)));
});

test('gradcheck: add, same shape, broadcast either order, and an operand used twice', (t) => {
  const rng = new Rng(4);
  const a = input('a', [3, 5, 7], rng),
    a2 = input('a2', [3, 5, 7], rng);
  const bTC = input('b', [5, 7], rng),
    bC = input('b', [7], rng),
    b1TC = input('b', [1, 5, 7], rng);
  grad(t, 'add same shape', [a, a2], ([x, y]) => add(x!, y!));
  grad(t, 'add [B,T,C] + [T,C]', [a, bTC], ([x, y]) => add(x!, y!));
  grad(t, 'add [T,C] + [B,T,C]', [a, bTC], ([x, y]) => add(y!, x!));
  grad(t, 'add [B,T,C] + [C]', [a, bC], ([x, y]) => add(x!, y!));
  grad(t, 'add [B,T,C] + [1,T,C]', [a, b1TC], ([x, y]) => add(x!, y!));
  grad(t, 'add x + x', [a], ([x]) => add(x!, x!));
  grad(t, 'add (a + b) + b', [a, bTC], ([x, y]) => add(add(x!, y!), y!));
  // Intermediate operands: backward hands the output's gradient over to the first one instead of adding it,
  // and copies it into the second unless that one already has a gradient.
  grad(t, 'add h + h, h intermediate', [a], ([x]) => {
    const h = geluTanh(x!);
    return add(h, h);
  });
  grad(t, 'add (h + g) + g, g used twice', [a, a2], ([x, y]) => {
    const g = geluTanh(x!),
      h = geluTanh(y!);
    return add(add(h, g), g);
  });
  grad(t, 'add g + (h + g)', [a, a2], ([x, y]) => {
    const g = geluTanh(x!),
      h = geluTanh(y!);
    return add(g, add(h, g));
  });
  grad(
    t,
    'residual over an intermediate: h + linear(layerNorm(h))',
    [a, input('w', [7, 7], rng, 0.5), input('lw', [7], rng)],
    ([x, w, lw]) => {
      const h = geluTanh(x!);
      return add(h, linear(layerNorm(h, lw!, null), w!, null));
    },
  );
});

test('gradcheck: layerNorm with and without bias, and its input reused as a residual', (t) => {
  const rng = new Rng(5);
  const x = input('x', [3, 5, 7], rng, 2),
    w = input('weight', [7], rng),
    b = input('bias', [7], rng);
  grad(t, 'layerNorm', [x, w, b], ([a, c, d]) => layerNorm(a!, c!, d!));
  grad(t, 'layerNorm, bias null', [x, w], ([a, c]) => layerNorm(a!, c!, null));
  grad(t, 'layerNorm eps 1e-2', [x, w, b], ([a, c, d]) => layerNorm(a!, c!, d!, 1e-2));
  grad(t, 'layerNorm + residual', [x, w, b], ([a, c, d]) => add(layerNorm(a!, c!, d!), a!));
});

test('gradcheck: relu (inputs away from the kink) and gelu', (t) => {
  const rng = new Rng(6);
  const raw = input('x', [3, 5, 7], rng);
  // |x| >= 0.1, well beyond the step, so no difference straddles 0.
  const x: GradInput = { ...raw, values: Array.from(raw.values, (v) => Math.sign(v || 1) * (0.1 + Math.abs(v))) };
  grad(t, 'relu', [x], ([a]) => relu(a!));
  grad(t, 'relu + x', [x], ([a]) => add(relu(a!), a!));
  const g = input('x', [3, 5, 7], rng, 2);
  grad(t, 'gelu', [g], ([a]) => geluTanh(a!));
  grad(t, 'geluTanh(x) + geluTanh(x)', [g], ([a]) => add(geluTanh(a!), geluTanh(a!)));
});

test('gradcheck: softmax', (t) => {
  const rng = new Rng(7);
  const x = input('x', [3, 5, 7], rng, 2);
  grad(t, 'softmax', [x], ([a]) => softmax(a!));
  grad(t, 'softmax + x', [x], ([a]) => add(softmax(a!), a!));
  grad(t, 'softmax width 1', [input('x', [3, 1], rng)], ([a]) => softmax(a!));
});

test('gradcheck: attention, 1 and 3 heads, and self-attention of one input', (t) => {
  const rng = new Rng(8);
  const qkv1 = ['q', 'k', 'v'].map((n) => input(n, [1, 7, 5], rng));
  grad(t, 'attention nHead 1 [1,7,5]', qkv1, ([q, k, v]) => attention(q!, k!, v!, 1));
  const qkv3 = ['q', 'k', 'v'].map((n) => input(n, [2, 7, 9], rng));
  grad(t, 'attention nHead 3 [2,7,9]', qkv3, ([q, k, v]) => attention(q!, k!, v!, 3));
  const x = input('x', [1, 5, 9], rng);
  grad(t, 'attention(x, x, x) nHead 3', [x], ([a]) => attention(a!, a!, a!, 3));
  grad(
    t,
    'attention T = 1',
    ['q', 'k', 'v'].map((n) => input(n, [3, 1, 3], rng)),
    ([q, k, v]) => attention(q!, k!, v!, 3),
  );
});

test('attentionQKV: reading q, k, v in place from [B, T, 3C] equals attention on the split, bit for bit', () => {
  const rng = new Rng(21);
  const [B, T, C, nh] = [2, 7, 9, 3];
  const parts = [0, 1, 2].map(() => normals(B * T * C, rng));
  const [q, k, v] = parts.map((values) => parameter(() => tensor(values, [B, T, C]))) as [Tensor, Tensor, Tensor];
  const rows = new Float32Array(B * T * 3 * C); // each row: q's, then k's, then v's
  for (let r = 0; r < B * T; r++) for (let p = 0; p < 3; p++) rows.set(parts[p]!.subarray(r * C, (r + 1) * C), (3 * r + p) * C);
  const qkv = parameter(() => tensor(rows, [B, T, 3 * C]));
  const seed = tensor(normals(B * T * C, rng), [B, T, C]);
  try {
    // One at a time: a backward clears the whole tape.
    const split = attention(q, k, v, nh);
    split.backward(seed);
    const fused = attentionQKV(qkv, nh);
    assert.deepEqual(fused.toArray(), split.toArray());
    fused.backward(seed);
    const g = qkv.grad!.data;
    const thirds = [0, 1, 2].map((third) => {
      const out: number[] = [];
      for (let r = 0; r < B * T; r++) for (let c = 0; c < C; c++) out.push(g[r * 3 * C + third * C + c]!);
      return out;
    });
    assert.deepEqual(thirds, [q.grad!.toArray(), k.grad!.toArray(), v.grad!.toArray()]);
    assert.ok(thirds[0]!.some((x) => x !== 0) && thirds[1]!.some((x) => x !== 0), 'gradients reach q and k');
  } finally {
    for (const x of [q, k, v, qkv, seed]) x.dispose();
  }
});

test('gradcheck: attentionQKV, 1 and 3 heads', (t) => {
  const rng = new Rng(22);
  grad(t, 'attentionQKV nHead 1 [1,6,12]', [input('qkv', [1, 6, 12], rng)], ([x]) => attentionQKV(x!, 1));
  grad(t, 'attentionQKV nHead 3 [2,5,18]', [input('qkv', [2, 5, 18], rng)], ([x]) => attentionQKV(x!, 3));
});

test('gradcheck: attention with dropout on the weights (same mask every forward)', (t) => {
  const rng = new Rng(9);
  const qkv = ['q', 'k', 'v'].map((n) => input(n, [2, 7, 9], rng));
  const opts = () => ({ dropout: 0.3, rng: new Rng(77), training: true });
  // The mask does something: the output differs from attention without dropout.
  const [withDrop, without] = noGrad(() =>
    tidy(() => {
      const [q, k, v] = qkv.map((x) => tensor(x.values, x.shape));
      return [attention(q!, k!, v!, 3, opts()).toArray(), attention(q!, k!, v!, 3).toArray()];
    }),
  );
  assert.ok(
    withDrop!.some((y, i) => Math.abs(y - without![i]!) > 1e-3),
    'dropout changed nothing',
  );
  // Passing this with the same seed for every forward means the backward used the forward's own mask.
  grad(t, 'attention dropout 0.3', qkv, ([q, k, v]) => attention(q!, k!, v!, 3, opts()));
  // The backward draws nothing from the generator: it reuses the stored mask.
  const params = qkv.map((x) => parameter(() => tensor(x.values, x.shape)));
  try {
    const r = new Rng(77);
    tidy(() => {
      const out = attention(params[0]!, params[1]!, params[2]!, 3, { dropout: 0.3, rng: r, training: true });
      const state = JSON.stringify(r.getState());
      out.backward(randn(out.shape, new Rng(1)));
      assert.equal(JSON.stringify(r.getState()), state, 'backward consumed random numbers');
    });
  } finally {
    for (const p of params) p.dispose();
  }
  // Not training: no dropout at all.
  const evalOut = noGrad(() =>
    tidy(() => {
      const [q, k, v] = qkv.map((x) => tensor(x.values, x.shape));
      return attention(q!, k!, v!, 3, { dropout: 0.3, rng: new Rng(77), training: false }).toArray();
    }),
  );
  assert.deepEqual(evalOut, without);
});

test('gradcheck: crossEntropy with ignored targets, and logits used by two losses', (t) => {
  const rng = new Rng(10);
  const targets = intTensor([3, -1, 0, 6, 2, 2, -1, 5, 1, 4, 0, 6, 3, -1, 2], [3, 5]);
  const other = intTensor([1, 1, -1, 0, 5, 6, 2, 3, -1, -1, 4, 4, 0, 1, 2], [3, 5]);
  try {
    const logits = input('logits', [3, 5, 7], rng, 2);
    grad(t, 'crossEntropy', [logits], ([l]) => crossEntropy(l!, targets));
    grad(t, 'crossEntropy 2-D', [input('logits', [5, 7], rng)], ([l]) => crossEntropy(l!, intTensor([6, -1, 0, 3, 3], [5])));
    grad(t, 'two crossEntropy losses on one logits', [logits], ([l]) => add(crossEntropy(l!, targets), crossEntropy(l!, other)));
  } finally {
    targets.dispose();
    other.dispose();
  }
});

test('gradcheck: dropout (same mask every forward; the backward multiplies by that mask)', (t) => {
  const rng = new Rng(11);
  const x = input('x', [3, 5, 7], rng);
  const build = ([a]: Tensor[]) => dropout(a!, 0.3, new Rng(5), true);
  const r = grad(t, 'dropout 0.3', [x], build);
  grad(t, 'dropout(x) + x', [x], ([a]) => add(dropout(a!, 0.3, new Rng(5), true), a!));
  // With R as dy, the gradient is exactly R * mask, the mask read off the output.
  const R = normals(r.output.length, new Rng(12345));
  const scale = Math.fround(1 / (1 - 0.3));
  let dropped = 0;
  for (let i = 0; i < r.output.length; i++) {
    const kept = r.output[i] !== 0;
    if (!kept) dropped++;
    // (+ 0 turns the -0 of a negative value times a zero mask into 0)
    assert.equal(r.output[i]! + 0, kept ? Math.fround(Number(x.values[i]) * scale) : 0);
    assert.equal(r.analytic[0]![i]! + 0, kept ? Math.fround(R[i]! * scale) : 0, `dx[${i}]`);
  }
  assert.ok(dropped > 0 && dropped < r.output.length, 'the mask drops some elements and keeps others');
});

test('gradcheck: split and concat', (t) => {
  const rng = new Rng(12);
  const x = input('x', [3, 5, 9], rng);
  grad(t, 'split [2,3,4] then concat reversed', [x], ([a]) => concat(split(a!, [2, 3, 4]).reverse()));
  grad(t, 'concat([x, split pieces]) uses x twice', [x], ([a]) => {
    const [p, q, r] = split(a!, [4, 1, 4]);
    return concat([r!, a!, p!, q!, p!]);
  });
  grad(t, 'one piece unused', [x], ([a]) => {
    const [p, , r] = split(a!, [2, 5, 2]);
    return concat([r!, p!]);
  });
  const a = input('a', [3, 5, 2], rng),
    b = input('b', [3, 5, 5], rng),
    c = input('c', [3, 5, 1], rng);
  grad(t, 'concat of three inputs', [a, b, c], ([p, q, r]) => concat([p!, q!, r!]));
  // The piece left out gets exactly zero gradient.
  const res = gradCheck([x], ([s]) => {
    const [p, , r] = split(s!, [2, 5, 2]);
    return concat([r!, p!]);
  });
  for (let i = 0; i < x.values.length; i++) {
    const col = i % 9;
    if (col >= 2 && col < 7) assert.equal(res.analytic[0]![i], 0);
  }
});

test('gradcheck: composite layerNorm -> linear -> gelu -> linear + residual (x used twice)', (t) => {
  const rng = new Rng(13);
  const inputs = [
    input('x', [3, 5, 7], rng),
    input('ln.weight', [7], rng),
    input('ln.bias', [7], rng),
    input('fc.weight', [9, 7], rng, 0.5),
    input('fc.bias', [9], rng),
    input('proj.weight', [7, 9], rng, 0.5),
    input('proj.bias', [7], rng),
  ];
  grad(t, 'mlp block', inputs, ([x, lw, lb, w1, b1, w2, b2]) =>
    add(x!, linear(geluTanh(linear(layerNorm(x!, lw!, lb!), w1!, b1!)), w2!, b2!)),
  );
});

test('gradcheck: composite attention block (layerNorm -> qkv linear -> split -> attention -> proj + residual)', (t) => {
  const rng = new Rng(14);
  const C = 9,
    nh = 3;
  const inputs = [
    input('x', [1, 5, C], rng),
    input('ln.weight', [C], rng),
    input('qkv.weight', [3 * C, C], rng, 0.5),
    input('proj.weight', [C, C], rng, 0.5),
    input('proj.bias', [C], rng),
  ];
  grad(t, 'attention block', inputs, ([x, lw, wqkv, wp, bp]) => {
    const [q, k, v] = split(linear(layerNorm(x!, lw!, null), wqkv!, null), [C, C, C]);
    return add(linear(attention(q!, k!, v!, nh), wp!, bp!), x!);
  });
});

test('gradients accumulate across backward calls until cleared', () => {
  const rng = new Rng(15);
  const x = parameter(() => randn([3, 7], rng)),
    w = parameter(() => randn([5, 7], rng));
  try {
    const dy = randn([3, 5], rng);
    tidy(() => linear(x, w, null).backward(dy));
    const once = [x.grad!.toArray(), w.grad!.toArray()];
    tidy(() => linear(x, w, null).backward(dy));
    assert.deepEqual(
      x.grad!.toArray(),
      once[0]!.map((g) => 2 * g),
    );
    assert.deepEqual(
      w.grad!.toArray(),
      once[1]!.map((g) => 2 * g),
    );
    dy.dispose();
  } finally {
    x.dispose();
    w.dispose();
  }
});

test('ops inside noGrad record nothing', () => {
  const x = parameter(() => tensor([1, -2, 3], [1, 3]));
  try {
    const before = tapeLength();
    noGrad(() => tidy(() => softmax(geluTanh(relu(x))).toArray()));
    assert.equal(tapeLength(), before);
  } finally {
    x.dispose();
  }
});

// ---- properties with real values ---------------------------------------------------------------------------

test('dropout: rate and exact scale, identity when p = 0 or not training', () => {
  for (const p of [0.25, 0.5]) {
    tidy(() => {
      const rng = new Rng(2024);
      const n = 20_000;
      const xv = Array.from({ length: n }, () => Math.fround(0.5 + rng.uniform())); // float32, no zeros
      const x = tensor(xv, [n]);
      const y = dropout(x, p, new Rng(99), true).data;
      const scale = Math.fround(1 / (1 - p));
      let zeros = 0;
      for (let i = 0; i < n; i++) {
        if (y[i] === 0) zeros++;
        else assert.equal(y[i], Math.fround(xv[i]! * scale), `kept value ${i}`);
      }
      assert.ok(Math.abs(zeros / n - p) <= 0.02, `fraction dropped ${zeros / n} for p = ${p}`);
      if (p === 0.5) for (let i = 0; i < n; i++) if (y[i] !== 0) assert.equal(y[i], Math.fround(2 * xv[i]!));
    });
  }
  const x = tensor([1, 2, 3]);
  assert.equal(dropout(x, 0.25, new Rng(1), false), x);
  assert.equal(dropout(x, 0, new Rng(1), true), x);
  assert.throws(() => dropout(x, 1, new Rng(1), true), RangeError);
  x.dispose();
});

test('crossEntropy: uniform logits give ln V; ignored rows count for nothing', () => {
  tidy(() => {
    const V = 11;
    // Rows 0, 2, 3 uniform; row 1 wild but ignored.
    const rows = [Array(V).fill(2.5), Array.from({ length: V }, (_, j) => 40 * Math.sin(j)), Array(V).fill(-7), Array(V).fill(0)];
    const logits = parameter(() => tensor(rows.flat(), [4, V]));
    const loss = crossEntropy(logits, intTensor([3, -1, 0, 10], [4]));
    assert.ok(Math.abs(loss.item() - Math.log(V)) <= 1e-6, `loss ${loss.item()} vs ln ${V}`);
    loss.backward();
    const g = logits.grad!.data;
    for (let j = 0; j < V; j++) assert.equal(g[V + j], 0, 'ignored row has zero gradient');
    // Counted rows: (1/V - [j == target]) / 3.
    const targets = [3, -1, 0, 10];
    for (const i of [0, 2, 3]) {
      for (let j = 0; j < V; j++) {
        const want = (1 / V - (j === targets[i] ? 1 : 0)) / 3;
        assert.ok(Math.abs(g[i * V + j]! - want) <= 1e-7, `dlogits[${i},${j}]`);
      }
    }
    logits.dispose();

    // The mean is over counted rows only: equal to the loss of the counted rows alone.
    const rng = new Rng(3);
    const l = randn([5, 7], rng, 3);
    const all = crossEntropy(l, intTensor([2, -1, 6, -1, 0], [5])).item();
    const kept = [0, 2, 4].flatMap((r) => Array.from(l.data.subarray(r * 7, r * 7 + 7)));
    const only = crossEntropy(tensor(kept, [3, 7]), intTensor([2, 6, 0], [3])).item();
    assert.ok(Math.abs(all - only) <= 1e-6 * Math.abs(only), `${all} vs ${only}`);
    // And against a float64 reference.
    let ref = 0;
    for (const [r, tgt] of [
      [0, 2],
      [2, 6],
      [4, 0],
    ] as const) {
      const row = Array.from(l.data.subarray(r * 7, r * 7 + 7));
      const m = Math.max(...row);
      ref += m + Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0)) - row[tgt]!;
    }
    assert.ok(Math.abs(all - ref / 3) <= 1e-6 * Math.abs(ref / 3));
    assert.throws(() => crossEntropy(l, intTensor([0, 1, 7, 2, 3], [5])), RangeError);
    assert.throws(() => crossEntropy(l, intTensor([0, 1, 2], [3])), RangeError);
  });
});

test('softmax: rows sum to 1, large logits do not overflow', () => {
  tidy(() => {
    const rng = new Rng(4);
    for (const std of [1, 10, 1000]) {
      const y = softmax(randn([3, 5, 7], rng, std)).data;
      for (let r = 0; r < 15; r++) {
        let s = 0;
        for (let c = 0; c < 7; c++) {
          const v = y[r * 7 + c]!;
          assert.ok(v >= 0 && v <= 1, `softmax value ${v}`);
          s += v;
        }
        assert.ok(Math.abs(s - 1) <= 1e-6, `row ${r} sums to ${s} (std ${std})`);
      }
    }
  });
});

test('attention: causal, positions before t do not see q, k or v at t; weights are causal and sum to 1', () => {
  tidy(() => {
    const rng = new Rng(5);
    const B = 2,
      T = 7,
      C = 9,
      nh = 3;
    const base = [randn([B, T, C], rng), randn([B, T, C], rng), randn([B, T, C], rng)];
    let weights: number[] = [];
    const y0 = attention(base[0]!, base[1]!, base[2]!, nh, {
      onWeights: (a) => {
        weights = a.toArray();
      },
    }).toArray();
    assert.equal(weights.length, B * nh * T * T);
    for (let row = 0; row < B * nh * T; row++) {
      const t = row % T;
      let s = 0;
      for (let u = 0; u < T; u++) {
        const w = weights[row * T + u]!;
        if (u > t) assert.equal(w, 0, 'weight on a future position');
        s += w;
      }
      assert.ok(Math.abs(s - 1) <= 1e-6, `weights row sums to ${s}`);
    }
    for (let which = 0; which < 3; which++) {
      for (let t = 0; t < T; t++) {
        const changed = base.map((x) => tensor(x.data, x.shape));
        const d = changed[which]!.data;
        for (let c = 0; c < C; c++) d[(1 * T + t) * C + c] += 0.7 + 0.1 * c; // batch 1, position t
        const y = attention(changed[0]!, changed[1]!, changed[2]!, nh).toArray();
        for (let b = 0; b < B; b++) {
          for (let s = 0; s < T; s++) {
            const a = y.slice((b * T + s) * C, (b * T + s + 1) * C),
              e = y0.slice((b * T + s) * C, (b * T + s + 1) * C);
            if (b === 0 || s < t) assert.deepEqual(a, e, `${'qkv'[which]} at t=${t} changed output at b=${b}, s=${s}`);
          }
        }
        const at = y.slice((T + t) * C, (T + t + 1) * C),
          e = y0.slice((T + t) * C, (T + t + 1) * C);
        // At t = 0 only v matters: position 0 attends to itself alone, with weight 1 whatever q and k are.
        if (t > 0 || which === 2)
          assert.ok(
            at.some((v, i) => Math.abs(v - e[i]!) > 1e-4),
            `output at t=${t} did not change`,
          );
      }
    }
  });
});

test('shape errors: add, linear, embedding, attention', () => {
  tidy(() => {
    const a = tensor(new Array(15).fill(1), [3, 5]);
    assert.throws(() => add(a, tensor(new Array(15).fill(1), [5, 3])), RangeError);
    assert.throws(() => add(a, tensor([1, 2, 3], [3])), RangeError);
    assert.throws(() => add(tensor(new Array(30).fill(1), [2, 3, 5]), tensor(new Array(10).fill(1), [2, 5])), RangeError);
    assert.throws(() => add(tensor([1, 2, 3], [3]), tensor([1, 2, 3, 4], [4])), RangeError);
    assert.deepEqual([...add(tensor([1, 2, 3, 4, 5], [5]), a).shape], [3, 5], 'the smaller operand may come first');

    const x = tensor(new Array(15).fill(1), [3, 5]);
    assert.throws(() => linear(x, tensor(new Array(12).fill(1), [3, 4])), RangeError);
    assert.throws(() => linear(x, tensor(new Array(15).fill(1), [5, 3])), RangeError);
    assert.throws(() => linear(x, tensor(new Array(15).fill(1), [3, 5]), tensor([1, 2], [2])), RangeError);
    assert.throws(() => linear(x, tensor(new Array(15).fill(1), [1, 3, 5])), RangeError);

    const w = tensor(new Array(21).fill(1), [7, 3]);
    assert.throws(() => embedding(w, intTensor([0, 7], [2])), RangeError);
    assert.throws(() => embedding(w, intTensor([-1], [1])), RangeError);
    assert.throws(() => embedding(w, tensor([1], [1])), TypeError);
    assert.deepEqual([...embedding(w, intTensor([6, 0, 6, 1, 2, 3], [2, 3])).shape], [2, 3, 3]);

    const q = tensor(new Array(18).fill(1), [1, 2, 9]);
    assert.throws(() => attention(q, q, q, 2), RangeError);
    assert.throws(() => attention(q, q, tensor(new Array(9).fill(1), [1, 1, 9]), 3), RangeError);
    assert.throws(() => split(q, [4, 4]), RangeError);
    assert.throws(() => layerNorm(q, tensor([1, 2]), null), RangeError);
  });
});

// ---- regressions: engine bugs found while writing these tests ----------------------------------------------

test('attention backward when only some of q, k, v need a gradient', (t) => {
  // The backward used to write into null gradient buffers for the inputs that need none.
  const rng = new Rng(16);
  const qkv = ['q', 'k', 'v'].map((n) => input(n, [2, 5, 9], rng));
  for (let which = 0; which < 3; which++) {
    grad(t, `attention, only ${qkv[which]!.name} needs a gradient`, [qkv[which]!], ([x]) => {
      const ts = qkv.map((c, i) => (i === which ? x! : tensor(c.values, c.shape)));
      return attention(ts[0]!, ts[1]!, ts[2]!, 3);
    });
  }
  grad(t, 'attention, only k and v need gradients', [qkv[1]!, qkv[2]!], ([k, v]) =>
    attention(tensor(qkv[0]!.values, qkv[0]!.shape), k!, v!, 3),
  );
});

test('a backward that grows the arena keeps its gradients', () => {
  // Growing the WebAssembly memory detaches typed-array views taken before it: a backward closure that took
  // views and then allocated a gradient buffer used to lose dx (left at 0) and compute dW from NaN.
  // Sizes used nowhere else in this file, so the gradient buffers cannot come from the arena's free lists.
  const M = 3,
    K = 301,
    N = 307;
  const rng = new Rng(17);
  const x = parameter(() => randn([M, K], rng)),
    w = parameter(() => randn([N, K], rng));
  const fillers: Tensor[] = [];
  try {
    const dyv = normals(M * N, rng);
    // float64 reference: dx = dy W, dW = dy^T x.
    const xd = x.toArray(),
      wd = w.toArray();
    const dx = new Float64Array(M * K),
      dw = new Float64Array(N * K);
    for (let i = 0; i < M; i++) {
      for (let n = 0; n < N; n++) {
        const g = dyv[i * N + n]!;
        for (let c = 0; c < K; c++) {
          dx[i * K + c] += g * wd[n * K + c]!;
          dw[n * K + c] += g * xd[i * K + c]!;
        }
      }
    }
    let grewBefore = 0;
    tidy(() => {
      const y = linear(x, w, null);
      const dy = tensor(dyv, [M, N]);
      // Leave room for y's and x's gradients but not W's, so W's gradient buffer grows the memory mid-backward.
      const slack = 3712 + 3648 + 1024;
      for (;;) {
        const s = defaultArena.stats();
        const gap = s.capacity - s.reserved - slack;
        if (gap >= 0) {
          if (gap > 0) fillers.push(new Tensor([gap / 4]));
          break;
        }
        fillers.push(new Tensor([Math.ceil(-gap / 4) + 16]));
      }
      grewBefore = defaultArena.generation;
      y.backward(dy);
    });
    assert.ok(defaultArena.generation > grewBefore, 'the setup did not make the arena grow');
    assert.ok(relativeError(x.grad!.data, dx) <= 1e-5, `dx error ${relativeError(x.grad!.data, dx)}`);
    assert.ok(relativeError(w.grad!.data, dw) <= 1e-5, `dW error ${relativeError(w.grad!.data, dw)}`);
  } finally {
    x.dispose();
    w.dispose();
    for (const f of fillers) f.dispose();
  }
});
