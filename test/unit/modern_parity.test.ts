/**
 * The nanoGPT form with issue 15's options (rotary embeddings, QK-norm, ReLU squared, an untied head, a logit soft-cap)
 * against PyTorch (test/fixtures/modern_gpt.safetensors, from scripts/torch_modern_ops.py, written from the
 * options' published definitions): logits, loss, every parameter's gradient, the gradient norm, and the weights
 * after one clipped AdamW step.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Rng } from '../../src/engine/random.js';
import { GPT } from '../../src/models/gpt.js';
import { loadFixture } from '../helpers/fixtures.js';
import { checkTrainingStep } from '../helpers/parity_step.js';

const TOLERANCE = 1e-4;

test('nanoGPT form with rotary, QK-norm, ReLU squared, untied head and soft-cap matches PyTorch: logits, loss, gradients, AdamW step', () => {
  const fx = loadFixture('modern_gpt.safetensors');
  const c = fx.config as Record<string, number & boolean>;
  assert.ok(c.rotary && c.qk_norm && c.untied_head);
  assert.equal(fx.config.activation, 'relu2');
  const model = new GPT(
    {
      kind: 'gpt',
      style: 'nanogpt',
      vocabSize: c.vocab_size,
      blockSize: c.block_size,
      nLayer: c.n_layer,
      nHead: c.n_head,
      nEmbd: c.n_embd,
      dropout: 0,
      bias: false,
      rotary: true,
      qkNorm: true,
      activation: 'relu2',
      untiedHead: true,
      logitSoftcap: c.logit_softcap,
    },
    new Rng(0),
  );
  const names = model.namedParameters().map(([n]) => n);
  // The state-dict names: no transformer.wpe.weight, an lm_head.weight of its own.
  assert.ok(!names.includes('transformer.wpe.weight') && names.includes('lm_head.weight'));
  checkTrainingStep(model, fx, TOLERANCE);
  model.dispose();
});

test('the options are refused where they do not apply, with the reason', () => {
  const base = { kind: 'gpt', vocabSize: 5, blockSize: 4, nLayer: 1, nHead: 2, nEmbd: 8, dropout: 0, bias: false } as const;
  assert.throws(() => new GPT({ ...base, style: 'lecture', rotary: true }, new Rng(0)), /apply to style "nanogpt" only/);
  assert.throws(() => new GPT({ ...base, style: 'nanogpt', logitSoftcap: -1 }, new Rng(0)), /logit_softcap must be 0 \(none\) or positive/);
  assert.throws(() => new GPT({ ...base, style: 'nanogpt', nHead: 8, rotary: true }, new Rng(0)), /even head size; n_embd \/ n_head is 1/);
  // Zero-initialised projections: c_proj weights are zero, everything else is the default init's, draw for draw.
  const plain = new GPT({ ...base, style: 'nanogpt' }, new Rng(3)),
    zeroed = new GPT({ ...base, style: 'nanogpt', zeroInitProjections: true }, new Rng(3));
  const weights = new Map(plain.namedParameters());
  for (const [name, t] of zeroed.namedParameters()) {
    if (name.endsWith('c_proj.weight'))
      assert.ok(t.data.every((v) => Object.is(v, 0)) && weights.get(name)!.data.some((v) => v !== 0), name);
    else assert.deepEqual([...t.data], [...weights.get(name)!.data], name);
  }
  plain.dispose();
  zeroed.dispose();
});
