/** bench/rolling_quality.ts's measure (src/measure/past_context_loss.ts) against the float64 model of the test helpers. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { referenceKernels } from '../../src/engine/backend.js';
import { Rng } from '../../src/engine/random.js';
import { bandMeans, crossEntropy, cutTexts, nextTokenLosses, positionBands } from '../../src/measure/past_context_loss.js';
import { GPT } from '../../src/models/gpt.js';
import { createModel } from '../../src/models/index.js';
import { withKernels } from '../helpers/kernel_sets.js';
import { slidingWindowLogits } from '../helpers/sliding_window_reference.js';

test('positionBands and cutTexts: the block, then bands doubling in length; texts back to back', () => {
  assert.deepEqual(positionBands(8 * 4 + 1, 4), [
    { from: 0, to: 4 },
    { from: 4, to: 8 },
    { from: 8, to: 16 },
    { from: 16, to: 32 },
  ]);
  assert.deepEqual(positionBands(11, 4), [
    { from: 0, to: 4 },
    { from: 4, to: 8 },
    { from: 8, to: 10 },
  ]);
  const texts = cutTexts(
    Int32Array.from({ length: 10 }, (_, i) => i),
    3,
    5,
  );
  assert.deepEqual(
    texts.map((t) => [...t]),
    [
      [0, 1, 2],
      [3, 4, 5],
      [6, 7, 8],
    ],
  );
  assert.ok(Math.abs(crossEntropy([0, Math.log(3)], 1) - Math.log(4 / 3)) < 1e-12);
});

test("nextTokenLosses: rolling and cropping give the float64 model's losses, the same within the block size", () => {
  withKernels(referenceKernels, () => {
    const V = 9,
      W = 6;
    const model = createModel(
      { kind: 'gpt', style: 'nanogpt', rotary: true, vocabSize: V, blockSize: W, nLayer: 2, nHead: 2, nEmbd: 8, dropout: 0, bias: false },
      new Rng(3),
    );
    assert.ok(model instanceof GPT);
    for (const p of model.parameters()) for (let i = 0; i < p.size; i++) p.data[i] = p.data[i]! * 4;
    const rng = new Rng(8);
    const texts = cutTexts(
      Int32Array.from({ length: 5 * (4 * W + 1) }, () => rng.int(V)),
      4 * W + 1,
      5,
    );
    const bands = positionBands(4 * W + 1, W);
    const expected = (crop: boolean) =>
      texts.map((text) => {
        const logits = slidingWindowLogits(model, [...text], { crop });
        return Float64Array.from({ length: text.length - 1 }, (_, t) => crossEntropy(logits[t]!, text[t + 1]!));
      });
    const roll = nextTokenLosses(model, texts, 'roll', { batch: 2 }),
      crop = nextTokenLosses(model, texts, 'crop', { batch: 3 });
    for (const [got, want, name] of [
      [roll, expected(false), 'roll'],
      [crop, expected(true), 'crop'],
    ] as const) {
      got.forEach((row, i) => row.forEach((l, t) => assert.ok(Math.abs(l - want[i]![t]!) < 1e-4, `${name}, text ${i}, position ${t}`)));
    }
    const [rollBands, cropBands] = [bandMeans(roll, bands), bandMeans(crop, bands)];
    assert.deepEqual(rollBands[0], cropBands[0], 'within the block size the two are one');
    assert.notEqual(rollBands[2]!.loss, cropBands[2]!.loss);
    assert.equal(rollBands[2]!.count, 5 * 2 * W);
    model.dispose();
  });
});
