/**
 * One training step of a GPT against a PyTorch fixture (scripts/torch_parity.py's and torch_modern_ops.py's
 * layout: param.*, input.idx and input.targets, out.logits, out.loss, grad.*, out.grad_norm, after.*, and the
 * AdamW settings in its config): loads the weights by state-dict name, then checks the logits, the loss, every
 * gradient, the clipped gradient norm, and the weights and the update after one AdamW step.
 */
import assert from 'node:assert/strict';
import { intTensor, tidy } from '../../src/engine/tensor.js';
import type { GPT } from '../../src/models/gpt.js';
import { AdamW, gradientNorm } from '../../src/train/adamw.js';
import { assertClose, relativeError } from './assert.js';
import type { Fixture } from './fixtures.js';

/** Returns the relative error of each compared value, by name. */
export function checkTrainingStep(model: GPT, fx: Fixture, tolerance: number): Record<string, number> {
  const c = fx.config as Record<string, number>;
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
    assertClose(logits.data, fx.get('out.logits').data, tolerance, 'logits');
    assertClose([loss!.item()], fx.get('out.loss').data, tolerance, 'loss');
    worst.logits = relativeError(logits.data, fx.get('out.logits').data);
    loss!.backward();
  });
  for (const [name, t] of params) {
    assertClose(t.grad!.data, fx.get(`grad.${name}`).data, tolerance, `grad of ${name}`);
    worst[`grad.${name}`] = relativeError(t.grad!.data, fx.get(`grad.${name}`).data);
  }

  const { norm, scale } = gradientNorm(model.parameters(), c.grad_clip!);
  assertClose([norm], fx.get('out.grad_norm').data, tolerance, 'gradient norm');
  assert.ok(scale < 1, 'the fixture is made so that clipping happens');
  const opt = new AdamW(params, { beta1: c.beta1!, beta2: c.beta2!, eps: c.eps!, weightDecay: c.weight_decay! });
  opt.update(c.learning_rate!, scale);
  for (const [name, t] of params) {
    assertClose(t.data, fx.get(`after.${name}`).data, tolerance, `${name} after one AdamW step`);
    // The update itself (after - before) is ~1e-3 of the weights: check it on its own scale too, so a wrong
    // decay group or clipping factor cannot hide under the weights' magnitude.
    const before = fx.get(`param.${name}`).data,
      after = fx.get(`after.${name}`).data;
    const ours = t.data.map((v, i) => v - before[i]!),
      theirs = after.map((v, i) => v - before[i]!);
    assertClose(ours, theirs, 1e-3, `${name} update`);
    worst[`update.${name}`] = relativeError(ours, theirs);
  }
  opt.dispose();
  return worst;
}
