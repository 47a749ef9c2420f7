/**
 * The rolling key/value cache of rotary GPTs (pastContext 'roll', models/decoder.ts): within the block size,
 * forward()'s logits bit for bit; past it, the sliding window of keys as they were made, checked against a
 * float64 model written out in the test (test/helpers/sliding_window_reference.ts); a ring that wraps many
 * times without drift, the same bits on one thread or two.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { enableRelaxedSimd } from '../../src/cli/wasm_flags.js';
import { type Kernels, referenceKernels } from '../../src/engine/backend.js';
import { rotaryAngleRow, rotaryAngles } from '../../src/engine/ops/qk_transform.js';
import { Rng } from '../../src/engine/random.js';
import { createWasmKernelsSync } from '../../src/engine/wasm/wasm_kernels.js';
import type { Decoder } from '../../src/models/decoder.js';
import { GPT } from '../../src/models/gpt.js';
import { createModel, type ModelConfig } from '../../src/models/index.js';
import { spawnNodeKernelWorker } from '../../src/node/kernel_threads.js';
import { generate } from '../../src/sample/generate.js';
import { exactnessKernelSets, withKernels } from '../helpers/kernel_sets.js';
import { forwardLastLogits } from '../helpers/reference_decoding.js';
import { slidingWindowLogits } from '../helpers/sliding_window_reference.js';

const V = 11;
const base = { kind: 'gpt', vocabSize: V, dropout: 0, style: 'nanogpt', rotary: true } as const;
/** Rotary GPTs of several shapes, with the other options of issue 15 on some. */
const shapes: [string, ModelConfig][] = [
  ['2 layers, 2 heads, biases, GELU', { ...base, blockSize: 8, nLayer: 2, nHead: 2, nEmbd: 12, bias: true }],
  [
    '2 layers, 3 heads, QK-norm, ReLU squared, untied head, soft-cap, RMSNorm',
    {
      ...base,
      blockSize: 8,
      nLayer: 2,
      nHead: 3,
      nEmbd: 12,
      bias: false,
      qkNorm: true,
      activation: 'relu2',
      untiedHead: true,
      logitSoftcap: 30,
      norm: 'rmsnorm',
    },
  ],
  [
    '3 layers, 4 heads, tanh GELU, block 5',
    { ...base, blockSize: 5, nLayer: 3, nHead: 4, nEmbd: 16, bias: false, activation: 'gelu_tanh' },
  ],
];

function makeModel(config: ModelConfig, scale: number): GPT {
  const model = createModel(config, new Rng(7));
  assert.ok(model instanceof GPT);
  // Random weights give near-uniform attention; larger ones make the windows' differences show.
  for (const p of model.parameters()) for (let i = 0; i < p.size; i++) p.data[i] = p.data[i]! * scale;
  return model;
}

function randomTokens(rng: Rng, n: number): number[] {
  return Array.from({ length: n }, () => rng.int(V));
}

/** The decoder's logits after each prefix of the contexts, fed one token a step from `first` tokens on. */
function stepThrough(decoder: Decoder, contexts: number[][], first: number): Float32Array[] {
  const out: Float32Array[] = [];
  for (let t = first; t <= contexts[0]!.length; t++) out.push(decoder.step(contexts.map((c) => c.slice(0, t))).slice());
  return out;
}

/** Asserts every logit within tol of the float64 reference's, relative to the logit's size. */
function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what: string): void {
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i]!;
    assert.ok(Math.abs(actual[i]! - e) <= tol * Math.max(1, Math.abs(e)), `${what}: logit ${i} is ${actual[i]}, the reference ${e}`);
  }
}

for (const [kernelName, kernelSet] of exactnessKernelSets()) {
  test(`rolling within the block size gives forward()'s logits bit for bit (${kernelName} kernels)`, () => {
    withKernels(kernelSet, () => {
      for (const [name, config] of shapes) {
        const model = makeModel(config, 20),
          W = config.blockSize;
        for (const B of [1, 3]) {
          const rng = new Rng(3);
          const contexts = Array.from({ length: B }, () => randomTokens(rng, W));
          const decoder = model.decoder(B);
          try {
            assert.equal(decoder.pastContext, 'roll', 'a rotary GPT rolls by default');
            // A prompt of two tokens, then one token a step up to the block size.
            const logits = stepThrough(decoder, contexts, 2);
            logits.forEach((l, i) => {
              const windows = contexts.map((c) => c.slice(0, i + 2));
              assert.deepEqual(l, forwardLastLogits(model, windows), `${name}, B=${B}: ${i + 2} tokens`);
            });
            // Three tokens at once, after the first three.
            decoder.reset();
            decoder.step(contexts.map((c) => c.slice(0, 3)));
            assert.deepEqual(
              decoder.step(contexts.map((c) => c.slice(0, 6))),
              forwardLastLogits(
                model,
                contexts.map((c) => c.slice(0, 6)),
              ),
            );
          } finally {
            decoder.dispose();
          }
        }
        model.dispose();
      }
    });
  });
}

test('past the block size, rolling gives the sliding window of keys as they were made (a float64 model written out), not the crop', () => {
  withKernels(referenceKernels, () => {
    for (const [name, config] of shapes) {
      const model = makeModel(config, 4),
        W = config.blockSize;
      const rng = new Rng(5);
      const tokens = randomTokens(rng, 5 * W);
      const rollingRef = slidingWindowLogits(model, tokens);
      const cropRef = slidingWindowLogits(model, tokens, { crop: true });
      const decoder = model.decoder(1, { pastContext: 'roll' });
      let largestGap = 0;
      try {
        const logits = stepThrough(decoder, [tokens], 1);
        logits.forEach((l, t) => {
          assertClose(l, rollingRef[t]!, 2e-4, `${name}, position ${t}`);
          for (let i = 0; i < V; i++) largestGap = Math.max(largestGap, Math.abs(rollingRef[t]![i]! - cropRef[t]![i]!));
          if (t < W) assert.deepEqual([...rollingRef[t]!], [...cropRef[t]!], 'the two are one within the block size');
        });
      } finally {
        decoder.dispose();
      }
      // The test can tell the two apart: past the block size the crop's logits are elsewhere.
      assert.ok(largestGap > 0.05, `${name}: rolling and cropping differ by ${largestGap} at most`);
      model.dispose();
    }
  });
});

test('a rolling decoder given a long context at once, a changed one, or the same again computes what it computes token by token', () => {
  withKernels(referenceKernels, () => {
    const [name, config] = shapes[1]!;
    const model = makeModel(config, 4),
      W = config.blockSize;
    const rng = new Rng(9);
    const contexts = [randomTokens(rng, 3 * W + 2), randomTokens(rng, 3 * W + 2)];
    const stepwise = model.decoder(2),
      atOnce = model.decoder(2);
    try {
      const byToken = stepThrough(stepwise, contexts, 1);
      assert.deepEqual(atOnce.step(contexts), byToken[byToken.length - 1], `${name}: the whole context in one step`);
      assert.deepEqual(atOnce.step(contexts), byToken[byToken.length - 1], 'the same context again');
      // A token changed further back than the ring reaches: everything is computed again.
      const changedEarly = contexts.map((c) => [...c]);
      changedEarly[1]![2] = (changedEarly[1]![2]! + 1) % V;
      const fresh = model.decoder(2);
      try {
        const expected = fresh.step(changedEarly).slice();
        assert.deepEqual(atOnce.step(changedEarly), expected, 'a context changed at position 2');
        // The last token changed: the ring still holds the W - 1 keys before it.
        const changedLast = changedEarly.map((c) => [...c.slice(0, -1), (c[c.length - 1]! + 3) % V]);
        fresh.reset();
        assert.deepEqual(atOnce.step(changedLast), fresh.step(changedLast), 'a context changed at its last position');
      } finally {
        fresh.dispose();
      }
    } finally {
      stepwise.dispose();
      atOnce.dispose();
    }
    model.dispose();
  });
});

test('the ring wraps ten times without drift: greedy tokens the same on one thread and two, and the float64 model agrees', () => {
  enableRelaxedSimd();
  const sets: [string, Kernels][] = [
    ['1 thread', createWasmKernelsSync()],
    ['2 threads', createWasmKernelsSync(undefined, { threads: 2, spawnWorker: spawnNodeKernelWorker })],
    ['reference', referenceKernels],
  ];
  const [, config] = shapes[0]!;
  const model = makeModel(config, 4),
    W = config.blockSize,
    prompt = [1, 2, 3];
  const runs = sets.map(([setName, set]) =>
    withKernels(set, () => {
      const tokens = [...generate(model, prompt, { maxNewTokens: 10 * W, temperature: 0, rng: new Rng(1) })];
      const again = [...generate(model, prompt, { maxNewTokens: 10 * W, temperature: 0, rng: new Rng(2) })];
      assert.deepEqual(again, tokens, `${setName}: greedy sampling twice`);
      const decoder = model.decoder(1);
      try {
        return { tokens, logits: stepThrough(decoder, [[...prompt, ...tokens]], prompt.length) };
      } finally {
        decoder.dispose();
      }
    }),
  );
  assert.deepEqual(runs[1]!.tokens, runs[0]!.tokens, 'the same tokens on two threads');
  assert.deepEqual(runs[1]!.logits, runs[0]!.logits, 'the same logits, bit for bit, on two threads');
  const sequence = [...prompt, ...runs[0]!.tokens];
  const reference = slidingWindowLogits(model, sequence);
  for (const [i, run] of runs.entries()) {
    run.logits.slice(0, -1).forEach((l, s) => {
      const t = prompt.length - 1 + s;
      assertClose(l, reference[t]!, 2e-4, `${sets[i]![0]}, position ${t}`);
      // Greedy: the token drawn is the reference's most likely one, unless the two best are within rounding.
      const ref = [...reference[t]!],
        best = ref.indexOf(Math.max(...ref));
      const sorted = [...ref].sort((a, b) => b - a);
      if (sorted[0]! - sorted[1]! > 1e-3) assert.equal(sequence[t + 1], best, `position ${t + 1}: the reference's argmax`);
    });
  }
  assert.ok(new Set(runs[0]!.tokens).size > 2, 'the greedy sequence is not one token repeated');
  model.dispose();
});

test('rolling is refused for learned positions and without the cache; rotary angles past the table are the same bits as a longer table', () => {
  const learned = createModel({ ...base, rotary: false, blockSize: 8, nLayer: 1, nHead: 2, nEmbd: 8, bias: false }, new Rng(1));
  assert.deepEqual(learned.pastContexts, ['crop']);
  assert.throws(() => learned.decoder(1, { pastContext: 'roll' }), /can only crop past the block size \(rolling needs rotary embeddings\)/);
  assert.throws(() => generate(learned, [1], { maxNewTokens: 1, temperature: 0, rng: new Rng(1), pastContext: 'roll' }).next(), /rotary/);
  assert.equal(learned.decoder(1).maxContext, 8);
  const rotary = createModel(shapes[0]![1], new Rng(1));
  assert.deepEqual(rotary.pastContexts, ['roll', 'crop']);
  assert.throws(() => rotary.decoder(1, { pastContext: 'roll', cache: false }), /cannot roll with cache: false/);
  assert.equal(rotary.decoder(1, { cache: false }).pastContext, 'crop');
  assert.equal(rotary.decoder(1, { pastContext: 'crop' }).maxContext, 8);
  const table = rotaryAngles(3000, 6),
    cos = new Float32Array(3),
    sin = new Float32Array(3);
  for (const t of [0, 7, 8, 63, 64, 1000, 2999]) {
    rotaryAngleRow(t, 6, table.base, cos, sin);
    assert.deepEqual(
      [...cos, ...sin],
      [...table.cos.data.subarray(3 * t, 3 * t + 3), ...table.sin.data.subarray(3 * t, 3 * t + 3)],
      `row ${t}`,
    );
  }
  table.cos.dispose();
  table.sin.dispose();
});
