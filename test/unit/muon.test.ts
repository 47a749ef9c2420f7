/**
 * Muon against PyTorch (test/fixtures/modern_muon.safetensors, from scripts/torch_modern_ops.py after
 * modded-nanogpt's Muon, in float32): two steps on a wide, a tall and a square matrix, momentum buffers and
 * weights, on every kernel set.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parameter, tensor, untracked } from '../../src/engine/tensor.js';
import { Muon } from '../../src/train/muon.js';
import { assertClose } from '../helpers/assert.js';
import { loadFixture } from '../helpers/fixtures.js';
import { exactnessKernelSets, withKernels } from '../helpers/kernel_sets.js';

const fx = loadFixture('modern_muon.safetensors');
const cfg = fx.config as { lr: number; momentum: number; nesterov: boolean; ns_steps: number; shapes: [number, number][] };

/** Two Muon steps on the fixture's matrices, each step's weights and the buffers checked against PyTorch's. */
function twoSteps(): void {
  const params = cfg.shapes.map((shape, i) => parameter(() => tensor(fx.get(`w${i}.param`).data, shape)));
  const muon = new Muon(
    params.map((p, i) => [`w${i}`, p]),
    { momentum: cfg.momentum, nesterov: cfg.nesterov, nsSteps: cfg.ns_steps },
  );
  try {
    for (const step of [1, 2]) {
      params.forEach((p, i) => {
        p.grad?.dispose();
        p.grad = untracked(() => tensor(fx.get(`w${i}.grad${step}`).data, p.shape));
      });
      muon.update(cfg.lr);
      params.forEach((p, i) => assertClose(p.data, fx.get(`w${i}.after${step}`).data, 1e-4, `w${i} [${p.shape}] after step ${step}`));
    }
    muon.states.forEach((s, i) => assertClose(s.buf.data, fx.get(`w${i}.buf`).data, 1e-5, `w${i} momentum buffer`));
  } finally {
    muon.dispose();
    for (const p of params) {
      p.grad?.dispose();
      p.dispose();
    }
  }
}

test('Muon matches PyTorch over two steps (wide, tall and square weights) on every kernel set', () => {
  // Its kernels (matmul, axpby, transpose) give the same bits on any thread count (threads.test.ts).
  for (const [, set] of exactnessKernelSets()) withKernels(set, twoSteps);
});

test('Muon refuses what is not a matrix', () => {
  const gain = parameter(() => tensor([1, 2, 3], [3]));
  assert.throws(() => new Muon([['ln.weight', gain]], { momentum: 0.95, nesterov: true, nsSteps: 5 }), /2-D weights only/);
  gain.dispose();
});
