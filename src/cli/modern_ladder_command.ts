/**
 * tsgpt ladder --modern: from nanoGPT's `baby` run to today's recipe, one idea per stage (train/modern_ladder.ts),
 * each stage trained for a wall-clock budget over several seeds; prints the loss each stage reaches in the
 * budget and how fast it reaches the target, beside the gain the speedrun record claimed, and plots the curves.
 */
import { join } from 'node:path';
import { splitTrainVal } from '../data/split.js';
import { Rng } from '../engine/random.js';
import { TsgptError } from '../errors.js';
import { HYPERPARAMETERS, type RunKey } from '../checkpoint/hyperparameters.js';
import { trainWithinBudget, type BudgetResult } from '../measure/budget_training.js';
import { meanCurve, summariseSeeds, targetSpeedup, type Spread, type StageSummary } from '../measure/seed_summary.js';
import { validateGPTConfig, type GPTConfig } from '../models/gpt.js';
import { createModel } from '../models/index.js';
import { writeTextFile } from '../node/atomic_write.js';
import { loadCorpus } from '../node/corpus.js';
import { makeFolder } from '../node/make_folder.js';
import { CharTokenizer } from '../tokenizers/char.js';
import { modelConfigFor, type RunConfig } from '../train/config.js';
import { MODERN_LADDER, modernStageRuns, type ModernStage } from '../train/modern_ladder.js';
import { Trainer } from '../train/trainer.js';
import { ladderCurveSvg } from '../viz/ladder_curve.js';
import { formatFlagHelp, parseFlags, type FlagSpec, type FlagValue } from './flags.js';
import { formatDuration } from './progress.js';

/** The model's shape may be overridden for every stage at once (a smaller model for a quick look). */
const SHAPE_KEYS: readonly RunKey[] = ['nLayer', 'nHead', 'nEmbd', 'blockSize', 'batchSize'];

/** Seeds are this far apart: a run seeds its data and evaluation generators with seed + 1 and seed + 2. */
const SEED_STRIDE = 1000;

export const MODERN_LADDER_FLAGS: FlagSpec[] = [
  { name: 'modern', type: 'bool', help: 'the modern ladder (this help); without it, the lecture ladder' },
  { name: 'data', type: 'string', metavar: 'PATH', help: 'UTF-8 text file to train on', defaultText: '$TSGPT_DATA, else Tiny Shakespeare' },
  {
    name: 'budget',
    type: 'float',
    min: 0.01,
    max: 1e6,
    metavar: 'SECONDS',
    help: "each run's training time (evaluations excluded)",
    defaultText: '60',
  },
  { name: 'seeds', type: 'int', min: 1, max: 100, help: 'runs per stage, seeds SEED, SEED+1000, ...', defaultText: '3' },
  { name: 'seed', type: 'int', min: 0, max: 4294967295 - 100 * SEED_STRIDE, help: 'the first seed', defaultText: '1337' },
  { name: 'target', type: 'float', min: 0, max: 100, help: 'the validation loss to time', defaultText: '1.88' },
  { name: 'eval-every', type: 'int', min: 1, max: 1e9, metavar: 'STEPS', help: 'evaluate every this many steps', defaultText: '50' },
  { name: 'eval-iters', type: 'int', min: 1, max: 1e6, help: 'batches per split in each evaluation', defaultText: "20 (baby's)" },
  {
    name: 'max-iters',
    type: 'int',
    min: 1,
    max: 1e9,
    help: 'stop a run at this many steps even within the budget; the learning rate decays over them',
    defaultText: "baby's 2000",
  },
  {
    name: 'stages',
    type: 'string',
    metavar: 'A,B',
    help: `run only these stages, each with every change up to it (${MODERN_LADDER.map((s) => s.name).join(', ')})`,
    defaultText: 'all',
  },
  ...SHAPE_KEYS.map((key) => {
    const { flag, type, min, max, help } = HYPERPARAMETERS.find((h) => h.key === key)!;
    return { name: flag, type, min, max, help: `${help}, in every stage`, defaultText: "baby's" };
  }),
  {
    name: 'out',
    type: 'string',
    metavar: 'DIR',
    help: 'folder for the plot (ladder.svg) and the results (ladder.jsonl)',
    defaultText: 'runs/ladder-modern',
  },
  {
    name: 'json',
    type: 'bool',
    help: 'print one JSON object a line (each run, then its stage) instead of the table',
    defaultText: 'false',
  },
  { name: 'help', type: 'bool', help: 'show this help' },
];

export const MODERN_LADDER_HELP = `Usage: tsgpt ladder --modern [options]

Starts from the baby preset (nanoGPT's CPU run) and adds one idea per stage, keeping the ones before:
${MODERN_LADDER.map((s) => `  ${s.name.padEnd(22)} ${s.adds}`).join('\n')}
Each stage trains with each seed for --budget seconds, evaluating every --eval-every steps. Only the
optimizer steps count as training time: evaluations are timed apart and count neither in the budget nor in
the time to the target, so evaluating more often never makes a stage look slower. Printed per stage (mean and
standard deviation over the seeds): the validation loss at the budget, its change from the stage before,
steps and training seconds to the first evaluation at or below --target, the speed-up over the stage
before (its time to the target over this one's, when every seed of both reached it) beside the speed-up the
speedrun record claimed for the idea, and tokens per second. For a seed, the losses at each step are the same
from run to run and on any thread count; only the seconds (and so where the budget cuts) vary.
Writes DIR/ladder.svg (validation loss against training seconds) and DIR/ladder.jsonl after each stage.

Options:
${formatFlagHelp(MODERN_LADDER_FLAGS)}`;

interface StageOutcome {
  stage: ModernStage;
  params: number;
  runs: { seed: number; result: BudgetResult }[];
  summary: StageSummary;
}

export async function modernLadderCommand(args: readonly string[]): Promise<void> {
  const flags = parseFlags(args, MODERN_LADDER_FLAGS, 'ladder --modern');
  const stages = chooseStages(flags.get('stages') as string | undefined);
  const json = flags.get('json') === true;
  const budgetSeconds = (flags.get('budget') as number | undefined) ?? 60;
  const seedCount = (flags.get('seeds') as number | undefined) ?? 3;
  const firstSeed = (flags.get('seed') as number | undefined) ?? 1337;
  const target = (flags.get('target') as number | undefined) ?? 1.88;
  const evalEvery = (flags.get('eval-every') as number | undefined) ?? 50;
  const out = (flags.get('out') as string | undefined) ?? 'runs/ladder-modern';
  const err = (line: string) => process.stderr.write(`${line}\n`);

  const corpus = await loadCorpus({ path: flags.get('data') as string | undefined, log: err });
  const tokenizer = CharTokenizer.fromText(corpus.text);
  const { train, val } = splitTrainVal(tokenizer.encode(corpus.text));
  const runs = stageRunConfigs(stages, flags);
  for (const [i, run] of runs.entries()) {
    try {
      validateGPTConfig(modelConfigFor(run, tokenizer.vocabSize) as GPTConfig);
    } catch (e) {
      throw new TsgptError(`stage ${stages[i]!.name}: ${(e as Error).message}`);
    }
    if (val.length <= run.blockSize || train.length <= run.blockSize) {
      throw new TsgptError(`${corpus.source} is too short for a context of ${run.blockSize}`);
    }
  }
  // Before hours of training, not after: a folder that cannot be made is one line now.
  makeFolder(out, `output folder ${out}`);

  const outcomes: StageOutcome[] = [];
  const lines: string[] = [];
  if (!json) process.stdout.write(`${tableHeader(target)}\n`);
  const started = performance.now();
  for (const [i, stage] of stages.entries()) {
    const run = runs[i]!;
    const outcome: StageOutcome = { stage, params: 0, runs: [], summary: summariseSeeds([]) };
    for (let k = 0; k < seedCount; k++) {
      const seed = firstSeed + k * SEED_STRIDE;
      err(`stage ${i + 1}/${stages.length} ${stage.name}, seed ${seed}: training for ${budgetSeconds} s (at most ${run.maxIters} steps)`);
      const rng = new Rng(seed);
      const model = createModel(modelConfigFor(run, tokenizer.vocabSize), rng);
      const trainer = new Trainer(model, { ...run, seed }, train, val, rng);
      try {
        outcome.params = model.numParameters();
        const result = await trainWithinBudget(trainer, {
          budgetSeconds,
          evalEvery,
          target,
          onEval: (e) => err(`  step ${e.step}: val loss ${e.valLoss.toFixed(4)} after ${e.seconds.toFixed(1)} s of training`),
        });
        outcome.runs.push({ seed, result });
        const reached = result.reached === null ? 'not reached' : `at step ${result.reached.step}, ${result.reached.seconds.toFixed(1)} s`;
        err(
          `  ${result.steps} steps in ${result.trainSeconds.toFixed(1)} s (+${result.evalSeconds.toFixed(1)} s evaluating), ` +
            `${Math.round(result.tokensPerSecond).toLocaleString('en-US')} tok/s; val loss ${result.final.valLoss.toFixed(4)}; ${target} ${reached}`,
        );
        const line = JSON.stringify(runLine(stage, seed, target, result));
        lines.push(line);
        if (json) process.stdout.write(`${line}\n`);
      } finally {
        model.dispose();
        trainer.optimizer.dispose();
      }
    }
    outcome.summary = summariseSeeds(outcome.runs.map((r) => r.result));
    const before = outcomes.at(-1);
    outcomes.push(outcome);
    const line = JSON.stringify(stageLine(outcome, before));
    lines.push(line);
    process.stdout.write(`${json ? line : tableRow(outcome, before)}\n`);
    // Rewritten after every stage: a ladder of an hour killed half-way keeps what it measured.
    writeTextFile(join(out, 'ladder.jsonl'), `${lines.join('\n')}\n`);
    writeTextFile(join(out, 'ladder.svg'), plot(outcomes, target));
  }
  err(`ladder --modern done in ${formatDuration((performance.now() - started) / 1000)}; wrote ${join(out, 'ladder.svg')} and ladder.jsonl`);
}

function chooseStages(only: string | undefined): ModernStage[] {
  if (only === undefined) return [...MODERN_LADDER];
  const names = only.split(',').map((n) => n.trim());
  for (const name of names) {
    if (!MODERN_LADDER.some((s) => s.name === name))
      throw new TsgptError(`unknown stage "${name}"; stages are ${MODERN_LADDER.map((s) => s.name).join(', ')}`);
  }
  // Stages keep the ladder's order, whatever the order asked.
  return MODERN_LADDER.filter((s) => names.includes(s.name));
}

/** Each chosen stage's run: its changes and all before it (chosen or not), then the flags' overrides. */
function stageRunConfigs(stages: readonly ModernStage[], flags: Map<string, FlagValue>): RunConfig[] {
  const all = modernStageRuns();
  const maxIters = flags.get('max-iters') as number | undefined;
  const evalIters = flags.get('eval-iters') as number | undefined;
  const shape: Partial<RunConfig> = {};
  for (const key of SHAPE_KEYS) {
    const spec = HYPERPARAMETERS.find((h) => h.key === key)!;
    const v = flags.get(spec.flag);
    if (v !== undefined) Object.assign(shape, { [key]: v });
  }
  return stages.map((stage) => {
    const run = { ...all[MODERN_LADDER.indexOf(stage)]!, ...shape };
    if (evalIters !== undefined) run.evalIters = evalIters;
    if (maxIters !== undefined) {
      run.maxIters = maxIters;
      run.lrDecayIters = maxIters;
    }
    return run;
  });
}

function runLine(stage: ModernStage, seed: number, target: number, r: BudgetResult): Record<string, unknown> {
  return {
    type: 'run',
    stage: stage.name,
    seed,
    steps: r.steps,
    stopped_by: r.stoppedBy,
    train_seconds: r.trainSeconds,
    eval_seconds: r.evalSeconds,
    val_loss: r.final.valLoss,
    train_loss: r.final.trainLoss,
    target,
    target_step: r.reached?.step ?? null,
    target_seconds: r.reached?.seconds ?? null,
    tokens_per_second: r.tokensPerSecond,
    evals: r.evals.map((e) => ({ step: e.step, seconds: e.seconds, train_loss: e.trainLoss, val_loss: e.valLoss })),
  };
}

function stageLine(o: StageOutcome, before: StageOutcome | undefined): Record<string, unknown> {
  const s = o.summary;
  const pair = (name: string, v: Spread) => ({ [`${name}_mean`]: v.mean, [`${name}_sd`]: v.sd });
  return {
    type: 'stage',
    stage: o.stage.name,
    adds: o.stage.adds,
    params: o.params,
    seeds: s.seeds,
    ...pair('val_loss', s.valLoss),
    val_loss_change: before === undefined ? null : s.valLoss.mean - before.summary.valLoss.mean,
    ...pair('steps', s.steps),
    ...pair('train_seconds', s.trainSeconds),
    target_reached_seeds: s.reachedSeeds,
    ...pair('target_steps', s.targetSteps),
    ...pair('target_seconds', s.targetSeconds),
    speedup: before === undefined ? null : targetSpeedup(before.summary, s),
    speedrun_gain: o.stage.speedrunGain,
    ...pair('tokens_per_second', s.tokensPerSecond),
  };
}

function plot(outcomes: readonly StageOutcome[], target: number): string {
  return ladderCurveSvg(
    outcomes.map((o) => ({
      name: o.stage.name,
      seeds: o.runs.map((r) => r.result.evals),
      mean: meanCurve(o.runs.map((r) => r.result)),
      finalValLoss: o.summary.valLoss.mean,
    })),
    { target, title: 'tsgpt ladder --modern: validation loss against training seconds' },
  );
}

const COLUMNS: [string, number][] = [
  ['stage', 22],
  ['params', 9],
  ['val at budget', 16],
  ['change', 8],
  ['steps', 7],
  ['steps to target', 17],
  ['s to target', 14],
  ['speed-up', 9],
  ['speedrun', 9],
  ['tok/s', 8],
];

function tableHeader(target: number): string {
  return COLUMNS.map(([name, w], i) => (i === 0 ? name.padEnd(w) : name.replace('target', String(target)).padStart(w))).join(' ');
}

function tableRow(o: StageOutcome, before: StageOutcome | undefined): string {
  const s = o.summary;
  const pm = (v: Spread, digits: number) => `${v.mean.toFixed(digits)} ±${v.sd.toFixed(digits)}`;
  const count = (n: number) => Math.round(n).toLocaleString('en-US');
  const reached = s.reachedSeeds === 0 ? 'not reached' : `${count(s.targetSteps.mean)} (${s.reachedSeeds}/${s.seeds})`;
  const speedup = before === undefined ? null : targetSpeedup(before.summary, s);
  const cells = [
    o.stage.name,
    count(o.params),
    pm(s.valLoss, 4),
    before === undefined ? '-' : signed(s.valLoss.mean - before.summary.valLoss.mean),
    count(s.steps.mean),
    reached,
    s.reachedSeeds === 0 ? '-' : pm(s.targetSeconds, 1),
    speedup === null ? '-' : `${speedup.toFixed(2)}x`,
    o.stage.speedrunGain === null ? '-' : `${o.stage.speedrunGain.toFixed(2)}x`,
    count(s.tokensPerSecond.mean),
  ];
  return cells.map((c, i) => (i === 0 ? c.padEnd(COLUMNS[i]![1]) : c.padStart(COLUMNS[i]![1]))).join(' ');
}

function signed(v: number): string {
  return `${v < 0 ? '-' : '+'}${Math.abs(v).toFixed(4)}`;
}
