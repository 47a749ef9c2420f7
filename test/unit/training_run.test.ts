/**
 * TrainingRun in-process: stopping by request saves the step it stopped at; the save cadence; config.json's
 * record of the best weights follows the Trainer's best; a full disk (injected through the hooks) at the best
 * weights leaves a folder that loads and resumes; a diverged state is never saved and the last good snapshot
 * stays; the old run-config name `model` still reads.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { parseRunConfig } from '../../src/checkpoint/hyperparameters.js';
import type { RunFile } from '../../src/checkpoint/run_config.js';
import { splitTrainVal } from '../../src/data/split.js';
import { TsgptError } from '../../src/errors.js';
import { loadRun } from '../../src/node/run_folder.js';
import { readResumable } from '../../src/node/run_resume.js';
import { type RunPlan, TrainingRun, type TrainingRunOptions } from '../../src/node/training_run.js';
import { CharTokenizer } from '../../src/tokenizers/char.js';
import { modelConfigFor, PRESETS, type RunConfig } from '../../src/train/config.js';
import type { Trainer } from '../../src/train/trainer.js';
import { makeCorpus } from '../helpers/corpus.js';
import { hooksFor } from '../helpers/faults.js';

const dir = mkdtempSync(join(tmpdir(), 'tsgpt-run-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const text = makeCorpus(8000, 4);
const tokenizer = CharTokenizer.fromText(text);
const { train, val } = splitTrainVal(tokenizer.encode(text));
const CONFIG: RunConfig = {
  ...PRESETS.baby,
  nLayer: 1,
  nHead: 2,
  nEmbd: 8,
  blockSize: 8,
  batchSize: 2,
  maxIters: 12,
  evalInterval: 4,
  evalIters: 1,
  warmupIters: 2,
  lrDecayIters: 12,
};

function plan(name: string, config: RunConfig = CONFIG): RunPlan {
  return {
    dir: join(dir, name),
    config,
    model: modelConfigFor(config, tokenizer.vocabSize),
    tokenizer,
    data: { source: 'in memory', sha256: createHash('sha256').update(text).digest('hex'), characters: text.length },
    trainTokens: train,
    valTokens: val,
    preset: 'baby',
    resume: null,
  };
}

function runIn(p: RunPlan, options: TrainingRunOptions = {}): TrainingRun {
  return new TrainingRun(p, { listenForSignals: false, ...options });
}

function config(run: string): RunFile {
  return JSON.parse(readFileSync(join(run, 'config.json'), 'utf8')) as RunFile;
}

test('requestStop stops after the step, saves it, and says which signal', async () => {
  const p = plan('stopped');
  const steps: number[] = [];
  const run: TrainingRun = runIn(p, {
    events: {
      step: (r) => {
        steps.push(r.step);
        if (r.step === 5) run.requestStop('SIGTERM');
      },
    },
  });
  const outcome = await run.run();
  assert.equal(outcome.stoppedBy, 'SIGTERM');
  assert.equal(outcome.step, 5);
  assert.deepEqual(steps, [1, 2, 3, 4, 5]);
  assert.equal(readResumable(p.dir).state.step, 5);
  const log = readFileSync(join(p.dir, 'log.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.deepEqual(log.at(-1), { type: 'stop', step: 5, signal: 'SIGTERM' });
  assert.deepEqual(readdirSync(p.dir).sort(), ['config.json', 'log.jsonl', 'loss.svg', 'model.safetensors', 'resume']);
});

test('saves at every evaluation, and between them once saveEveryMs has passed; the best record is the Trainer’s', async () => {
  const snapshots: string[] = [];
  const p = plan('cadence');
  const bests: number[] = [];
  const outcome = await runIn(p, {
    saveEveryMs: -1, // always overdue: a snapshot after every step
    hooks: { beforeWrite: (what) => void (what === 'snapshot' && snapshots.push(what)) },
    events: { eval: (e) => void (e.best && bests.push(e.step)) },
  }).run();
  // Evaluations at 0, 4, 8 and 12, and a snapshot after each of the 12 steps.
  assert.equal(snapshots.length, 4 + 12);
  const training = config(p.dir).training;
  assert.equal(training.valLoss, outcome.bestValLoss);
  assert.equal(training.step, bests.at(-1));
  assert.equal(training.resume!.step, 12);
  const loaded = loadRun(p.dir);
  assert.equal(loaded.file.training.bestValLoss, outcome.bestValLoss);
  loaded.model.dispose();
});

test('a full disk at the best weights (injected) leaves a folder that loads and resumes from the save before', async () => {
  const p = plan('full-best');
  // The first save (step 0) writes the best weights once; the second new best is where the disk fills.
  const run = runIn(p, { hooks: hooksFor({ failWrite: { what: 'best weights', nth: 2 } }) });
  await assert.rejects(run.run(), (e: unknown) => {
    assert.ok(e instanceof TsgptError);
    assert.match(
      e.message,
      /^cannot write model\.safetensors in run folder .*full-best: no space left on the device; its last complete checkpoint \(step 0\) is intact$/,
    );
    return true;
  });
  loadRun(p.dir).model.dispose();
  assert.equal(readResumable(p.dir).state.step, 0);
});

test('a state with an infinity is not saved: the last good snapshot stays and the error names the tensor', async () => {
  const p = plan('diverged');
  let trainer: Trainer | null = null;
  const run = runIn(p, {
    events: {
      ready: (t) => void (trainer = t),
      // After step 6, between evaluations, a second moment overflows: the update divides by its square root,
      // so the weights and the loss stay finite and no check in the step sees it; the save must.
      step: (r) => void (r.step === 6 && (trainer!.optimizer.states[0]!.v.data[3] = Infinity)),
    },
  });
  await assert.rejects(run.run(), (e: unknown) => {
    assert.ok(e instanceof TsgptError);
    assert.match(
      e.message,
      /^step 8: AdamW's v\.transformer\.wte\.weight holds Infinity at index 3: the weights have diverged, so this state is not saved; .*; the last good checkpoint \(step 4\) stays in /,
    );
    return true;
  });
  assert.equal(readResumable(p.dir).state.step, 4);
  assert.equal(readdirSync(join(p.dir, 'resume')).length, 1);
  const log = readFileSync(join(p.dir, 'log.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.deepEqual(log.at(-1), { ...log.at(-1), type: 'error', step: 8, tensor: "AdamW's v.transformer.wte.weight" });
});

test('a run section written before `model` was renamed `kind` still reads', () => {
  const { kind, ...rest } = CONFIG;
  assert.deepEqual(parseRunConfig({ ...rest, model: kind }, 'config.json: run'), CONFIG);
  assert.throws(() => parseRunConfig({ ...rest, model: 'rnn' }, 'config.json: run'), /config\.json: run\.kind must be one of bigram, gpt/);
});
