import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultArena } from '../../src/engine/arena.js';
import { Rng } from '../../src/engine/random.js';
import type { HiddenPoint } from '../../src/models/decoder.js';
import { GPT, type GPTConfig } from '../../src/models/gpt.js';
import { createModel, type LanguageModel, type ModelConfig } from '../../src/models/index.js';
import { LADDER } from '../../src/train/ladder.js';
import { exactnessKernelSets, withKernels } from '../helpers/kernel_sets.js';
import { forwardLastLogits, referenceHidden } from '../helpers/reference_decoding.js';

const V = 13,
  blockSize = 8;
const small = { kind: 'gpt', vocabSize: V, blockSize, nLayer: 2, nHead: 2, nEmbd: 12, dropout: 0.2 } as const;
// Both GPT forms, and every stage of the lecture's ladder (parts of the lecture's block switched off).
const models: [string, ModelConfig][] = [
  ['nanogpt', { ...small, style: 'nanogpt', bias: true }],
  ['nanogpt without biases', { ...small, style: 'nanogpt', bias: false }],
  ['lecture', { ...small, style: 'lecture', bias: true }],
  // The options of issue 15, one at a time and all together (head size 6: rotary needs an even one).
  ['nanogpt, rotary', { ...small, style: 'nanogpt', bias: false, rotary: true }],
  ['nanogpt, QK-norm', { ...small, style: 'nanogpt', bias: true, qkNorm: true }],
  ['nanogpt, zero-initialised projections', { ...small, style: 'nanogpt', bias: false, zeroInitProjections: true }],
  ['nanogpt, ReLU squared', { ...small, style: 'nanogpt', bias: true, activation: 'relu2' }],
  ['nanogpt, untied head', { ...small, style: 'nanogpt', bias: false, untiedHead: true }],
  ['nanogpt, logit soft-cap', { ...small, style: 'nanogpt', bias: false, logitSoftcap: 15 }],
  ['nanogpt, RMSNorm', { ...small, style: 'nanogpt', bias: true, norm: 'rmsnorm' }],
  [
    'nanogpt, all of them',
    {
      ...small,
      style: 'nanogpt',
      bias: false,
      rotary: true,
      qkNorm: true,
      activation: 'relu2',
      untiedHead: true,
      logitSoftcap: 30,
      norm: 'rmsnorm',
      nHead: 3,
    },
  ],
  ...LADDER.map((stage): [string, ModelConfig] => [`ladder ${stage.name}`, stage.model(V)]),
];
const points: HiddenPoint[] = ['ffn_input', 'block_output', 'head_input'];

function makeModel(config: ModelConfig): LanguageModel {
  assert.equal(config.blockSize, blockSize);
  const model = createModel(config, new Rng(4));
  // Random weights give near-uniform values; larger ones make any difference in the arithmetic show.
  for (const p of model.parameters()) for (let i = 0; i < p.size; i++) p.data[i] = p.data[i]! * 20;
  return model;
}

/**
 * Steps a decoder the way sampling does and some ways it does not, checking every step's logits (and hidden
 * state) against forward() over the same windows, bit for bit: the prompt, one token a step up to and past
 * the block size (the window then shifts), two tokens at once, a window that leaves the cached tokens half
 * way, the same window twice, a shorter one, and after reset().
 */
function checkDecoder(model: LanguageModel, B: number, opts: { point?: HiddenPoint; cache?: boolean }, tag: string): void {
  const rng = new Rng(11);
  const random = (n: number) => Array.from({ length: n }, () => rng.int(V));
  const decoder = model.decoder(B, { hidden: opts.point, cache: opts.cache });
  const check = (windows: number[][], what: string) => {
    const logits = decoder.step(windows);
    assert.deepEqual(logits, forwardLastLogits(model, windows), `${tag}: logits, ${what}`);
    if (opts.point !== undefined && model instanceof GPT) {
      assert.deepEqual(decoder.hidden(), referenceHidden(model, windows, opts.point), `${tag}: hidden state, ${what}`);
    }
  };
  try {
    const contexts = Array.from({ length: B }, () => random(3));
    for (let step = 0; step < 14; step++) {
      check(
        contexts.map((c) => c.slice(-blockSize)),
        `step ${step}, context ${contexts[0]!.length}`,
      );
      for (const c of contexts) c.push(...random(step === 1 ? 2 : 1));
    }
    const prefix = Array.from({ length: B }, () => random(4));
    check(prefix, 'a new window');
    const longer = prefix.map((p) => [...p, ...random(3)]);
    check(longer, 'the window grown by three');
    const diverging = longer.map((w) => [...w.slice(0, 5), (w[5]! + 1) % V, ...random(1)]);
    check(diverging, 'a window leaving the cached tokens at position 5');
    check(diverging, 'the same window again');
    check(
      diverging.map((w) => w.slice(0, 2)),
      'a shorter window',
    );
    decoder.reset();
    check(diverging, 'after reset()');
  } finally {
    decoder.dispose();
  }
}

for (const [kernelName, kernelSet] of exactnessKernelSets()) {
  test(`every model's decoder gives forward()'s logits and hidden states bit for bit (${kernelName} kernels)`, () => {
    withKernels(kernelSet, () => {
      for (const [name, config] of models) {
        const model = makeModel(config);
        // One to three sequences read the weights packed into panels; four or more do not.
        [1, 3, 4].forEach((B, i) => void checkDecoder(model, B, { point: points[i] }, `${name}, B=${B}`));
        checkDecoder(model, 2, { cache: false }, `${name} without the cache`);
        assert.equal(model.training, true, 'the decoder leaves the training mode alone');
        model.dispose();
      }
    });
  });
}

test('a decoder refuses windows that do not fit it, with one clear message', () => {
  const model = makeModel(models[0]![1]);
  const decoder = model.decoder(2);
  const refuses = (windows: number[][], message: RegExp) => assert.throws(() => decoder.step(windows), message);
  refuses([[1, 2]], /1 windows for a batch of 2/);
  refuses([[], []], /a window of 0 tokens; it takes 1 to 8/);
  refuses([Array(9).fill(1), Array(9).fill(1)], /a window of 9 tokens; it takes 1 to 8/);
  refuses([[1, 2], [3]], /windows of 2 and 1 tokens/);
  refuses(
    [
      [1, 13],
      [1, 2],
    ],
    /token id 13 outside \[0, 13\)/,
  );
  refuses(
    [
      [1, 0.5],
      [1, 2],
    ],
    /token id 0.5 outside/,
  );
  assert.throws(() => decoder.hidden(), /no hidden state kept/);
  assert.throws(() => model.decoder(0), /batch must be a positive integer/);
  decoder.dispose();
  model.dispose();
});

test('a decoder frees all it made: its cache, buffers and weight copies', () => {
  const model = makeModel(models[2]![1]);
  const inUse = () => defaultArena.stats().inUse;
  const before = inUse();
  for (const B of [1, 5]) {
    const decoder = model.decoder(B);
    decoder.step(Array.from({ length: B }, () => [1, 2, 3, 4, 5]));
    decoder.step(Array.from({ length: B }, () => [1, 2, 3, 4, 5, 6]));
    assert.ok(inUse() > before);
    decoder.dispose();
    assert.equal(inUse(), before, `B=${B}`);
  }
  model.dispose();
});

test('the bigram decoder reads the table row of the last token', () => {
  const config = LADDER[0]!.model(V);
  const model = makeModel(config);
  const decoder = model.decoder(2, { hidden: 'ffn_input' });
  const logits = decoder.step([
    [1, 5],
    [2, 7],
  ]);
  const table = model.parameters()[0]!.data;
  assert.deepEqual(logits, Float32Array.from([...table.subarray(5 * V, 6 * V), ...table.subarray(7 * V, 8 * V)]));
  assert.deepEqual(decoder.hidden(), logits, 'its hidden state is that row');
  assert.equal(decoder.hiddenSize, V);
  decoder.dispose();
  model.dispose();
});

test('a GPT decoder reports its shape', () => {
  const model = makeModel(models[2]![1]);
  const decoder = model.decoder(3);
  assert.deepEqual([decoder.batch, decoder.vocabSize, decoder.hiddenSize], [3, V, (models[2]![1] as GPTConfig).nEmbd]);
  decoder.dispose();
  model.dispose();
});
