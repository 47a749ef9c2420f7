import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Rng } from '../../src/engine/random.js';
import { GPT } from '../../src/models/gpt.js';
import { createModel, type ModelConfig } from '../../src/models/index.js';
import { generate, generateBatch } from '../../src/sample/generate.js';
import { sampleToken } from '../../src/sample/sampling.js';
import { exactnessKernelSets, withKernels } from '../helpers/kernel_sets.js';
import { referenceGenerate } from '../helpers/reference_decoding.js';

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

const small = { kind: 'gpt', vocabSize: 13, blockSize: 8, nLayer: 2, nHead: 2, nEmbd: 12, dropout: 0.2, bias: true } as const;
const models: [string, ModelConfig][] = [
  ['nanogpt', { ...small, style: 'nanogpt' }],
  ['lecture', { ...small, style: 'lecture' }],
  ['bigram', { kind: 'bigram', vocabSize: 13, blockSize: 8 }],
];

for (const [kernelName, kernelSet] of exactnessKernelSets())
  for (const [name, config] of models) {
    test(`generate gives nanoGPT's tokens, with the cache or without (${name}, ${kernelName} kernels), past the block size too`, () => {
      withKernels(kernelSet, () => {
        const model = createModel(config, new Rng(4));
        // Random weights give near-uniform logits; larger ones make the test sensitive to any difference.
        for (const p of model.parameters()) for (let i = 0; i < p.size; i++) p.data[i] = p.data[i]! * 20;
        const prompts = [
          [1, 2, 3],
          [4, 5, 6],
          [7, 8, 9],
        ];
        for (const sampling of [{ temperature: 1 }, { temperature: 0.8, topK: 4 }, { temperature: 1.5, topP: 0.9 }, { temperature: 0 }]) {
          const opts = { ...sampling, maxNewTokens: 20 }; // 3 + 20 tokens: 15 steps past the block size of 8
          const run = (useCache: boolean) => [...generateBatch(model, prompts, { ...opts, rng: new Rng(7), useCache })];
          const reference = referenceGenerate(model, prompts, { ...opts, rng: new Rng(7) });
          assert.equal(reference.length, 20);
          assert.deepEqual(run(true), reference, `with the cache, ${JSON.stringify(sampling)}`);
          assert.deepEqual(run(false), reference, `without the cache, ${JSON.stringify(sampling)}`);
        }
        model.dispose();
      });
    });
  }
