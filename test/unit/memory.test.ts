/** The memory: its context index, its keys, its neighbours, and sampling with it. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { noGrad } from '../../src/engine/autograd.js';
import { Rng } from '../../src/engine/random.js';
import { intTensor, tidy } from '../../src/engine/tensor.js';
import { GPT, type GPTConfig } from '../../src/models/gpt.js';
import { buildMemory } from '../../src/memory/build_memory.js';
import { contextOrder, longestMatches, MAX_MATCH, matchLength } from '../../src/memory/context_index.js';
import { exactSearch } from '../../src/memory/exact_search.js';
import { collectEvidence, lossWithMemory, sweep } from '../../src/memory/memory_eval.js';
import type { MemoryScoring } from '../../src/memory/memory_config.js';
import { memoryMixer } from '../../src/memory/memory_mixer.js';
import { generate } from '../../src/sample/generate.js';
import { CharTokenizer } from '../../src/tokenizers/char.js';

const SHA = '0'.repeat(64);

function randomTokens(n: number, vocab: number, seed: number): Int32Array {
  const rng = new Rng(seed);
  return Int32Array.from({ length: n }, () => rng.int(vocab));
}

test('context order: positions sorted by their context read backwards; matches found as a full scan finds them', () => {
  for (const [n, vocab] of [
    [1, 2],
    [50, 2],
    [400, 3],
    [300, 20],
  ] as const) {
    const tokens = randomTokens(n + 1, vocab, n);
    const order = contextOrder(tokens, n);
    assert.deepEqual(
      [...order].sort((a, b) => a - b),
      Array.from({ length: n }, (_, i) => i),
    );
    const key = (p: number) => Array.from({ length: MAX_MATCH }, (_, i) => (p - i >= 0 ? tokens[p - i]! : -1));
    for (let i = 1; i < n; i++) {
      const [a, b] = [key(order[i - 1]!), key(order[i]!)];
      const j = a.findIndex((x, m) => x !== b[m]);
      assert.ok(j === -1 ? order[i - 1]! < order[i]! : a[j]! < b[j]!, `order at ${i}`);
    }
    const rng = new Rng(7);
    for (let trial = 0; trial < 30; trial++) {
      // A context that is a piece of the text itself (so long matches exist), or random tokens.
      const end = rng.int(n);
      const context =
        trial % 2 === 0 ? Array.from(tokens.subarray(Math.max(0, end - 10), end + 1)) : Array.from(randomTokens(6, vocab, trial));
      for (const minLength of [1, 3, 6]) {
        const all = Array.from({ length: n }, (_, p) => [p, matchLength(tokens, p, context)] as const).filter(([, m]) => m >= minLength);
        const found = longestMatches(order, tokens, context, minLength, n);
        assert.deepEqual(
          found.positions.map((p, i) => [p, found.lengths[i]]).sort((x, y) => x[0]! - y[0]!),
          all.map(([p, m]) => [p, m]),
          `every position sharing at least ${minLength} tokens`,
        );
        for (let i = 1; i < found.lengths.length; i++) assert.ok(found.lengths[i - 1]! >= found.lengths[i]!, 'longest first');
        const few = longestMatches(order, tokens, context, minLength, 3);
        assert.deepEqual(few.lengths, found.lengths.slice(0, 3), 'a limit keeps the longest');
      }
    }
  }
});

const config: GPTConfig = {
  kind: 'gpt',
  style: 'nanogpt',
  vocabSize: 9,
  blockSize: 8,
  nLayer: 2,
  nHead: 2,
  nEmbd: 16,
  dropout: 0,
  bias: false,
};
const tokenizer = CharTokenizer.fromText('abcdefghi');

function tinyModel(): GPT {
  const model = new GPT(config, new Rng(2));
  for (const p of model.parameters()) for (let i = 0; i < p.size; i++) p.data[i] = p.data[i]! * 8;
  return model;
}

test("buildMemory: one key per position, each the model's hidden state there with the window's context", () => {
  const model = tinyModel();
  const tokens = randomTokens(45, 9, 3);
  for (const stride of [1, 3, 4, 8]) {
    const memory = buildMemory(model, tokens, { tokenizer, stride, source: 'x', textSha256: SHA, weightsSha256: SHA, batch: 3 });
    assert.equal(memory.count, 44);
    assert.deepEqual(memory.tokens, tokens);
    assert.equal(memory.value(5), tokens[6]);
    // Position p's key comes from the last window start s <= p with p - s < 8 whose window covered it first: the
    // earliest window holding p, after the windows before... so recompute the windows as the builder makes them.
    const starts: number[] = [];
    for (let s = 0; s + 8 < 44; s += stride) starts.push(s);
    starts.push(44 - 8);
    let covered = 0;
    model.eval();
    for (const s of starts) {
      const hidden = tidy(() =>
        noGrad(() => model.forwardHidden(intTensor(Array.from(tokens.subarray(s, s + 8)), [1, 8]), 'ffn_input').hidden.data.slice()),
      );
      for (let p = Math.max(covered, s); p < s + 8; p++) {
        assert.deepEqual(
          memory.keys.data.subarray(p * 16, (p + 1) * 16),
          hidden.subarray((p - s) * 16, (p - s + 1) * 16),
          `stride ${stride}, key ${p}`,
        );
      }
      covered = s + 8;
    }
    assert.ok(memory.config.scoring.temperature > 0 && Number.isFinite(memory.config.scoring.temperature));
    memory.dispose();
  }
  model.dispose();
});

test('neighbours: without the context bonus, the exact search scaled; with it, the longest shared context first', () => {
  const model = tinyModel();
  const tokens = randomTokens(300, 9, 5);
  const memory = buildMemory(model, tokens, { tokenizer, source: 'x', textSha256: SHA, weightsSha256: SHA });
  const base: MemoryScoring = { ...memory.config.scoring, k: 5, matchBonus: 0 };
  const queries = memory.keys.data.slice(100 * 16, 102 * 16);
  const contexts = [Array.from(tokens.subarray(0, 101)), Array.from(tokens.subarray(0, 102))];
  for (const score of ['dot', 'l2'] as const) {
    const plain = memory.neighbours(queries, contexts, { ...base, score });
    const direct = exactSearch(memory.keys, queries, 5, score);
    assert.deepEqual(plain.indices, direct.indices);
    const scale = score === 'dot' ? 1 / 4 : 1;
    plain.scores.forEach((s, i) => assert.ok(Math.abs(s - direct.scores[i]! * scale) <= 1e-5 * Math.max(1, Math.abs(s))));
  }
  // A context copied from the text at position 200: with a bonus the copy's own position wins, sharing all of it.
  const copied = Array.from(tokens.subarray(200 - 19, 201));
  // A query with every attention score 0: the bonus alone ranks.
  const blank = new Float32Array(16);
  const found = memory.neighbours(blank, [copied], { ...base, matchBonus: 2, matchMin: 12 });
  assert.equal(found.indices[0], 200);
  assert.equal(found.matches[0], 20);
  const p = new Float32Array(9);
  assert.equal(memory.distribution(found, 0, { ...base, matchBonus: 2, matchMin: 12, matchLambda: 0.9 }, p), 0.9, 'the gate opens');
  assert.ok(Math.abs(p.reduce((a, b) => a + b, 0) - 1) < 1e-6);
  const noGate = memory.neighbours(blank, [copied.slice(-5)], { ...base, matchBonus: 2, matchMin: 12 });
  assert.equal(memory.distribution(noGate, 0, { ...base, matchBonus: 2, matchMin: 12, lambda: 0.3 }, p), 0.3, 'a short match does not');
  memory.dispose();
  model.dispose();
});

test('sampling with a memory: a passage the model cannot know is recalled from a few tokens of its context', () => {
  // Initial weights: hidden states of LayerNorm's scale, attention scores of a few units against a bonus of 20.
  const model = new GPT(config, new Rng(2));
  const text = randomTokens(400, 9, 11);
  const memory = buildMemory(model, text, { tokenizer, source: 'x', textSha256: SHA, weightsSha256: SHA });
  const prompt = Array.from(text.subarray(150, 170));
  const expected = Array.from(text.subarray(170, 200));
  const run = (mix?: ReturnType<typeof memoryMixer>) => [
    ...generate(model, prompt, { maxNewTokens: 30, temperature: 0, rng: new Rng(1), mix }),
  ];
  assert.notDeepEqual(run(), expected, 'the model alone does not know the passage');
  assert.deepEqual(run(memoryMixer(memory, { ...memory.config.scoring, matchBonus: 1, matchMin: 12, matchLambda: 0.95 })), expected);
  // generate(..., { memory }) is the memory with its recorded scoring at the mix point.
  const withMemory = [...generate(model, prompt, { maxNewTokens: 30, temperature: 1, rng: new Rng(3), memory })];
  assert.deepEqual(withMemory, [
    ...generate(model, prompt, { maxNewTokens: 30, temperature: 1, rng: new Rng(3), mix: memoryMixer(memory) }),
  ]);
  assert.notDeepEqual(withMemory, [...generate(model, prompt, { maxNewTokens: 30, temperature: 1, rng: new Rng(3) })]);
  memory.dispose();
  model.dispose();
});

test('memory eval: the evidence gives the loss alone as forward() does, and the sweep reports what it chose', () => {
  const model = tinyModel();
  const memory = buildMemory(model, randomTokens(300, 9, 21), { tokenizer, source: 'x', textSha256: SHA, weightsSha256: SHA });
  const text = randomTokens(60, 9, 22);
  const ev = collectEvidence(model, memory, text, { kMax: 16, stride: 8 });
  // The model's own loss over the text: windows of the block size, each position read with the context its window gives.
  const off = lossWithMemory(ev, { ...memory.config.scoring, k: 16, lambda: 0, matchBonus: 0 });
  assert.equal(off.positions, 59);
  assert.equal(off.lossWithMemory, off.loss, 'lambda 0 leaves the model alone');
  const first = tidy(() =>
    noGrad(() => {
      model.eval();
      const { logits } = model.forwardHidden(intTensor(Array.from(text.subarray(0, 8)), [1, 8]), 'ffn_input');
      const row = Array.from(logits.data.subarray(0, 9));
      const max = Math.max(...row);
      return -(row[text[1]!]! - max - Math.log(row.reduce((a, v) => a + Math.exp(v - max), 0)));
    }),
  );
  assert.ok(Math.abs(lossWithMemory(ev, { ...memory.config.scoring, k: 16, lambda: 0 }, 0, 1).loss - first) < 1e-9);
  const grid = { k: [4, 16], temperature: [0.5, 2], lambda: [0.2, 0.6], matchBonus: [0, 0.5], matchLambda: [0.9] };
  const result = sweep(ev, { ...memory.config.scoring, k: 16 }, grid);
  assert.equal(result.tried, 2 * 2 * 2 * (1 + 1));
  assert.deepEqual(result.tuned, lossWithMemory(ev, result.best, 0, 29));
  assert.deepEqual(result.reported, lossWithMemory(ev, result.best, 29, 59));
  for (const k of grid.k) {
    for (const temperature of grid.temperature) {
      const s = { ...result.best, k, temperature };
      assert.ok(lossWithMemory(ev, s, 0, 29).lossWithMemory >= result.tuned.lossWithMemory - 1e-12, 'nothing in the grid beats the choice');
    }
  }
  memory.dispose();
  model.dispose();
});
