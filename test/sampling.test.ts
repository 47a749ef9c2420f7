import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Rng } from '../src/engine/random.js';
import { GPT } from '../src/models/gpt.js';
import { generate } from '../src/sample/generate.js';
import { sampleToken } from '../src/sample/sampling.js';

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
    const rng = new Rng(3), n = 40_000;
    const counts = histogram(n, () => sampleToken(logits, { temperature }, rng));
    const e = [...logits].map((l) => Math.exp(l / temperature)), z = e.reduce((a, b) => a + b, 0);
    for (let i = 0; i < logits.length; i++) {
      const p = e[i]! / z, sd = Math.sqrt((p * (1 - p)) / n);
      assert.ok(Math.abs(counts[i]! / n - p) < 5 * sd + 1e-4, `T=${temperature} token ${i}: ${counts[i]! / n} vs ${p}`);
    }
  }
});

test('top-k keeps only the k most likely tokens, renormalised', () => {
  const rng = new Rng(5), n = 20_000;
  const counts = histogram(n, () => sampleToken(logits, { temperature: 1, topK: 2 }, rng));
  assert.deepEqual(counts.map((c, i) => (c > 0 ? i : -1)).filter((i) => i >= 0), [0, 4]);
  const p4 = Math.exp(3) / (Math.exp(3) + Math.exp(2));
  assert.ok(Math.abs(counts[4]! / n - p4) < 0.015);
  assert.equal(sampleToken(logits, { temperature: 1, topK: 1 }, rng), 4);
});

test('top-p keeps the smallest set of tokens reaching p', () => {
  const e = [...logits].map(Math.exp), z = e.reduce((a, b) => a + b, 0), p = e.map((x) => x / z);
  // p[4] ~ 0.59, p[0] ~ 0.22: top-p 0.7 needs both; 0.5 needs only the first.
  assert.ok(p[4]! < 0.7 && p[4]! + p[0]! > 0.7);
  const rng = new Rng(9);
  const counts = histogram(5000, () => sampleToken(logits, { temperature: 1, topP: 0.7 }, rng));
  assert.deepEqual(counts.map((c, i) => (c > 0 ? i : -1)).filter((i) => i >= 0), [0, 4]);
  for (let i = 0; i < 50; i++) assert.equal(sampleToken(logits, { temperature: 1, topP: 0.5 }, rng), 4);
});

test('generate: same seed, same tokens; context longer than the block size is cropped', () => {
  const model = new GPT({ kind: 'gpt', style: 'nanogpt', vocabSize: 11, blockSize: 4, nLayer: 1, nHead: 2, nEmbd: 8, dropout: 0, bias: true }, new Rng(1));
  const prompt = [1, 2, 3, 4, 5, 6, 7]; // longer than the block size
  const run = (seed: number) => [...generate(model, prompt, { maxNewTokens: 30, temperature: 1, rng: new Rng(seed) })];
  const a = run(42), b = run(42), c = run(43);
  assert.equal(a.length, 30);
  assert.ok(a.every((t) => Number.isInteger(t) && t >= 0 && t < 11));
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
  assert.equal(model.training, true, 'generate restores training mode');
  model.dispose();
});
