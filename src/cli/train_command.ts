/**
 * tsgpt train: preset + flags -> corpus -> tokenizer -> model -> Trainer, with a progress bar, a JSON-lines
 * log of every step and evaluation, the best checkpoint (by validation loss) in the run folder, and a
 * resumable snapshot at every evaluation and when stopped (Ctrl-C, SIGTERM). `--resume DIR` continues a run
 * from its latest snapshot, bit for bit as if it had never stopped.
 *
 * Every input is checked before anything is written: a refused command leaves no run folder behind.
 */
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Rng } from '../engine/random.js';
import { TsgptError } from '../errors.js';
import { splitTrainVal } from '../data/split.js';
import { loadCorpus, type Corpus } from '../node/corpus.js';
import { createModel, headSplitProblem, reportedParameterCount, type ModelConfig } from '../models/index.js';
import { CharTokenizer } from '../tokenizers/char.js';
import { isPresetName, modelConfigFor, PRESETS, type PresetName, type RunConfig } from '../train/config.js';
import { NonFiniteError, Trainer } from '../train/trainer.js';
import { HYPERPARAMETERS, type RunKey } from '../checkpoint/hyperparameters.js';
import { lockRunFolder, refuseIfTraining } from '../node/run_lock.js';
import {
  ARENA_BYTES,
  MAX_PARAMETERS,
  parameterUpperBound,
  TRAINING_ESTIMATE_SLACK,
  trainingBytesEstimate,
} from '../checkpoint/model_size.js';
import { readResumable, restoreTrainer, type ResumableRun } from '../node/run_resume.js';
import { RUN_FORMAT, RUN_FORMAT_VERSION, type RunFile } from '../checkpoint/run_config.js';
import { checkFolderForNewRun, LOG_FILE, saveCheckpoint, type SaveHooks } from '../node/run_folder.js';
import { RunLog } from '../node/run_log.js';
import { describeFsError } from '../node/read_bounded.js';
import { formatFlagHelp, parseFlags, type FlagSpec, type FlagValue } from './flags.js';
import { lossCurveForTerminal, writeLossCurve } from './plot_command.js';
import { formatDuration, ProgressBar } from './progress.js';

/** A snapshot at least this often even when evaluations are far apart, so a kill costs at most this much. */
const SAVE_EVERY_MS = 10 * 60 * 1000;

function presetValues(key: RunKey): string {
  return (Object.keys(PRESETS) as PresetName[]).map((p) => `${p} ${String(PRESETS[p][key])}`).join(', ');
}

const RESUMABLE = HYPERPARAMETERS.filter((h) => h.resumable).map((h) => h.flag);

export const TRAIN_FLAGS: FlagSpec[] = [
  { name: 'preset', type: 'string', choices: Object.keys(PRESETS), help: 'starting configuration', defaultText: 'baby' },
  {
    name: 'data',
    type: 'string',
    metavar: 'PATH',
    help: 'UTF-8 text file to train on',
    defaultText: '$TSGPT_DATA, else Tiny Shakespeare (downloaded once, cached)',
  },
  { name: 'out', type: 'string', metavar: 'DIR', help: 'run folder for the checkpoint and logs', defaultText: 'runs/<preset>' },
  {
    name: 'resume',
    type: 'string',
    metavar: 'DIR',
    help: `continue the run in DIR from its latest snapshot (may change only ${RESUMABLE.map((f) => `--${f}`).join(', ')})`,
    defaultText: 'a new run',
  },
  ...HYPERPARAMETERS.map(({ key, flag, resumable: _, ...spec }) => ({ ...spec, name: flag, defaultText: presetValues(key) })),
  { name: 'help', type: 'bool', help: 'show this help' },
];

export const TRAIN_HELP = `Usage: tsgpt train [options]
       tsgpt train --resume DIR [--max-iters N] [--eval-interval N] [--eval-iters N]

Trains a model and keeps the checkpoint with the best validation loss in the run folder
(model.safetensors, config.json, log.jsonl), and the latest state in resume/ for --resume.
Ctrl-C (or SIGTERM) saves the current step and stops; a second Ctrl-C quits at once.
Every option overrides the preset's value.

Presets:
  bigram   the lecture's bigram model (B=32, T=8, lr 1e-2, 3000 steps)
  baby     nanoGPT's CPU run: 4 layers, 4 heads, width 128, T=64, B=12, 2000 steps
  lecture  the lecture's final gpt.py: 6 layers, 6 heads, width 384, T=256, B=64 (2 x 32), dropout 0.2, 5000 steps

Options:
${formatFlagHelp(TRAIN_FLAGS)}`;

/** Flags that only mean something for a GPT, and the schedule flags that only mean something with decay on. */
const GPT_ONLY_FLAGS = ['style', 'n-layer', 'n-head', 'n-embd', 'dropout', 'bias'];
const DECAY_ONLY_FLAGS = ['min-lr', 'warmup-iters', 'lr-decay-iters'];

/** The run config from a preset and the flags that override it, checked as a whole. */
export function resolveRunConfig(flags: Map<string, unknown>): { preset: PresetName; config: RunConfig } {
  const preset = (flags.get('preset') as string | undefined) ?? 'baby';
  if (!isPresetName(preset)) throw new TsgptError(`unknown preset "${preset}"`);
  const config: RunConfig = { ...PRESETS[preset] };
  const writable = config as unknown as Record<string, unknown>;
  for (const { key, flag } of HYPERPARAMETERS) {
    const v = flags.get(flag);
    if (v !== undefined) writable[key] = v;
  }
  // A flag that would be silently ignored is refused: the user meant something by it.
  if (config.kind === 'bigram') {
    const given = GPT_ONLY_FLAGS.find((f) => flags.has(f));
    if (given !== undefined)
      throw new TsgptError(`--${given} has no effect on the bigram model; use --model gpt (or --preset baby) for a transformer`);
  }
  if (!config.decayLr) {
    const given = DECAY_ONLY_FLAGS.find((f) => flags.has(f));
    if (given !== undefined) {
      throw new TsgptError(
        `--${given} has no effect with a constant learning rate (the ${preset} preset's); add --decay-lr for warm-up and cosine decay`,
      );
    }
  }
  // A GPT flag on the bigram preset means the user wants a GPT: say so instead of silently ignoring it.
  if (config.kind === 'gpt' && config.nLayer === 0) {
    throw new TsgptError('--model gpt needs --n-layer, --n-head and --n-embd (or start from --preset baby)');
  }
  checkRunConsistency(config);
  return { preset, config };
}

function checkRunConsistency(config: RunConfig): void {
  const split = config.kind === 'gpt' ? headSplitProblem(config, { nEmbd: '--n-embd', nHead: '--n-head' }) : null;
  if (split !== null) throw new TsgptError(split);
  if (config.decayLr && config.minLr > config.learningRate) {
    throw new TsgptError(`--min-lr (${config.minLr}) is above --learning-rate (${config.learningRate})`);
  }
  if (config.decayLr && config.lrDecayIters < config.warmupIters) {
    throw new TsgptError(`--lr-decay-iters (${config.lrDecayIters}) is shorter than --warmup-iters (${config.warmupIters})`);
  }
}

/** Everything a run needs before its first step, new or resumed. */
interface RunPlan {
  outDir: string;
  config: RunConfig;
  corpus: Corpus;
  corpusSha256: string;
  tokenizer: CharTokenizer;
  preset: PresetName | null;
  resumable: ResumableRun | null;
}

export async function trainCommand(args: readonly string[]): Promise<void> {
  const flags = parseFlags(args, TRAIN_FLAGS, 'train');
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const plan = flags.has('resume') ? await planResume(flags, log) : await planNewRun(flags, log);
  await train(plan, log);
}

async function planNewRun(flags: Map<string, FlagValue>, log: (line: string) => void): Promise<RunPlan> {
  const { preset, config } = resolveRunConfig(flags);
  const outDir = (flags.get('out') as string | undefined) ?? join('runs', preset);
  checkFolderForNewRun(outDir);
  const corpus = await loadCorpus({ path: flags.get('data') as string | undefined, log });
  const tokenizer = CharTokenizer.fromText(corpus.text);
  return { outDir, config, corpus, corpusSha256: sha256(corpus.text), tokenizer, preset, resumable: null };
}

async function planResume(flags: Map<string, FlagValue>, log: (line: string) => void): Promise<RunPlan> {
  const dir = flags.get('resume') as string;
  for (const name of ['preset', 'out']) {
    if (flags.has(name)) throw new TsgptError(`--${name} cannot be used with --resume: the run continues in ${dir} with its own settings`);
  }
  refuseIfTraining(dir);
  const resumable = readResumable(dir);
  const recorded = resumable.file.run;
  const config: RunConfig = { ...recorded };
  for (const { key, flag, resumable: changeable } of HYPERPARAMETERS) {
    const v = flags.get(flag);
    if (v === undefined) continue;
    if (changeable) (config as unknown as Record<string, unknown>)[key] = v;
    else if (v !== recorded[key]) {
      throw new TsgptError(
        `--${flag} cannot change when resuming (the run in ${dir} was trained with ${String(recorded[key])}); ` +
          `with --resume only ${RESUMABLE.map((f) => `--${f}`).join(', ')} and --data may be given`,
      );
    }
  }
  const step = resumable.state.step;
  if (config.maxIters <= step) {
    throw new TsgptError(
      flags.has('max-iters')
        ? `--max-iters ${config.maxIters} is not beyond step ${step}, where the run in ${dir} stands`
        : `the run in ${dir} is complete (step ${step} of ${config.maxIters}); pass a larger --max-iters to train it further`,
    );
  }
  const dataPath = (flags.get('data') as string | undefined) ?? resumable.file.data;
  const corpus = await loadCorpus({ path: dataPath, log });
  const corpusSha256 = sha256(corpus.text);
  const expected = resumable.file.dataSha256;
  if (expected !== undefined && expected !== corpusSha256) {
    throw new TsgptError(
      `${corpus.source} is not the text the run in ${dir} trained on (its SHA-256 differs); pass the original file with --data`,
    );
  }
  const tokenizer = CharTokenizer.fromText(corpus.text);
  if (tokenizer.chars.join('') !== resumable.tokenizer.chars.join('')) {
    throw new TsgptError(
      `${corpus.source} does not give the vocabulary the run in ${dir} was trained with; pass the original file with --data`,
    );
  }
  return { outDir: dir, config, corpus, corpusSha256, tokenizer: resumable.tokenizer, preset: null, resumable };
}

/** The train and validation splits, refused if either cannot hold one training window of blockSize + 1 tokens. */
function splitCorpus(plan: RunPlan): { train: Int32Array; val: Int32Array } {
  const { corpus, config, tokenizer } = plan;
  const tokens = tokenizer.encode(corpus.text);
  const { train, val } = splitTrainVal(tokens);
  if (val.length <= config.blockSize || train.length <= config.blockSize) {
    throw new TsgptError(
      `${corpus.source} is too short for --block-size ${config.blockSize}: its validation split has ${val.length} tokens ` +
        `(the last 10% of ${tokens.length}), and a batch needs windows of ${config.blockSize + 1}; use a longer text or a smaller --block-size`,
    );
  }
  return { train, val };
}

/**
 * Refuses models that cannot fit the tensor arena, before allocating any of it (the lecture's batch of 64
 * windows of 256 at once would need about 8 GB; its preset runs that batch as 2 micro-batches of 32).
 */
function checkModelFits(model: ModelConfig, config: RunConfig): void {
  const params = parameterUpperBound(model);
  const bytes = trainingBytesEstimate(model, config.batchSize);
  const gb = (n: number) => (n / 1024 ** 3).toFixed(n < 1024 ** 3 * 10 ? 1 : 0);
  if (params > MAX_PARAMETERS || bytes / TRAINING_ESTIMATE_SLACK > ARENA_BYTES) {
    throw new TsgptError(
      `this model and batch need more than ${gb(bytes / TRAINING_ESTIMATE_SLACK)} GB (${params.toExponential(2)} parameters), more than tsgpt's ` +
        `${gb(ARENA_BYTES)} GB tensor memory; lower --n-embd, --n-layer, --block-size or --batch-size`,
    );
  }
}

async function train(plan: RunPlan, log: (line: string) => void): Promise<void> {
  const { outDir, config, tokenizer, resumable } = plan;
  const { train: trainTokens, val: valTokens } = splitCorpus(plan);
  const modelConfig = resumable?.file.model ?? modelConfigFor(config, tokenizer.vocabSize);
  checkModelFits(modelConfig, config);

  // Validation is over: from here on the run folder is written.
  try {
    mkdirSync(outDir, { recursive: true });
  } catch (err) {
    throw new TsgptError(`cannot create run folder ${outDir}: ${describeFsError(err)}`);
  }
  const lock = lockRunFolder(outDir);
  let stoppedBy: NodeJS.Signals | null;
  try {
    stoppedBy = await trainLocked(plan, modelConfig, trainTokens, valTokens, log);
  } catch (err) {
    // A full disk or a folder made read-only mid-run: every write is atomic, so what is there stays good.
    if (!(err instanceof TsgptError) && typeof (err as NodeJS.ErrnoException).code === 'string' && (err as NodeJS.ErrnoException).syscall) {
      throw new TsgptError(`cannot write to run folder ${outDir}: ${describeFsError(err)}; its last complete checkpoint is intact`);
    }
    // checkModelFits leans high, but activations are estimated: the arena can still run out.
    if (err instanceof RangeError && /arena out of memory/.test(err.message)) {
      throw new TsgptError(`out of tensor memory (${err.message}); lower --batch-size, --block-size or the model size`);
    }
    throw err;
  } finally {
    lock.release();
  }
  // 128 + the signal number, as a shell reports a process the signal ended: scripts see it did not finish.
  if (stoppedBy !== null) process.exit(stoppedBy === 'SIGINT' ? 130 : 143);
}

/** Trains with the folder locked; returns the signal that stopped the run early, if one did. */
async function trainLocked(
  plan: RunPlan,
  modelConfig: ModelConfig,
  trainTokens: Int32Array,
  valTokens: Int32Array,
  log: (line: string) => void,
): Promise<NodeJS.Signals | null> {
  const { outDir, config, corpus, tokenizer, resumable } = plan;
  const rng = new Rng(config.seed);
  const model = createModel(modelConfig, rng);
  const trainer = new Trainer(model, config, trainTokens, valTokens, rng);
  if (resumable !== null) restoreTrainer(trainer, resumable);
  installFaults(trainer);

  const logPath = join(outDir, LOG_FILE);
  const runLog = resumable === null ? RunLog.fresh(logPath) : RunLog.resumed(logPath, trainer.step);
  log(`data: ${corpus.source} (${corpus.text.length.toLocaleString('en-US')} characters, vocabulary ${tokenizer.vocabSize})`);
  log(`train ${trainTokens.length.toLocaleString('en-US')} tokens, val ${valTokens.length.toLocaleString('en-US')} tokens`);
  const params = reportedParameterCount(model);
  // nanoGPT's line; small models also get the exact count, which "0.00M" would hide.
  log(`number of parameters: ${(params / 1e6).toFixed(2)}M${params < 1e5 ? ` (${params.toLocaleString('en-US')})` : ''}`);
  const tokensPerStep = config.batchSize * config.blockSize * config.gradientAccumulationSteps;
  if (resumable === null) {
    log(`preset ${plan.preset}: ${config.maxIters} steps of ${tokensPerStep.toLocaleString('en-US')} tokens, run folder ${outDir}`);
    runLog.append({ type: 'start', time: new Date().toISOString(), preset: plan.preset, config, model: modelConfig, data: corpus.source });
  } else {
    log(`resuming ${outDir} at step ${trainer.step} of ${config.maxIters} (${tokensPerStep.toLocaleString('en-US')} tokens a step)`);
    runLog.append({ type: 'resume', time: new Date().toISOString(), step: trainer.step, config });
  }

  const staticFile = {
    format: RUN_FORMAT,
    version: RUN_FORMAT_VERSION,
    model: modelConfig,
    tokenizer: tokenizer.toJSON() as RunFile['tokenizer'],
    run: config,
    data: corpus.source,
    dataSha256: plan.corpusSha256,
  } as const;
  let best: RunFile['training'] | null = resumable === null ? null : withoutResume(resumable.file.training);
  let savedStep = resumable?.state.step ?? -1;
  let savedAt = performance.now();
  const hooks = saveHooks();
  const save = (newBest: boolean) => {
    saveCheckpoint(
      outDir,
      { model, optimizer: trainer.optimizer, state: trainer.resumeState(), file: { ...staticFile, training: best! }, newBest },
      hooks,
    );
    savedStep = trainer.step;
    savedAt = performance.now();
  };

  // The picture follows the log: redrawn after every evaluation, so a run in progress can be looked at.
  const drawLossCurve = () => {
    try {
      writeLossCurve(outDir);
    } catch (e) {
      if (!(e instanceof TsgptError)) throw e;
      bar.log(`warning: no loss curve: ${e.message}`);
    }
  };
  const stop = new StopSignals(log);
  const bar = new ProgressBar(config.maxIters, process.stderr, trainer.step);
  let last = { trainLoss: NaN, valLoss: NaN };
  try {
    await trainer.run({
      shouldStop: () => stop.requested !== null,
      onStep: (r) => {
        runLog.append({
          type: 'step',
          step: r.step,
          loss: r.loss,
          lr: r.lr,
          grad_norm: r.gradNorm,
          ms: r.ms,
          tokens_per_s: (r.tokens / r.ms) * 1000,
        });
        bar.update(r.step, r.loss, r.ms, r.tokens);
        if (performance.now() - savedAt > SAVE_EVERY_MS && best !== null) save(false);
      },
      onEval: (e) => {
        last = { trainLoss: e.trainLoss, valLoss: e.valLoss };
        runLog.append({ type: 'eval', step: e.step, train_loss: e.trainLoss, val_loss: e.valLoss, best: e.best });
        let line = `step ${e.step}: train loss ${e.trainLoss.toFixed(4)}, val loss ${e.valLoss.toFixed(4)}`;
        if (e.best || best === null) best = { ...trainer.state(), trainLoss: e.trainLoss, valLoss: e.valLoss };
        save(e.best);
        if (e.best) line += `  (best: saved to ${outDir})`;
        bar.log(line);
        drawLossCurve();
      },
    });
  } catch (err) {
    bar.finish();
    stop.dispose();
    if (err instanceof NonFiniteError) {
      runLog.append({ type: 'error', step: err.step, tensor: err.tensor, message: err.message });
      const kept = savedStep >= 0 ? `the last good checkpoint (step ${savedStep}) stays in ${outDir}` : 'no checkpoint was saved';
      throw new TsgptError(`${err.message}; ${kept}`);
    }
    throw err;
  }
  const seconds = bar.finish();
  stop.dispose();

  if (stop.requested !== null) {
    if (trainer.step !== savedStep && best !== null) save(false);
    runLog.append({ type: 'stop', step: trainer.step, signal: stop.requested });
    log(`stopped by ${stop.requested} at step ${trainer.step} of ${config.maxIters}; checkpoint saved in ${outDir}`);
    log(`continue with: tsgpt train --resume ${outDir}`);
    return stop.requested;
  }
  runLog.append({
    type: 'end',
    step: trainer.step,
    train_loss: last.trainLoss,
    val_loss: last.valLoss,
    best_val_loss: trainer.bestValLoss,
    seconds,
  });
  log(
    `done: ${trainer.step} steps in ${formatDuration(seconds)} (${seconds.toFixed(1)} s); final val loss ${last.valLoss.toFixed(4)}, ` +
      `best ${trainer.bestValLoss.toFixed(4)}; checkpoint in ${outDir}`,
  );
  log(lossCurveForTerminal(outDir));
  log(`sample from it with: tsgpt sample --from ${outDir}`);
  return null;
}

function withoutResume(t: RunFile['training']): RunFile['training'] {
  const { resume: _, ...rest } = t;
  return rest;
}

function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/**
 * The first SIGINT or SIGTERM asks the trainer to stop after the current step (it then saves and exits). The
 * listeners are removed at once, so a second signal gets the default action and ends the process even in the
 * middle of a long step: safe, because every file of a checkpoint appears by an atomic rename.
 */
class StopSignals {
  requested: NodeJS.Signals | null = null;
  private readonly handler = (signal: NodeJS.Signals) => {
    this.requested = signal;
    this.dispose();
    this.log(`\n${signal}: stopping after this step to save a checkpoint (press Ctrl-C again to quit at once; the last checkpoint stays)`);
  };

  constructor(private readonly log: (line: string) => void) {
    process.on('SIGINT', this.handler);
    process.on('SIGTERM', this.handler);
  }

  dispose(): void {
    process.removeListener('SIGINT', this.handler);
    process.removeListener('SIGTERM', this.handler);
  }
}

/**
 * Test hooks, read from the environment so tests can drive the real command: TSGPT_TEST_SAVE_PAUSE_MS blocks
 * that long between the stages of every save (to widen the windows a kill can land in), and
 * TSGPT_TEST_NAN_GRADIENT=STEP:NAME makes that parameter's gradient NaN at that step.
 */
function saveHooks(): SaveHooks {
  const ms = Number(process.env.TSGPT_TEST_SAVE_PAUSE_MS ?? 0);
  if (!(ms > 0)) return {};
  const cell = new Int32Array(new SharedArrayBuffer(4));
  return { pause: () => void Atomics.wait(cell, 0, 0, ms) };
}

function installFaults(trainer: Trainer): void {
  const spec = process.env.TSGPT_TEST_NAN_GRADIENT;
  if (!spec) return;
  const [stepText, name] = spec.split(':');
  const param = trainer.model.namedParameters().find(([n]) => n === name)?.[1];
  if (param === undefined) throw new TsgptError(`TSGPT_TEST_NAN_GRADIENT names no parameter of this model: ${name}`);
  trainer.afterBackward = (step) => {
    if (step === Number(stepText)) param.grad!.data[0] = NaN;
  };
}
