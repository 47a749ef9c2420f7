/** Training as a whole: it learns, it is repeatable, and gradient accumulation means what it says. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Rng } from '../../src/engine/random.js';
import { intTensor, tidy } from '../../src/engine/tensor.js';
import { splitTrainVal } from '../../src/data/split.js';
import { createModel, type ModelConfig } from '../../src/models/index.js';
import { CharTokenizer } from '../../src/tokenizers/char.js';
import { PRESETS, type RunConfig } from '../../src/train/config.js';
import { Trainer, type EvalReport } from '../../src/train/trainer.js';
import { makeCorpus } from '../helpers/corpus.js';

const text = makeCorpus(20_000);
const tokenizer = CharTokenizer.fromText(text);
const { train, val } = splitTrainVal(tokenizer.encode(text));

function tinyRun(overrides: Partial<RunConfig> = {}): { trainer: Trainer; config: RunConfig } {
  const config: RunConfig = {
    ...PRESETS.baby,
    nLayer: 2,
    nHead: 2,
    nEmbd: 32,
    blockSize: 16,
    batchSize: 8,
    maxIters: 40,
    evalInterval: 20,
    evalIters: 4,
    warmupIters: 5,
    lrDecayIters: 40,
    learningRate: 3e-3,
    minLr: 3e-4,
    ...overrides,
  };
  const model: ModelConfig = {
    kind: 'gpt',
    style: config.style,
    vocabSize: tokenizer.vocabSize,
    blockSize: config.blockSize,
    nLayer: config.nLayer,
    nHead: config.nHead,
    nEmbd: config.nEmbd,
    dropout: config.dropout,
    bias: config.bias,
  };
  const rng = new Rng(config.seed);
  return { trainer: new Trainer(createModel(model, rng), config, train, val, rng), config };
}

function weightsOf(trainer: Trainer): Float32Array[] {
  return trainer.model.parameters().map((p) => Float32Array.from(p.data));
}

test('a short run drives the validation loss down by more than 1.2 nats', async () => {
  const { trainer } = tinyRun({ maxIters: 150, evalInterval: 150, evalIters: 8 });
  const evals: EvalReport[] = [];
  await trainer.run({ onEval: (e) => void evals.push(e) });
  assert.equal(evals.length, 2);
  const [first, last] = [evals[0]!, evals[1]!];
  // Untrained, the loss is about ln(vocab): every character equally likely.
  assert.ok(Math.abs(first.valLoss - Math.log(tokenizer.vocabSize)) < 0.1, `initial loss ${first.valLoss}`);
  assert.ok(first.valLoss - last.valLoss > 1.2, `loss went from ${first.valLoss} to ${last.valLoss}`);
  assert.ok(last.best);
  trainer.model.dispose();
});

for (const style of ['nanogpt', 'lecture'] as const) {
  test(`the same seed gives bit-for-bit the same run (${style}, with dropout)`, async () => {
    const losses: number[][] = [],
      weights: Float32Array[][] = [];
    for (let run = 0; run < 2; run++) {
      const { trainer } = tinyRun({ style, dropout: 0.1, maxIters: 12 });
      const l: number[] = [];
      await trainer.run({ onStep: (r) => void l.push(r.loss), onEval: (e) => void l.push(e.valLoss) });
      losses.push(l);
      weights.push(weightsOf(trainer));
      trainer.model.dispose();
    }
    assert.deepEqual(losses[0], losses[1]);
    for (let i = 0; i < weights[0]!.length; i++) {
      assert.deepEqual(Buffer.from(weights[0]![i]!.buffer), Buffer.from(weights[1]![i]!.buffer));
    }
    // ...and a different seed gives a different run.
    const { trainer } = tinyRun({ style, dropout: 0.1, maxIters: 12, seed: 99 });
    const other: number[] = [];
    await trainer.run({ onStep: (r) => void other.push(r.loss), onEval: (e) => void other.push(e.valLoss) });
    assert.notDeepEqual(other, losses[0]);
    trainer.model.dispose();
  });
}

test('gradient accumulation: 2 micro-batches of B equal one batch of 2B', () => {
  // getBatch draws offsets one after another, so two draws of B are the same windows as one draw of 2B; the
  // accumulated gradient must then be the gradient of the mean loss over all 2B windows, not twice it.
  const a = tinyRun({ batchSize: 4, gradientAccumulationSteps: 2, gradClip: 0 });
  const b = tinyRun({ batchSize: 8, gradientAccumulationSteps: 1, gradClip: 0 });
  // The gradients as the update reads them: the update leaves them at zero for the next step.
  const gradsBeforeUpdate = (run: typeof a) => {
    let grads: Float32Array[] = [];
    run.trainer.afterBackward = () => void (grads = run.trainer.model.parameters().map((p) => p.grad!.data.slice()));
    return { report: run.trainer.trainStep(), grads };
  };
  const { report: ra, grads: ga } = gradsBeforeUpdate(a),
    { report: rb, grads: gb } = gradsBeforeUpdate(b);
  assert.ok(Math.abs(ra.loss - rb.loss) < 1e-5, `losses ${ra.loss} vs ${rb.loss}`);
  assert.ok(
    gb.some((g) => g.some((x) => x !== 0)),
    'the gradients are not all zero',
  );
  for (const p of a.trainer.model.parameters())
    assert.ok(
      p.grad!.data.every((x) => x === 0),
      'the update left a gradient',
    );
  for (let i = 0; i < ga.length; i++) {
    let maxDiff = 0,
      scale = 0;
    for (let j = 0; j < ga[i]!.length; j++) {
      maxDiff = Math.max(maxDiff, Math.abs(ga[i]![j]! - gb[i]![j]!));
      scale = Math.max(scale, Math.abs(gb[i]![j]!));
    }
    assert.ok(maxDiff <= 1e-4 * scale + 1e-9, `parameter ${i}: gradients differ by ${maxDiff} (scale ${scale})`);
  }
  a.trainer.model.dispose();
  b.trainer.model.dispose();
});

test('a backward pass run between two steps does not leak into the next step (the update zeroed the gradients)', () => {
  const plain = tinyRun(),
    probed = tinyRun();
  plain.trainer.trainStep();
  probed.trainer.trainStep();
  // Someone's own backward between steps (an inspection, say) adds to the parameters' gradients.
  tidy(() => {
    const ids = Int32Array.from({ length: 16 }, (_, i) => i % tokenizer.vocabSize);
    probed.trainer.model.forward(intTensor(ids, [1, 16]), intTensor(ids, [1, 16])).loss!.backward();
  });
  assert.ok(
    probed.trainer.model.parameters().some((p) => p.grad!.data.some((x) => x !== 0)),
    'the probe wrote gradients',
  );
  const a = plain.trainer.trainStep(),
    b = probed.trainer.trainStep();
  assert.equal(b.gradNorm, a.gradNorm);
  assert.deepEqual(weightsOf(probed.trainer), weightsOf(plain.trainer));
  plain.trainer.model.dispose();
  probed.trainer.model.dispose();
});

test('a training step allocates no new arena memory after the first', () => {
  const { trainer } = tinyRun();
  trainer.trainStep();
  trainer.trainStep();
  const arena = trainer.model.parameters()[0]!.arena;
  const before = arena.stats();
  for (let i = 0; i < 5; i++) trainer.trainStep();
  const after = arena.stats();
  assert.equal(after.reserved, before.reserved, 'the arena grew during steady-state steps');
  assert.equal(after.inUse, before.inUse, 'a step leaked tensors');
  trainer.model.dispose();
});
