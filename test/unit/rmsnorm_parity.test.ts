/**
 * RMSNorm as the nanoGPT form's block and final norm (norm 'rmsnorm') against PyTorch
 * (test/fixtures/modern_rmsnorm_gpt.safetensors, from `scripts/torch_modern_ops.py rmsnorm_gpt`): logits, loss,
 * every gradient, the clipped gradient norm, one AdamW step, and one step of --optimizer muon's split (Muon on the
 * blocks' matrices, AdamW on the rest, at the schedule's factor); and a numerical gradient check of a block.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Rng } from '../../src/engine/random.js';
import { intTensor, tidy } from '../../src/engine/tensor.js';
import { GPT, type GPTConfig } from '../../src/models/gpt.js';
import { Block } from '../../src/nn/block.js';
import { RMSNorm } from '../../src/nn/layers.js';
import { AdamW, gradientNorm } from '../../src/train/adamw.js';
import { Muon } from '../../src/train/muon.js';
import { optimizerGroups } from '../../src/train/optimizer_groups.js';
import { assertClose } from '../helpers/assert.js';
import { loadFixture } from '../helpers/fixtures.js';
import { assertGradCheck, normals } from '../helpers/gradcheck.js';
import { checkTrainingStep } from '../helpers/parity_step.js';

const TOLERANCE = 1e-4;
const fx = loadFixture('modern_rmsnorm_gpt.safetensors');
const c = fx.config as Record<string, number> & { norm: string; muon_names: string[] };

function fixtureModel(): GPT {
  assert.equal(c.norm, 'rmsnorm');
  const config: GPTConfig = {
    kind: 'gpt',
    style: 'nanogpt',
    vocabSize: c.vocab_size!,
    blockSize: c.block_size!,
    nLayer: c.n_layer!,
    nHead: c.n_head!,
    nEmbd: c.n_embd!,
    dropout: 0,
    bias: false,
    activation: 'gelu',
    norm: 'rmsnorm',
  };
  return new GPT(config, new Rng(0));
}

test('nanoGPT form with RMSNorm matches PyTorch: no norm weights, logits, loss, gradients, AdamW step', () => {
  const model = fixtureModel();
  const names = model.namedParameters().map(([n]) => n);
  assert.ok(!names.some((n) => /ln_[12f]/.test(n)), names.join());
  assert.ok(model.lnF instanceof RMSNorm && model.blocks.items.every((b) => b.ln1 instanceof RMSNorm && b.ln2 instanceof RMSNorm));
  checkTrainingStep(model, fx, TOLERANCE);
  model.dispose();
});

test("one step of --optimizer muon's split matches PyTorch: Muon on the blocks' matrices, AdamW on the rest, same clipping and factor", () => {
  const model = fixtureModel();
  const params = model.namedParameters();
  for (const [name, t] of params) t.data.set(fx.get(`param.${name}`).data);
  tidy(() => {
    const idx = fx.get('input.idx'),
      targets = fx.get('input.targets');
    model.forward(intTensor(idx.data, idx.shape), intTensor(targets.data, targets.shape)).loss!.backward();
  });
  const { scale } = gradientNorm(model.parameters(), c.grad_clip!);
  const groups = optimizerGroups(model, 'muon');
  assert.deepEqual(
    groups.muon!.map(([n]) => n),
    c.muon_names,
  );
  const adamw = new AdamW(groups.adamw, { beta1: c.beta1!, beta2: c.beta2!, eps: c.eps!, weightDecay: c.weight_decay! });
  const muon = new Muon(groups.muon!, { momentum: c.muon_momentum!, nesterov: true, nsSteps: 5 });
  adamw.update(c.learning_rate! * c.lr_factor!, scale);
  muon.update(c.muon_lr! * c.lr_factor!, scale);
  for (const [name, t] of params) {
    const before = fx.get(`param.${name}`).data,
      after = fx.get(`muon_after.${name}`).data;
    assertClose(t.data, after, TOLERANCE, `${name} after the step`);
    // The update on its own scale, so that a wrong group or factor cannot hide under the weights.
    assertClose(
      t.data.map((v, i) => v - before[i]!),
      after.map((v, i) => v - before[i]!),
      1e-3,
      `${name} update`,
    );
  }
  adamw.dispose();
  muon.dispose();
  model.dispose();
});

test('gradcheck: a block with RMSNorm as ln_1 and ln_2, with respect to its input', () => {
  const rng = new Rng(21);
  const block = new Block({ style: 'nanogpt', nEmbd: 8, nHead: 2, nLayer: 2, dropout: 0, bias: true, norm: 'rmsnorm' }, rng);
  // Weights of order one, so the norms' gradients are not swamped by the residual path's identity.
  for (const p of block.parameters()) p.data.set(normals(p.size, rng, 0.4));
  assertGradCheck('block with RMSNorm', [{ name: 'x', values: normals(2 * 5 * 8, rng), shape: [2, 5, 8] }], ([x]) => block.forward(x!));
  block.dispose();
});

test('norm is refused on the lecture form and for an unknown kind', () => {
  const base = { kind: 'gpt', vocabSize: 5, blockSize: 4, nLayer: 1, nHead: 2, nEmbd: 8, dropout: 0, bias: false } as const;
  assert.throws(() => new GPT({ ...base, style: 'lecture', norm: 'rmsnorm' }, new Rng(0)), /norm apply to style "nanogpt" only/);
  assert.throws(() => new GPT({ ...base, style: 'nanogpt', norm: 'batchnorm' as 'rmsnorm' }, new Rng(0)), /unknown norm "batchnorm"/);
});
