/**
 * Whole-model parity with PyTorch: the same weights and inputs give the same logits, loss, every parameter
 * gradient, gradient norm, and weights after one clipped AdamW step, for both GPT forms.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Rng } from '../../src/engine/random.js';
import { GPT, type GPTConfig } from '../../src/models/gpt.js';
import { loadFixture } from '../helpers/fixtures.js';
import { checkTrainingStep } from '../helpers/parity_step.js';

const TOLERANCE = 1e-4;

for (const style of ['nanogpt', 'lecture'] as const) {
  test(`${style} form matches PyTorch: logits, loss, gradients, clipped AdamW step`, () => {
    const fx = loadFixture(`parity_${style}.safetensors`);
    const c = fx.config as Record<string, number & boolean & string>;
    assert.equal(c.style, style);
    const config: GPTConfig = {
      kind: 'gpt',
      style,
      vocabSize: c.vocab_size,
      blockSize: c.block_size,
      nLayer: c.n_layer,
      nHead: c.n_head,
      nEmbd: c.n_embd,
      dropout: 0,
      bias: c.bias,
    };
    const model = new GPT(config, new Rng(0));
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
