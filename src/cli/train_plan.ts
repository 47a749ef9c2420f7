/**
 * From `tsgpt train`'s flags to a RunPlan: the run config (a preset and the flags over it, or a resumed run's
 * own with the few flags that may change), the corpus, the tokenizer and the splits, each checked before
 * anything is written, so a refused command leaves no run folder behind.
 */
import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { splitTrainVal } from '../data/split.js';
import { TsgptError } from '../errors.js';
import { HYPERPARAMETERS, kebab } from '../checkpoint/hyperparameters.js';
import {
  ARENA_BYTES,
  MAX_PARAMETERS,
  parameterUpperBound,
  TRAINING_ESTIMATE_SLACK,
  trainingBytesEstimate,
} from '../checkpoint/model_size.js';
import { headSplitProblem, type ModelConfig } from '../models/index.js';
import { loadCorpus, type Corpus } from '../node/corpus.js';
import { GPT2_MODEL_NAMES, hfVocabularyFiles, isGpt2ModelName, type LoadedGpt2, loadPretrainedGpt2 } from '../node/hf_folder.js';
import { checkFolderForNewRun } from '../node/run_folder.js';
import { refuseIfTraining } from '../node/run_lock.js';
import { readResumable, type ResumableRun } from '../node/run_resume.js';
import type { RunPlan } from '../node/training_run.js';
import { loadTokenizer } from '../node/tokenizer_file.js';
import { CharTokenizer } from '../tokenizers/char.js';
import type { Tokenizer } from '../tokenizers/tokenizer.js';
import { isPresetName, modelConfigFor, modernOptionsOf, ownActivation, PRESETS, type PresetName, type RunConfig } from '../train/config.js';
import { MUON_NEEDS_GPT } from '../train/optimizer_groups.js';
import type { FlagValue } from './flags.js';
import { downloadProgress } from './progress.js';

type Flags = Map<string, FlagValue>;

/** The flags a resumed run may change, as --help and the messages list them. */
export const RESUMABLE_FLAGS = HYPERPARAMETERS.filter((h) => h.resumable).map((h) => `--${h.flag}`);

/** Issue 15's options, which only the nanoGPT form takes. */
const MODERN_FLAGS = ['activation', 'rotary', 'qk-norm', 'zero-init-projections', 'untied-head', 'logit-softcap', 'norm'];
/** Flags that only mean something for a GPT, and the schedule flags that only mean something with decay on. */
const GPT_ONLY_FLAGS = ['style', 'n-layer', 'n-head', 'n-embd', 'dropout', 'bias', ...MODERN_FLAGS];
const DECAY_ONLY_FLAGS = ['min-lr', 'warmup-iters', 'lr-decay-iters'];
/** Muon's own settings, which mean something only when Muon runs. */
const MUON_ONLY_FLAGS = ['muon-lr', 'muon-momentum'];

/** The run config from a preset and the flags that override it, checked as a whole. */
export function resolveRunConfig(flags: Flags): { preset: PresetName; config: RunConfig } {
  const preset = (flags.get('preset') as string | undefined) ?? 'baby';
  if (!isPresetName(preset)) throw new TsgptError(`unknown preset "${preset}"`);
  const config: RunConfig = { ...PRESETS[preset] };
  const writable = config as unknown as Record<string, unknown>;
  for (const { key, flag } of HYPERPARAMETERS) {
    const v = flags.get(flag);
    if (v !== undefined) writable[key] = v;
  }
  // A form chosen without an activation gets that form's own: the lecture's ReLU, nanoGPT's exact GELU. The
  // lecture's form is ReLU whatever preset it starts from, and records so.
  if (flags.has('style') && !flags.has('activation')) config.activation = ownActivation(config.style);
  if (config.style === 'lecture') {
    if (flags.has('activation') && config.activation !== 'relu') throw new TsgptError('--activation applies to --style nanogpt only');
    config.activation = ownActivation('lecture');
  }
  // A flag that would be silently ignored is refused: the user meant something by it.
  if (config.kind === 'bigram') {
    const given = GPT_ONLY_FLAGS.find((f) => flags.has(f));
    if (given !== undefined)
      throw new TsgptError(`--${given} has no effect on the bigram model; use --model gpt (or --preset baby) for a transformer`);
  }
  if (config.optimizer !== 'muon') {
    const given = MUON_ONLY_FLAGS.find((f) => flags.has(f));
    if (given !== undefined) throw new TsgptError(`--${given} has no effect with --optimizer ${config.optimizer}; add --optimizer muon`);
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
  const modern = Object.keys(modernOptionsOf(config));
  if (config.kind === 'gpt' && config.style === 'lecture' && modern.length > 0) {
    throw new TsgptError(`--${kebab(modern[0]!)} applies to --style nanogpt only`);
  }
  if (config.kind === 'bigram' && config.optimizer === 'muon') {
    throw new TsgptError(MUON_NEEDS_GPT);
  }
  if (config.kind === 'gpt' && config.rotary && (config.nEmbd / config.nHead) % 2 !== 0) {
    throw new TsgptError(`--rotary needs an even head size; --n-embd / --n-head is ${config.nEmbd / config.nHead}`);
  }
  if (config.decayLr && config.minLr > config.learningRate) {
    throw new TsgptError(`--min-lr (${config.minLr}) is above --learning-rate (${config.learningRate})`);
  }
  if (config.decayLr && config.lrDecayIters < config.warmupIters) {
    throw new TsgptError(`--lr-decay-iters (${config.lrDecayIters}) is shorter than --warmup-iters (${config.warmupIters})`);
  }
}

export async function planNewRun(flags: Flags, log: (line: string) => void): Promise<RunPlan> {
  const initFrom = flags.get('init-from') as string | undefined;
  if (initFrom !== undefined) return planFineTune(flags, initFrom, log);
  if (flags.get('preset') === 'finetune') {
    throw new TsgptError("the finetune preset starts from GPT-2's weights: give --init-from gpt2 (or a Hugging Face GPT-2 folder)");
  }
  const { preset, config } = resolveRunConfig(flags);
  const dir = (flags.get('out') as string | undefined) ?? join('runs', preset);
  checkFolderForNewRun(dir);
  const corpus = await loadCorpus({ path: flags.get('data') as string | undefined, log });
  const tokenizer = await trainingTokenizer((flags.get('tokenizer') as string | undefined) ?? 'char', corpus.text);
  const model = modelConfigFor(config, tokenizer.vocabSize);
  return finishPlan({ dir, config, corpus, sha256: sha256Of(corpus.text), tokenizer, model, preset, resume: null });
}

/** The flags --init-from refuses: the checkpoint decides the model and its tokenizer. */
const CHECKPOINT_FLAGS = ['model', 'style', 'activation', 'norm', 'n-layer', 'n-head', 'n-embd', 'bias', 'tokenizer'];

/**
 * A run that starts from GPT-2's weights (--init-from NAME|FOLDER), as nanoGPT's init_from='gpt2*': the model is
 * the checkpoint's, only dropout may change and the context may be cropped (--block-size, at most the
 * checkpoint's); the preset is finetune unless another is given; the tokenizer is the checkpoint's.
 */
async function planFineTune(flags: Flags, initFrom: string, log: (line: string) => void): Promise<RunPlan> {
  const fixed = CHECKPOINT_FLAGS.find((f) => flags.has(f));
  if (fixed !== undefined)
    throw new TsgptError(`--${fixed} cannot be given with --init-from: the model and its tokenizer are the checkpoint's`);
  const { preset, config } = resolveRunConfig(new Map([['preset', 'finetune'], ...flags]));
  const dir = (flags.get('out') as string | undefined) ?? join('runs', preset);
  checkFolderForNewRun(dir);
  const corpus = await loadCorpus({ path: flags.get('data') as string | undefined, log });
  const { progress, done } = downloadProgress();
  let loaded: LoadedGpt2 | null;
  try {
    loaded = await loadPretrainedGpt2(initFrom, { progress, weightsProgress: progress, log });
  } finally {
    done();
  }
  if (loaded === null) {
    throw new TsgptError(
      `--init-from ${initFrom} is neither one of ${GPT2_MODEL_NAMES.join(', ')} nor a Hugging Face GPT-2 folder ` +
        '(config.json, model.safetensors, vocab.json, merges.txt)',
    );
  }
  const base = loaded.model.config;
  let initialWeights: Map<string, Float32Array>;
  try {
    if (config.blockSize > base.blockSize) {
      throw new TsgptError(`--block-size ${config.blockSize} is beyond ${initFrom}'s context of ${base.blockSize} tokens`);
    }
    // nanoGPT's crop_block_size: the first blockSize position embeddings; every other weight as it is.
    initialWeights = new Map(
      loaded.model
        .namedParameters()
        .map(([name, p]) => [name, name === 'transformer.wpe.weight' ? p.data.slice(0, config.blockSize * base.nEmbd) : p.data.slice()]),
    );
  } finally {
    loaded.model.dispose();
  }
  const { nLayer, nHead, nEmbd, activation } = base;
  Object.assign(config, { kind: 'gpt', style: 'nanogpt', activation, nLayer, nHead, nEmbd, bias: true });
  const model: ModelConfig = { ...base, blockSize: config.blockSize, dropout: config.dropout };
  const plan = finishPlan({ dir, config, corpus, sha256: sha256Of(corpus.text), tokenizer: loaded.tokenizer, model, preset, resume: null });
  // A released model's vocabulary is GPT-2's, found again in the cache; a folder's is kept beside the run.
  const tokenizerFiles = isGpt2ModelName(initFrom) ? [] : hfVocabularyFiles(initFrom);
  return { ...plan, initialWeights, initFrom, tokenizerFiles };
}

export async function planResume(flags: Flags, log: (line: string) => void): Promise<RunPlan> {
  if (flags.has('init-from')) throw new TsgptError('--init-from starts a new run; a resumed run continues from its own weights');
  const dir = flags.get('resume') as string;
  const out = flags.get('out') as string | undefined;
  if (out !== undefined && resolve(out) !== resolve(dir)) {
    throw new TsgptError(`--out ${out} differs from --resume ${dir}: a resumed run continues in its own folder`);
  }
  refuseIfTraining(dir);
  const resumable = readResumable(dir);
  const config = resumedConfig(flags, resumable.file.run);
  const step = resumable.state.step;
  if (config.maxIters <= step) {
    throw new TsgptError(
      flags.has('max-iters')
        ? `--max-iters ${config.maxIters} is not beyond step ${step}, where the run in ${dir} stands`
        : `the run in ${dir} is complete (step ${step} of ${config.maxIters}); pass a larger --max-iters to train it further`,
    );
  }
  const corpus = await loadCorpus({ path: (flags.get('data') as string | undefined) ?? resumable.file.data, log });
  const sha256 = sha256Of(corpus.text);
  const expected = resumable.file.dataSha256;
  if (expected !== undefined && expected !== sha256) {
    throw new TsgptError(
      `${corpus.source} is not the text the run in ${dir} trained on (its SHA-256 differs); pass the original file with --data`,
    );
  }
  const recorded = resumable.tokenizer;
  const spec = flags.get('tokenizer') as string | undefined;
  if (spec !== undefined) {
    const given = await trainingTokenizer(spec, corpus.text);
    if (JSON.stringify(given.toJSON()) !== JSON.stringify(recorded.toJSON())) {
      throw new TsgptError(
        `--tokenizer ${spec} differs from the tokenizer the run in ${dir} was trained with; a resumed run keeps its own`,
      );
    }
  }
  if (recorded instanceof CharTokenizer && CharTokenizer.fromText(corpus.text).chars.join('') !== recorded.chars.join('')) {
    throw new TsgptError(
      `${corpus.source} does not give the vocabulary the run in ${dir} was trained with; pass the original file with --data`,
    );
  }
  const model = resumable.file.model;
  return finishPlan({ dir, config, corpus, sha256, tokenizer: resumable.tokenizer, model, preset: null, resume: resumable });
}

/**
 * A resumed run's config: its own, with the flags that may change applied. Any other value given must be the
 * run's own, so the command that made the run, with --resume added, goes through: a flag as given, and
 * --preset as the values it sets where no flag overrides them. A value that differs is named.
 */
export function resumedConfig(flags: Flags, recorded: RunConfig): RunConfig {
  const preset = flags.get('preset') as string | undefined;
  if (preset !== undefined && !isPresetName(preset)) throw new TsgptError(`unknown preset "${preset}"`);
  const config: RunConfig = { ...recorded };
  for (const { key, flag, resumable } of HYPERPARAMETERS) {
    const given = flags.get(flag);
    if (resumable) {
      if (given !== undefined) (config as unknown as Record<string, unknown>)[key] = given;
      continue;
    }
    const wanted = given ?? (preset !== undefined ? PRESETS[preset][key] : undefined);
    if (wanted === undefined || wanted === recorded[key]) continue;
    const what = given !== undefined ? `--${flag} ${String(given)}` : `--preset ${preset} sets --${flag} ${String(wanted)}, which`;
    throw new TsgptError(
      `${what} differs from the run's ${String(recorded[key])}; a resumed run keeps its settings ` +
        `(only ${RESUMABLE_FLAGS.join(', ')} and --data may change)`,
    );
  }
  return config;
}

interface PlanParts {
  dir: string;
  config: RunConfig;
  corpus: Corpus;
  sha256: string;
  tokenizer: Tokenizer;
  model: ModelConfig;
  preset: PresetName | null;
  resume: ResumableRun | null;
}

function finishPlan(p: PlanParts): RunPlan {
  const { train, val } = splitCorpus(p.corpus, p.tokenizer, p.config.blockSize);
  checkModelFits(p.model, p.config);
  return {
    dir: p.dir,
    config: p.config,
    model: p.model,
    tokenizer: p.tokenizer,
    data: { source: p.corpus.source, sha256: p.sha256, characters: p.corpus.text.length },
    trainTokens: train,
    valTokens: val,
    preset: p.preset,
    resume: p.resume,
  };
}

/** The train and validation splits, refused if either cannot hold one training window of blockSize + 1 tokens. */
function splitCorpus(corpus: Corpus, tokenizer: Tokenizer, blockSize: number): { train: Int32Array; val: Int32Array } {
  // The corpus is text: a special token's name in it (GPT-2's <|endoftext|>) is its characters, as nanoGPT's
  // prepare.py encodes with encode_ordinary.
  const tokens = tokenizer.encode(corpus.text, { special: 'ordinary', label: corpus.source });
  const { train, val } = splitTrainVal(tokens);
  if (val.length <= blockSize || train.length <= blockSize) {
    throw new TsgptError(
      `${corpus.source} is too short for --block-size ${blockSize}: its validation split has ${val.length} tokens ` +
        `(the last 10% of ${tokens.length}), and a batch needs windows of ${blockSize + 1}; use a longer text or a smaller --block-size`,
    );
  }
  return { train, val };
}

/**
 * What --tokenizer names: 'char' (the corpus's own characters, the default), 'gpt2' (GPT-2's, downloaded once)
 * or a tokenizer file written by 'tsgpt tokenizer train'. A folder of vocabulary files is refused: a run records
 * GPT-2's tokenizer by name only, and a folder's files need not be GPT-2's.
 */
export async function trainingTokenizer(spec: string, text: string): Promise<Tokenizer> {
  if (spec === 'char') return CharTokenizer.fromText(text);
  if (spec !== 'gpt2' && isFolderPath(spec)) {
    throw new TsgptError(
      `--tokenizer ${spec} is a folder; training takes char, gpt2 or a tokenizer file written by 'tsgpt tokenizer train'`,
    );
  }
  const { progress, done } = downloadProgress();
  try {
    return (await loadTokenizer(spec, { progress })).tokenizer;
  } finally {
    done();
  }
}

function isFolderPath(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
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

function sha256Of(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}
