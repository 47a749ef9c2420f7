/** Training against a wall-clock budget, the seeds' summaries, and the modern ladder's stages as data. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { splitTrainVal } from '../../src/data/split.js';
import { Rng } from '../../src/engine/random.js';
import { trainWithinBudget, type BudgetResult } from '../../src/measure/budget_training.js';
import { meanCurve, spread, summariseSeeds, targetSpeedup } from '../../src/measure/seed_summary.js';
import { createModel } from '../../src/models/index.js';
import { CharTokenizer } from '../../src/tokenizers/char.js';
import { modelConfigFor, PRESETS, type RunConfig } from '../../src/train/config.js';
import { MODERN_LADDER, modernStageRuns } from '../../src/train/modern_ladder.js';
import { Trainer } from '../../src/train/trainer.js';
import { makeCorpus } from '../helpers/corpus.js';

const text = makeCorpus(8000);
const tokenizer = CharTokenizer.fromText(text);
const { train, val } = splitTrainVal(tokenizer.encode(text));

function tinyTrainer(overrides: Partial<RunConfig> = {}): Trainer {
  const run: RunConfig = {
    ...PRESETS.baby,
    nLayer: 1,
    nHead: 2,
    nEmbd: 16,
    blockSize: 8,
    batchSize: 4,
    evalIters: 2,
    warmupIters: 2,
    maxIters: 1000,
    lrDecayIters: 1000,
    ...overrides,
  };
  const rng = new Rng(run.seed);
  return new Trainer(createModel(modelConfigFor(run, tokenizer.vocabSize), rng), run, train, val, rng);
}

/** A clock that moves `ms` every time it is read. */
function steppingClock(ms: number): () => number {
  let t = 0;
  return () => (t += ms);
}

test('the budget counts optimizer steps only: evaluations run on their own clock', async () => {
  // Every read of the clock moves it 250 ms, so a step and an evaluation each take 250 ms.
  const r = await trainWithinBudget(tinyTrainer(), { budgetSeconds: 1, evalEvery: 2, target: 0, now: steppingClock(250) });
  assert.equal(r.steps, 4);
  assert.equal(r.stoppedBy, 'budget');
  assert.equal(r.trainSeconds, 1);
  assert.equal(r.evalSeconds, 0.75);
  assert.deepEqual(
    r.evals.map((e) => [e.step, e.seconds]),
    [
      [0, 0],
      [2, 0.5],
      [4, 1],
    ],
  );
  assert.equal(r.final, r.evals.at(-1));
  assert.equal(r.reached, null);
  // 4 steps of 4 windows of 8 tokens in 1 s.
  assert.equal(r.tokensPerSecond, 128);
});

test('a budget that ends between evaluations gets a final one; maxIters stops a run within its budget', async () => {
  const cut = await trainWithinBudget(tinyTrainer(), { budgetSeconds: 0.75, evalEvery: 2, target: 0, now: steppingClock(250) });
  assert.deepEqual(
    cut.evals.map((e) => e.step),
    [0, 2, 3],
  );
  const capped = await trainWithinBudget(tinyTrainer({ maxIters: 5 }), { budgetSeconds: 1e6, evalEvery: 2, target: 0 });
  assert.equal(capped.stoppedBy, 'max-iters');
  assert.deepEqual(
    capped.evals.map((e) => e.step),
    [0, 2, 4, 5],
  );
});

test('the losses at each step do not depend on the clock, and the target is the first evaluation at or below it', async () => {
  const a = await trainWithinBudget(tinyTrainer({ maxIters: 12 }), { budgetSeconds: 1e6, evalEvery: 3, target: 0 });
  const b = await trainWithinBudget(tinyTrainer(), { budgetSeconds: 1.5, evalEvery: 3, target: 0, now: steppingClock(125) });
  assert.equal(b.steps, 12);
  assert.deepEqual(
    a.evals.map((e) => [e.step, e.valLoss, e.trainLoss]),
    b.evals.map((e) => [e.step, e.valLoss, e.trainLoss]),
  );
  // The loss falls over 12 steps; a target between the first and the last evaluation is reached in between.
  const first = a.evals[0]!.valLoss,
    last = a.final.valLoss;
  assert.ok(last < first - 0.05, `${first} -> ${last}`);
  const target = a.evals.find((e) => e.step > 0 && e.valLoss < first)!.valLoss;
  const c = await trainWithinBudget(tinyTrainer(), { budgetSeconds: 1.5, evalEvery: 3, target, now: steppingClock(125) });
  const expected = c.evals.find((e) => e.valLoss <= target)!;
  assert.equal(c.reached, expected);
  assert.ok(c.reached.step > 0);
  assert.equal(c.reached.seconds, c.reached.step * 0.125);
});

function fakeResult(valLoss: number, reachedAt: [number, number] | null, evals: [number, number, number][] = []): BudgetResult {
  const points = evals.map(([step, seconds, v]) => ({ step, seconds, trainLoss: v, valLoss: v }));
  const final = { step: 100, seconds: 10, trainLoss: valLoss, valLoss };
  return {
    steps: 100,
    trainSeconds: 10,
    evalSeconds: 1,
    final,
    reached: reachedAt === null ? null : { step: reachedAt[0], seconds: reachedAt[1], trainLoss: 0, valLoss: 0 },
    tokensPerSecond: 1000,
    evals: [...points, final],
    stoppedBy: 'budget',
  };
}

test("seeds' summaries: mean and sample standard deviation, time to target over the seeds that reached it", () => {
  assert.deepEqual(spread([2]), { mean: 2, sd: 0 });
  const s = spread([1, 2, 3]);
  assert.equal(s.mean, 2);
  assert.equal(s.sd, 1);
  const before = summariseSeeds([fakeResult(2, [80, 8]), fakeResult(2.2, [90, 9])]);
  assert.equal(before.valLoss.mean, 2.1);
  assert.equal(before.reachedSeeds, 2);
  assert.equal(before.targetSeconds.mean, 8.5);
  const after = summariseSeeds([fakeResult(1.9, [40, 4]), fakeResult(1.9, [50, 5])]);
  assert.equal(targetSpeedup(before, after), 8.5 / 4.5);
  // A seed that never reached the target leaves the speed-up undefined rather than flattering the stage.
  const partly = summariseSeeds([fakeResult(1.9, [40, 4]), fakeResult(2.3, null)]);
  assert.equal(partly.reachedSeeds, 1);
  assert.equal(partly.targetSeconds.mean, 4);
  assert.equal(targetSpeedup(before, partly), null);
});

test("the seeds' mean curve keeps the evaluation steps every seed made", () => {
  const a = fakeResult(2, null, [
      [0, 0, 4],
      [50, 2, 3],
      [100, 4, 2],
    ]),
    b = fakeResult(2, null, [
      [0, 0, 4.2],
      [50, 3, 2.8],
    ]);
  b.evals.pop(); // b stopped at step 50
  assert.deepEqual(meanCurve([a, b]), [
    { step: 0, seconds: 0, valLoss: 4.1 },
    { step: 50, seconds: 2.5, valLoss: 2.9 },
  ]);
});

test('the modern ladder adds each idea on top of the ones before, starting from baby', () => {
  const runs = modernStageRuns();
  assert.deepEqual(runs[0], PRESETS.baby);
  assert.equal(runs.length, MODERN_LADDER.length);
  const last = runs.at(-1)!;
  assert.equal(last.rotary, true);
  assert.equal(last.activation, 'relu2');
  assert.equal(last.qkNorm, true);
  assert.equal(last.zeroInitProjections, true);
  assert.equal(last.untiedHead, true);
  assert.equal(last.logitSoftcap, 30);
  // The rest of baby stays: its shape, batch and schedule.
  for (const key of ['nLayer', 'nHead', 'nEmbd', 'blockSize', 'batchSize', 'maxIters', 'warmupIters', 'weightDecay'] as const)
    assert.equal(last[key], PRESETS.baby[key], key);
  // Each stage changes what its row says and nothing else.
  MODERN_LADDER.forEach((stage, i) => {
    if (i === 0) return;
    const changed = (Object.keys(runs[i]!) as (keyof RunConfig)[]).filter((k) => runs[i]![k] !== runs[i - 1]![k]);
    assert.deepEqual(changed.sort(), Object.keys(stage.changes).sort(), stage.name);
  });
  // Every stage builds a model, and ideas that change the parameters change them as they should.
  const names = (run: RunConfig) =>
    createModel(modelConfigFor(run, 65), new Rng(1))
      .namedParameters()
      .map(([n]) => n);
  assert.ok(names(runs[0]!).includes('transformer.wpe.weight'));
  assert.ok(!names(runs[1]!).includes('transformer.wpe.weight'));
  const at = (name: string) => runs[MODERN_LADDER.findIndex((s) => s.name === name)]!;
  assert.ok(!names(at('relu2_qknorm_zeroinit')).includes('lm_head.weight'));
  assert.ok(names(at('untied_head')).includes('lm_head.weight'));
  assert.ok(!names(at('rmsnorm')).includes('transformer.ln_f.weight'));
  assert.equal(last.norm, 'rmsnorm');
  assert.equal(last.optimizer, 'muon');
});
