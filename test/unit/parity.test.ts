/**
 * Whole-model parity with PyTorch: the same weights and inputs give the same logits, loss, every parameter
 * gradient, gradient norm, and weights after one clipped AdamW step, for both GPT forms. The references are
 * nanoGPT's model.py (exact GELU) and the lecture's gpt.py themselves, at the commits the fixtures record
 * (scripts/torch_parity.py).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Rng } from '../../src/engine/random.js';
import { GPT, type GPTConfig } from '../../src/models/gpt.js';
import type { Activation } from '../../src/nn/layers.js';
import { intTensor, tidy } from '../../src/engine/tensor.js';
import { relativeError } from '../helpers/assert.js';
import { loadFixture } from '../helpers/fixtures.js';
import { checkTrainingStep } from '../helpers/parity_step.js';

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
    const worst = checkTrainingStep(model, fx, TOLERANCE);
    if (process.env.TSGPT_TEST_VERBOSE) {
      const top = Object.entries(worst)
        .sort((a, b) => b[1] - a[1])
        .slice(0, 3);
      console.log(style, top.map(([k, v]) => `${k} ${v.toExponential(2)}`).join(', '));
    }
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
