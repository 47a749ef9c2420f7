/**
 * Resuming and stopping: a run stopped at step k and resumed reaches step n with the same weights, bit for bit,
 * as a run that never stopped (in-process with the Trainer API, and through the CLI with Ctrl-C); a second
 * Ctrl-C quits at once and leaves a loadable folder; resume refuses flags that would change the run; a NaN stops
 * training with the step and tensor named and keeps the last good checkpoint.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Rng } from '../../src/engine/random.js';
import { TsgptError } from '../../src/errors.js';
import { splitTrainVal } from '../../src/data/split.js';
import { createModel, type ModelConfig } from '../../src/models/index.js';
import { CharTokenizer } from '../../src/tokenizers/char.js';
import { modelConfigFor, PRESETS, type RunConfig } from '../../src/train/config.js';
import { NonFiniteError, Trainer, type EvalReport } from '../../src/train/trainer.js';
import { RUN_FORMAT, RUN_FORMAT_VERSION, type RunFile } from '../../src/checkpoint/run_config.js';
import { loadRun, saveCheckpoint } from '../../src/node/run_folder.js';
import { readResumable, restoreTrainer } from '../../src/node/run_resume.js';
import { decodeSafetensors } from '../../src/io/safetensors.js';
import { makeCorpus } from '../helpers/corpus.js';
import { type CliOptions, CliProcess, runCli, type CliResult } from '../helpers/cli_process.js';
import { tinyRunFlags } from '../helpers/tiny_run.js';

const dir = mkdtempSync(join(tmpdir(), 'tsgpt-resume-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const text = makeCorpus(12_000);
const tokenizer = CharTokenizer.fromText(text);
const { train, val } = splitTrainVal(tokenizer.encode(text));

// Dropout and gradient accumulation on, so every generator and counter a resume must restore is in play.
const CONFIG: RunConfig = {
  ...PRESETS.baby,
  nLayer: 2,
  nHead: 2,
  nEmbd: 16,
  blockSize: 12,
  batchSize: 4,
  dropout: 0.1,
  gradientAccumulationSteps: 2,
  maxIters: 24,
  evalInterval: 5,
  evalIters: 2,
  warmupIters: 4,
  lrDecayIters: 24,
  learningRate: 3e-3,
  minLr: 3e-4,
};

function newTrainer(config: RunConfig): Trainer {
  const rng = new Rng(config.seed);
  return new Trainer(createModel(modelConfigFor(config, tokenizer.vocabSize), rng), config, train, val, rng);
}

function runFile(config: RunConfig, model: ModelConfig, trainer: Trainer, e: EvalReport | null): RunFile {
  return {
    format: RUN_FORMAT,
    version: RUN_FORMAT_VERSION,
    model,
    tokenizer: tokenizer.toJSON(),
    run: config,
    data: 'in memory',
    training: { ...trainer.state(), trainLoss: e?.trainLoss ?? null, valLoss: e?.valLoss ?? null },
  };
}

function bits(trainer: Trainer): Buffer[] {
  const out: Buffer[] = [];
  for (const s of trainer.optimizer.states) {
    for (const t of [s.param, s.m, s.v]) out.push(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  }
  return out;
}

test('Trainer API: stopped at step k, saved, resumed in a fresh trainer: bit-for-bit the uninterrupted run', async () => {
  const reference = newTrainer(CONFIG);
  const referenceEvals: EvalReport[] = [];
  await reference.run({ onEval: (e) => void referenceEvals.push(e) });
  const want = bits(reference).map((b) => Buffer.from(b));
  reference.model.dispose();

  // 7 is between evaluations; 10 is one (its evaluation must not run twice); 0 is before any step.
  for (const k of [7, 10, 0]) {
    const out = join(dir, `api-${k}`);
    const first = newTrainer(CONFIG);
    const evals: EvalReport[] = [];
    await first.run({ onEval: (e) => void evals.push(e), shouldStop: () => first.step >= k });
    assert.equal(first.step, k);
    saveCheckpoint(out, {
      model: first.model,
      optimizer: first.optimizer,
      state: first.resumeState(),
      file: runFile(CONFIG, modelConfigFor(CONFIG, tokenizer.vocabSize), first, evals.at(-1) ?? null),
      newBest: true,
    });
    first.model.dispose();

    const second = newTrainer(CONFIG);
    const snapshot = readResumable(out);
    // The snapshot went through JSON and safetensors: resume only from what is on disk.
    restoreTrainer(second, snapshot);
    await second.run({ onEval: (e) => void evals.push(e) });
    assert.equal(second.step, CONFIG.maxIters);
    assert.deepEqual(evals, referenceEvals, `k=${k}: the evaluations differ`);
    const got = bits(second);
    for (let i = 0; i < want.length; i++) assert.ok(got[i]!.equals(want[i]!), `k=${k}: tensor ${i} differs`);
    assert.equal(second.optimizer.step, reference.optimizer.step);
    second.model.dispose();
  }
});

test('numerics: a NaN gradient or loss stops the step before the update, naming the step and the tensor', async () => {
  const trainer = newTrainer({ ...CONFIG, dropout: 0, maxIters: 10 });
  const target = trainer.model.namedParameters()[3]!;
  trainer.afterBackward = (step) => {
    if (step === 4) target[1].grad!.data[7] = NaN;
  };
  let before: Buffer[] = [];
  await assert.rejects(
    trainer.run({ onStep: (r) => void (r.step === 3 && (before = bits(trainer).map((b) => Buffer.from(b)))) }),
    (e: unknown) => {
      assert.ok(e instanceof NonFiniteError && e instanceof TsgptError);
      assert.equal(e.step, 4);
      assert.equal(e.tensor, target[0]);
      assert.match(e.message, new RegExp(`^step 4: the gradient of ${target[0].replace(/\./g, '\\.')} is NaN at index 7`));
      return true;
    },
  );
  assert.equal(trainer.step, 3, 'the failed step must not count');
  const now = bits(trainer);
  for (let i = 0; i < now.length; i++) assert.ok(now[i]!.equals(before[i]!), 'the weights or moments changed in the failed step');
  trainer.model.dispose();

  // A learning rate of 1e6 blows the weights up within a few steps: the loss itself becomes NaN.
  const wild = newTrainer({ ...CONFIG, learningRate: 1e6, decayLr: false, gradClip: 0, maxIters: 50, evalInterval: 1000 });
  await assert.rejects(
    wild.run(),
    (e: unknown) => e instanceof NonFiniteError && /^step \d+: the loss is (NaN|-?Infinity)/.test(e.message),
  );
  wild.model.dispose();
});

// ---------------------------------------------------------------------------------------------------------
// Through the command line.

const corpusPath = join(dir, 'corpus.txt');
writeFileSync(corpusPath, makeCorpus(30_000, 3));
const TINY = tinyRunFlags(corpusPath, 300);

function cli(args: string[], options: CliOptions = {}): CliResult {
  return runCli(dir, args, options);
}

function assertOneLineError(r: CliResult, pattern: RegExp): void {
  assert.notEqual(r.code, 0);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `expected one line, got:\n${r.stderr}`);
  assert.match(lines[0]!, /^tsgpt: error: /);
  assert.match(lines[0]!, pattern);
}

function latestWeights(run: string): Buffer {
  const file = JSON.parse(readFileSync(join(run, 'config.json'), 'utf8')) as RunFile;
  return readFileSync(join(run, file.training.resume!.folder, 'model.safetensors'));
}

function logEntries(run: string): Record<string, unknown>[] {
  return readFileSync(join(run, 'log.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

test('CLI: Ctrl-C saves and exits with a resume hint; --resume finishes bit-for-bit equal to an uninterrupted run', async () => {
  const whole = join(dir, 'whole'),
    cut = join(dir, 'cut');
  const args = [...TINY, '--max-iters', '300', '--eval-interval', '50'];
  assert.equal(cli(['train', ...args, '--out', whole]).code, 0);

  const p = new CliProcess(dir, ['train', ...args, '--out', cut]);
  await p.waitFor(/step 0: .*best: saved/);
  p.child.kill('SIGINT');
  const stopped = await p.done;
  assert.equal(stopped.code, 130, stopped.stderr);
  const m = /stopped by SIGINT at step (\d+) of 300; checkpoint saved in (.*)\ncontinue with: tsgpt train --resume (.*)\n/.exec(
    stopped.stderr,
  );
  assert.ok(m, stopped.stderr);
  const k = Number(m[1]);
  assert.ok(k > 0 && k < 300, `stopped at ${k}: the signal came too late to test anything`);
  assert.equal(m[3], cut);
  assert.equal(JSON.parse(readFileSync(join(cut, 'config.json'), 'utf8')).training.resume.step, k);
  const sampled = cli(['sample', '--from', cut, '--tokens', '5']);
  assert.equal(sampled.code, 0, `a stopped run must sample: ${sampled.stderr}`);

  const resumed = cli(['train', '--resume', cut]);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(resumed.stderr, new RegExp(`resuming ${cut} at step ${k} of 300`));
  assert.ok(latestWeights(cut).equals(latestWeights(whole)), 'the final weights differ from the uninterrupted run');
  assert.ok(readFileSync(join(cut, 'model.safetensors')).equals(readFileSync(join(whole, 'model.safetensors'))), 'the best weights differ');
  // The log reads like the uninterrupted one: every step once, the same evaluations.
  const steps = logEntries(cut)
    .filter((e) => e.type === 'step')
    .map((e) => e.step);
  assert.deepEqual(
    steps,
    Array.from({ length: 300 }, (_, i) => i + 1),
  );
  const evals = (run: string) =>
    logEntries(run)
      .filter((e) => e.type === 'eval')
      .map((e) => [e.step, e.val_loss]);
  assert.deepEqual(evals(cut), evals(whole));

  // Extending a finished run continues it; only a larger --max-iters makes sense.
  const longer = cli(['train', '--resume', cut, '--max-iters', '320', '--eval-interval', '10']);
  assert.equal(longer.code, 0, longer.stderr);
  assert.equal(JSON.parse(readFileSync(join(cut, 'config.json'), 'utf8')).training.resume.step, 320);
  assert.equal(decodeSafetensors(latestWeights(cut)).metadata.step, '320');
});

test('CLI: a second Ctrl-C during the save quits at once and leaves a folder that loads and resumes', async () => {
  const out = join(dir, 'twice');
  // Each stage of a save blocks 150 ms, so the second signal lands inside the save the first one asked for.
  const p = new CliProcess(dir, ['train', ...TINY, '--max-iters', '400', '--eval-interval', '100', '--out', out], {
    faults: { savePauseMs: 150 },
  });
  await p.waitFor(/step 0: .*best: saved/);
  p.child.kill('SIGINT');
  await p.waitFor(/stopping after this step/);
  await new Promise((r) => setTimeout(r, 200));
  p.child.kill('SIGINT');
  const r = await p.done;
  assert.equal(r.signal, 'SIGINT', `expected death by the second signal, got code ${r.code}:\n${r.stderr}`);
  const loaded = loadRun(out);
  loaded.model.dispose();
  const step = readResumable(out).state.step;
  assert.ok(step >= 0);
  const resumed = cli(['train', '--resume', out]);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(resumed.stderr, /done: 400 steps/);
  assert.deepEqual(readdirSync(join(out, 'resume')).length, 1, 'old snapshots or temporary folders were left behind');
  assert.ok(!readdirSync(out).some((n) => n.includes('.tmp-')), `temporary files left: ${readdirSync(out)}`);
});

test('CLI: --resume refuses flags that would change the run, a finished run, a different corpus, and non-runs', () => {
  const out = join(dir, 'short');
  assert.equal(cli(['train', ...TINY, '--max-iters', '20', '--eval-interval', '10', '--out', out]).code, 0);
  const other = join(dir, 'other.txt');
  writeFileSync(other, makeCorpus(30_000, 4));
  const cases: [string[], RegExp][] = [
    [
      ['--learning-rate', '0.01', '--max-iters', '40'],
      /--learning-rate 0\.01 differs from the run's 0\.001; a resumed run keeps its settings \(only --max-iters, --eval-interval, --eval-iters and --data may change\)/,
    ],
    [['--n-embd', '32', '--max-iters', '40'], /--n-embd 32 differs from the run's 16;/],
    [['--seed', '7', '--max-iters', '40'], /--seed 7 differs from the run's 1337;/],
    [['--model', 'bigram', '--max-iters', '40'], /--model bigram differs from the run's gpt;/],
    [['--preset', 'baby', '--max-iters', '40'], /--preset baby sets --n-layer 4, which differs from the run's 1;/],
    [['--preset', 'bigram', ...TINY, '--max-iters', '40'], /--preset bigram sets --model bigram, which differs from the run's gpt;/],
    [['--out', join(dir, 'x')], /--out .*x differs from --resume .*short: a resumed run continues in its own folder/],
    [[], /is complete \(step 20 of 20\); pass a larger --max-iters/],
    [['--max-iters', '20'], /--max-iters 20 is not beyond step 20/],
    [['--max-iters', '40', '--data', other], /is not the text the run in .* trained on/],
    [['--max-iters', '40', '--data', join(dir, 'nope.txt')], /data file not found/],
  ];
  for (const [extra, pattern] of cases) assertOneLineError(cli(['train', '--resume', out, ...extra]), pattern);
  // Giving a flag its recorded value is not a change; nor is the command that made the run, given again with
  // --resume (and a longer --max-iters), nor a preset whose values the flags bring back to the run's.
  assert.equal(cli(['train', '--resume', out, '--max-iters', '25', '--learning-rate', '0.001', '--n-embd', '16']).code, 0);
  const again = cli(['train', ...TINY, '--max-iters', '30', '--eval-interval', '10', '--out', out, '--resume', out]);
  assert.equal(again.code, 0, again.stderr);
  const withPreset = cli(['train', '--preset', 'baby', ...TINY, '--max-iters', '35', '--out', `${out}/`, '--resume', out]);
  assert.equal(withPreset.code, 0, withPreset.stderr);
  assert.equal(readResumable(out).state.step, 35);

  assertOneLineError(cli(['train', '--resume', join(dir, 'nothing-here')]), /no run folder at/);
  assertOneLineError(cli(['train', '--resume', corpusPath]), /no run folder at/);
  const cfgPath = join(out, 'config.json');
  const cfg = JSON.parse(readFileSync(cfgPath, 'utf8'));
  delete cfg.training.resume;
  writeFileSync(cfgPath, JSON.stringify(cfg));
  assertOneLineError(cli(['train', '--resume', out, '--max-iters', '40']), /has no resume state/);
});

test('CLI: a new run refuses to overwrite an unfinished one or a folder that is not a run', async () => {
  const out = join(dir, 'unfinished');
  const p = new CliProcess(dir, ['train', ...TINY, '--max-iters', '100000', '--eval-interval', '50', '--out', out]);
  await p.waitFor(/step 0: .*best: saved/);
  // One trainer per folder: a second one is turned away while the first runs.
  assertOneLineError(cli(['train', '--resume', out]), new RegExp(`another tsgpt \\(process ${p.child.pid}\\) is training in `));
  p.child.kill('SIGTERM');
  const r = await p.done;
  assert.equal(r.code, 143, r.stderr);
  assert.match(r.stderr, /stopped by SIGTERM at step \d+ of 100000/);
  const before = readFileSync(join(out, 'config.json'));
  assertOneLineError(
    cli(['train', ...TINY, '--out', out]),
    /holds an unfinished run \(step \d+ of 100000\): continue it with 'tsgpt train --resume/,
  );
  assert.ok(readFileSync(join(out, 'config.json')).equals(before));
  assertOneLineError(cli(['train', ...TINY, '--out', corpusPath]), /is a file, not a folder/);
  assertOneLineError(cli(['train', ...TINY, '--out', dir]), /is a folder of other files .*, not a tsgpt run/);
});

test('CLI: a NaN gradient stops training naming the step and the parameter, and keeps the last good checkpoint', () => {
  const out = join(dir, 'nan');
  const param = 'transformer.h.0.mlp.c_fc.weight';
  const r = cli(['train', ...TINY, '--max-iters', '60', '--eval-interval', '10', '--out', out], {
    faults: { nanGradient: { step: 25, parameter: param } },
  });
  assert.equal(r.code, 1);
  const lines = r.stderr.trim().split('\n');
  assert.match(
    lines.at(-1)!,
    new RegExp(
      `^tsgpt: error: step 25: the gradient of ${param.replace(/\./g, '\\.')} is NaN at index 0; .*the last good checkpoint \\(step 20\\) stays in `,
    ),
  );
  assert.doesNotMatch(r.stderr, /\n\s+at /);
  assert.equal(readResumable(out).state.step, 20);
  const sample = cli(['sample', '--from', out, '--tokens', '5']);
  assert.equal(sample.code, 0, sample.stderr);
  const log = logEntries(out);
  assert.deepEqual(log.at(-1), { ...log.at(-1), type: 'error', step: 25, tensor: param });
});
