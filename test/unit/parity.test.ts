/**
 * Whole-model parity with PyTorch: the same weights and inputs give the same logits, loss, every parameter
 * gradient, gradient norm, and weights after one clipped AdamW step, for both GPT forms. The references are
 * nanoGPT's model.py (exact GELU) and the lecture's gpt.py themselves, at the commits the fixtures record
 * (scripts/torch_parity.py).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Rng } from '../../src/engine/random.js';
import { intTensor, tidy } from '../../src/engine/tensor.js';
import { GPT, type GPTConfig } from '../../src/models/gpt.js';
import type { Activation } from '../../src/nn/layers.js';
import { AdamW, gradientNorm } from '../../src/train/adamw.js';
import { assertClose, relativeError } from '../helpers/assert.js';
import { loadFixture } from '../helpers/fixtures.js';

const TOLERANCE = 1e-4;

/** The GPT a fixture's metadata describes, run with `activation`. */
function fixtureConfig(fx: ReturnType<typeof loadFixture>, activation: Activation): GPTConfig {
  const c = fx.config as Record<string, number & boolean & string>;
  return {
    kind: 'gpt',
    style: c.style as 'nanogpt' | 'lecture',
    activation,
    vocabSize: c.vocab_size,
    blockSize: c.block_size,
    nLayer: c.n_layer,
    nHead: c.n_head,
    nEmbd: c.n_embd,
    dropout: 0,
    bias: c.bias,
  };
}

for (const style of ['nanogpt', 'lecture'] as const) {
  test(`${style} form matches PyTorch: logits, loss, gradients, clipped AdamW step`, () => {
    const fx = loadFixture(`parity_${style}.safetensors`);
    const c = fx.config as Record<string, number & boolean & string>;
    assert.equal(c.style, style);
    const reference = fx.config.reference as { file: string; commit: string };
    assert.equal(reference.file, style === 'nanogpt' ? 'model.py' : 'gpt.py');
    assert.match(reference.commit, /^[0-9a-f]{40}$/);
    assert.equal(c.activation, style === 'nanogpt' ? 'gelu' : 'relu');
    const model = new GPT(fixtureConfig(fx, c.activation as Activation), new Rng(0));
    const params = model.namedParameters();
    // Same parameter set, by name: the fixture's names are PyTorch's state-dict names.
    const fixtureNames = fx
      .names()
      .filter((n) => n.startsWith('param.'))
      .map((n) => n.slice(6))
      .sort();
    assert.deepEqual(params.map(([n]) => n).sort(), fixtureNames);
    for (const [name, t] of params) {
      const p = fx.get(`param.${name}`);
      assert.deepEqual([...t.shape], p.shape, name);
      t.data.set(p.data);
    }

    const idx = fx.get('input.idx'),
      targets = fx.get('input.targets');
    const worst: Record<string, number> = {};
    tidy(() => {
      const { logits, loss } = model.forward(intTensor(idx.data, idx.shape), intTensor(targets.data, targets.shape));
      assertClose(logits.data, fx.get('out.logits').data, TOLERANCE, 'logits');
      assertClose([loss!.item()], fx.get('out.loss').data, TOLERANCE, 'loss');
      worst.logits = relativeError(logits.data, fx.get('out.logits').data);
      loss!.backward();
    });
    for (const [name, t] of params) {
      assertClose(t.grad!.data, fx.get(`grad.${name}`).data, TOLERANCE, `grad of ${name}`);
      worst[`grad.${name}`] = relativeError(t.grad!.data, fx.get(`grad.${name}`).data);
    }

    const { norm, scale } = gradientNorm(model.parameters(), c.grad_clip);
    assertClose([norm], fx.get('out.grad_norm').data, TOLERANCE, 'gradient norm');
    assert.ok(scale < 1, 'the fixture is made so that clipping happens');
    const opt = new AdamW(params, { beta1: c.beta1, beta2: c.beta2, eps: c.eps, weightDecay: c.weight_decay });
    opt.update(c.learning_rate, scale);
    for (const [name, t] of params) {
      assertClose(t.data, fx.get(`after.${name}`).data, TOLERANCE, `${name} after one AdamW step`);
      // The update itself (after - before) is ~1e-3 of the weights: check it on its own scale too, so a wrong
      // decay group or clipping factor cannot hide under the weights' magnitude.
      const before = fx.get(`param.${name}`).data,
        after = fx.get(`after.${name}`).data;
      const ours = t.data.map((v, i) => v - before[i]!),
        theirs = after.map((v, i) => v - before[i]!);
      assertClose(ours, theirs, 1e-3, `${name} update`);
      worst[`update.${name}`] = relativeError(ours, theirs);
    }
    if (process.env.TSGPT_TEST_VERBOSE) {
      const top = Object.entries(worst)
        .sort((a, b) => b[1] - a[1])
        .slice(0, 3);
      console.log(style, top.map(([k, v]) => `${k} ${v.toExponential(2)}`).join(', '));
    }
    opt.dispose();
    model.dispose();
  });
}

test("the nanogpt fixture tells GELU's two forms apart: run with the tanh form, the logits miss model.py's", () => {
  const fx = loadFixture('parity_nanogpt.safetensors');
  const idx = fx.get('input.idx');
  const logitsError = (activation: 'gelu' | 'gelu_tanh') => {
    const model = new GPT(fixtureConfig(fx, activation), new Rng(0));
    for (const [name, t] of model.namedParameters()) t.data.set(fx.get(`param.${name}`).data);
    const err = tidy(() => relativeError(model.forward(intTensor(idx.data, idx.shape)).logits.data, fx.get('out.logits').data));
    model.dispose();
    return err;
  };
  // The two forms differ by at most 5e-4 at any input, so the logits can only differ a little; what matters
  // is that the tanh form's miss is over the tolerance and far above the exact form's own.
  const exact = logitsError('gelu');
  const tanh = logitsError('gelu_tanh');
  assert.ok(tanh > TOLERANCE && tanh > 20 * exact, `relative error with the tanh form ${tanh}, with the exact form ${exact}`);
});
