import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Rng } from '../../src/engine/random.js';
import { GPT } from '../../src/models/gpt.js';
import { generate, generateBatch } from '../../src/sample/generate.js';
import { intTensor } from '../../src/engine/tensor.js';
import { noGrad } from '../../src/engine/autograd.js';
import { sampleToken } from '../../src/sample/sampling.js';
import { kernels, referenceKernels, setKernels, type Kernels } from '../../src/engine/backend.js';
import { createWasmKernelsSync } from '../../src/engine/wasm/wasm_kernels.js';
import { enableRelaxedSimd } from '../../src/cli/wasm_flags.js';
import { spawnNodeKernelWorker } from '../../src/node/kernel_threads.js';

// The exactness checks run on every kernel set: the WebAssembly kernels take other paths for one-row products.
enableRelaxedSimd();
const kernelSets: [string, Kernels][] = [
  ['reference', referenceKernels],
  ['wasm', createWasmKernelsSync(undefined, { relaxed: false })],
  ['wasm relaxed, 2 threads', createWasmKernelsSync(undefined, { threads: 2, spawnWorker: spawnNodeKernelWorker })],
];

const logits = Float32Array.from([2.0, 1.0, 0.5, -1.0, 3.0, 0.0]); // most likely: 4, then 0, then 1

function histogram(n: number, draw: () => number): number[] {
  const counts = new Array<number>(logits.length).fill(0);
  for (let i = 0; i < n; i++) counts[draw()]!++;
  return counts;
}

test('temperature 0 is greedy', () => {
  const rng = new Rng(1);
  for (let i = 0; i < 20; i++) assert.equal(sampleToken(logits, { temperature: 0 }, rng), 4);
});

test('sampling frequencies follow softmax(logits / temperature)', () => {
  for (const temperature of [1, 0.5, 2]) {
    const rng = new Rng(3),
      n = 40_000;
    const counts = histogram(n, () => sampleToken(logits, { temperature }, rng));
    const e = [...logits].map((l) => Math.exp(l / temperature)),
      z = e.reduce((a, b) => a + b, 0);
    for (let i = 0; i < logits.length; i++) {
      const p = e[i]! / z,
        sd = Math.sqrt((p * (1 - p)) / n);
      assert.ok(Math.abs(counts[i]! / n - p) < 5 * sd + 1e-4, `T=${temperature} token ${i}: ${counts[i]! / n} vs ${p}`);
    }
  }
});

test('top-k keeps only the k most likely tokens, renormalised', () => {
  const rng = new Rng(5),
    n = 20_000;
  const counts = histogram(n, () => sampleToken(logits, { temperature: 1, topK: 2 }, rng));
  assert.deepEqual(
    counts.map((c, i) => (c > 0 ? i : -1)).filter((i) => i >= 0),
    [0, 4],
  );
  const p4 = Math.exp(3) / (Math.exp(3) + Math.exp(2));
  assert.ok(Math.abs(counts[4]! / n - p4) < 0.015);
  assert.equal(sampleToken(logits, { temperature: 1, topK: 1 }, rng), 4);
});

test('top-p keeps the smallest set of tokens reaching p', () => {
  const e = [...logits].map(Math.exp),
    z = e.reduce((a, b) => a + b, 0),
    p = e.map((x) => x / z);
  // p[4] ~ 0.59, p[0] ~ 0.22: top-p 0.7 needs both; 0.5 needs only the first.
  assert.ok(p[4]! < 0.7 && p[4]! + p[0]! > 0.7);
  const rng = new Rng(9);
  const counts = histogram(5000, () => sampleToken(logits, { temperature: 1, topP: 0.7 }, rng));
  assert.deepEqual(
    counts.map((c, i) => (c > 0 ? i : -1)).filter((i) => i >= 0),
    [0, 4],
  );
  for (let i = 0; i < 50; i++) assert.equal(sampleToken(logits, { temperature: 1, topP: 0.5 }, rng), 4);
});

test('generate: same seed, same tokens; context longer than the block size is cropped', () => {
  const model = new GPT(
    { kind: 'gpt', style: 'nanogpt', vocabSize: 11, blockSize: 4, nLayer: 1, nHead: 2, nEmbd: 8, dropout: 0, bias: true },
    new Rng(1),
  );
  const prompt = [1, 2, 3, 4, 5, 6, 7]; // longer than the block size
  const run = (seed: number) => [...generate(model, prompt, { maxNewTokens: 30, temperature: 1, rng: new Rng(seed) })];
  const a = run(42),
    b = run(42),
    c = run(43);
  assert.equal(a.length, 30);
  assert.ok(a.every((t) => Number.isInteger(t) && t >= 0 && t < 11));
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
  assert.equal(model.training, true, 'generate restores training mode');
  model.dispose();
});

for (const [kernelName, kernelSet] of kernelSets)
  for (const style of ['nanogpt', 'lecture'] as const) {
    test(`sampling with the KV cache gives exactly the uncached tokens (${style}, ${kernelName} kernels), past the block size too`, () => {
      const saved = kernels();
      setKernels(kernelSet);
      try {
        const model = new GPT(
          { kind: 'gpt', style, vocabSize: 13, blockSize: 8, nLayer: 2, nHead: 2, nEmbd: 12, dropout: 0.2, bias: true },
          new Rng(4),
        );
        // Random weights give near-uniform logits; larger ones make the test sensitive to any difference.
        for (const p of model.parameters()) for (let i = 0; i < p.size; i++) p.data[i] = p.data[i]! * 20;
        const prompts = [
          [1, 2, 3],
          [4, 5, 6],
          [7, 8, 9],
        ];
        const run = (useCache: boolean) => [
          ...generateBatch(model, prompts, { maxNewTokens: 20, temperature: 1, rng: new Rng(7), useCache }),
        ];
        const cached = run(true),
          uncached = run(false);
        assert.equal(cached.length, 20); // 3 + 20 tokens: runs 15 steps past the block size of 8
        assert.deepEqual(cached, uncached);
        // The logits themselves agree bit for bit, not just the draws: compare the cache's prefill with forward().
        const cache = model.createKVCache(1);
        const ids = intTensor([3, 1, 4, 1, 5, 9, 2], [1, 7]);
        model.eval();
        const full = noGrad(() => model.forward(ids).logits.toArray());
        const stepwise: number[] = [];
        noGrad(() => {
          stepwise.push(...model.forwardCached(intTensor([3, 1, 4], [1, 3]), cache).toArray());
          for (const t of [1, 5, 9, 2]) stepwise.push(...model.forwardCached(intTensor([t], [1, 1]), cache).toArray());
        });
        assert.deepEqual(stepwise, full);
        // Past the block size only the last position's logits are computed (forwardLast): forward()'s last rows.
        for (const T of [1, 5, 8]) {
          const batch = intTensor(
            Array.from({ length: 2 * T }, (_, i) => (i * 7 + 3) % 13),
            [2, T],
          );
          const rows = noGrad(() => model.forward(batch).logits.toArray());
          const last = noGrad(() => model.forwardLast(batch).toArray());
          assert.deepEqual(last, [...rows.slice((T - 1) * 13, T * 13), ...rows.slice((2 * T - 1) * 13, 2 * T * 13)], `forwardLast T=${T}`);
        }
        cache.dispose();
        model.dispose();
      } finally {
        setKernels(saved);
      }
    });
  }
