/**
 * config.json of a run folder: the model config, the tokenizer, the run's hyperparameters, the training state
 * of the best weights (model.safetensors) and a pointer to the latest resumable snapshot. Parsed as hostile
 * input: every field is checked for type and range, the sections must agree with each other, and the model
 * must be small enough to build, all before anything is allocated; a violation is one clear error naming the
 * field.
 */
import { TsgptError } from '../errors.js';
import { type ModernOptions, validateGPTConfig } from '../models/gpt.js';
import { headSplitProblem, type ModelConfig } from '../models/index.js';
import { activationOf } from '../nn/block.js';
import { ACTIVATIONS, type Activation } from '../nn/layers.js';
import { tokenizerFromJSON } from '../tokenizers/from_json.js';
import type { BpeTokenizerJSON } from '../tokenizers/bpe.js';
import type { CharTokenizerJSON } from '../tokenizers/char.js';
import type { GPT2TokenizerJSON } from '../tokenizers/gpt2.js';
import type { Tokenizer } from '../tokenizers/tokenizer.js';
import type { RunConfig } from '../train/config.js';
import type { TrainerState } from '../train/trainer.js';
import { HYPERPARAMETERS, parseRunConfig } from './hyperparameters.js';
import { asObject, describe, integer, parseVersionedJson } from '../validate.js';
import { MAX_PARAMETERS, parameterLowerBound } from './model_size.js';
import { parseFileDigest, parseTrainerState, type FileDigest } from './resume_state.js';

export const RUN_FORMAT = 'tsgpt-run';
export const RUN_FORMAT_VERSION = 1;

/** Where the latest resumable snapshot of the run is, relative to the run folder. */
export interface ResumePointer {
  step: number;
  /** "resume/step-<step>-<random>": a folder that appeared whole, by one rename. */
  folder: string;
}

/** Snapshot folders are named by the writer; a pointer anywhere else (../, absolute paths) is refused. */
export const RESUME_FOLDER_PATTERN = /^resume\/step-\d{6,10}-[0-9a-f]{8}$/;

export interface RunFile {
  format: typeof RUN_FORMAT;
  version: number;
  model: ModelConfig;
  /**
   * The tokenizer: a character one's characters, a trained BPE's merges (both whole), or GPT-2's name alone
   * ({"type": "gpt2"}), whose vocabulary is GPT-2's files.
   */
  tokenizer: CharTokenizerJSON | BpeTokenizerJSON | GPT2TokenizerJSON;
  run: RunConfig;
  /**
   * The training state when the best weights (model.safetensors) were saved, and where the latest state is
   * kept for --resume (absent in run folders written before resuming existed).
   */
  training: TrainerState & { trainLoss: number | null; valLoss: number | null; resume?: ResumePointer };
  /** Where the corpus came from. */
  data: string;
  /** SHA-256 of the corpus text (UTF-8), so a resumed run can tell it trains on the same text. */
  dataSha256?: string;
  /**
   * Size and SHA-256 of model.safetensors, checked when it is loaded. Two entries while a save replaces the
   * file (the one there and the one coming), so that the file and this record agree at every moment; absent in
   * run folders written before it was recorded, whose weights load unchecked.
   */
  weights?: FileDigest[];
}

/** Largest vocabulary: one token per Unicode code point. */
const MAX_VOCAB = 0x110000;

/** `gpt2` gives GPT-2's tokenizer, for a run trained with it (tokenizerFromJSON's). */
export function parseRunFile(text: string, label: string, gpt2?: () => Tokenizer): { file: RunFile; tokenizer: Tokenizer } {
  const obj = parseVersionedJson(text, label, RUN_FORMAT, RUN_FORMAT_VERSION, 'a tsgpt run config');
  const config = parseModelConfig(asObject(obj.model, `${label}: model`), label);
  const tokenizer = tokenizerFromJSON(obj.tokenizer, `${label}: tokenizer`, gpt2);
  if (tokenizer.vocabSize !== config.vocabSize) {
    throw new TsgptError(`${label}: the tokenizer has ${tokenizer.vocabSize} symbols but the model expects ${config.vocabSize}`);
  }
  const run = parseRunConfig(obj.run, `${label}: run`);
  const training = parseTraining(asObject(obj.training, `${label}: training`), `${label}: training`);
  if (typeof obj.data !== 'string' || obj.data.length > 4096)
    throw new TsgptError(`${label}: data must be the corpus's source, got ${describe(obj.data)}`);
  const sha = obj.dataSha256;
  if (sha !== undefined && (typeof sha !== 'string' || !/^[0-9a-f]{64}$/.test(sha))) {
    throw new TsgptError(`${label}: dataSha256 must be 64 hex digits, got ${describe(sha)}`);
  }
  const file: RunFile = {
    format: RUN_FORMAT,
    version: RUN_FORMAT_VERSION,
    model: config,
    tokenizer: tokenizer.toJSON() as RunFile['tokenizer'],
    run,
    training,
    data: obj.data,
    ...(sha !== undefined ? { dataSha256: sha as string } : {}),
    ...(obj.weights !== undefined ? { weights: parseWeightDigests(obj.weights, `${label}: weights`) } : {}),
  };
  return { file, tokenizer };
}

function parseWeightDigests(value: unknown, label: string): FileDigest[] {
  if (!Array.isArray(value) || value.length < 1 || value.length > 2) {
    throw new TsgptError(`${label} must list one or two files' sizes and SHA-256 digests, got ${describe(value)}`);
  }
  return value.map((d, i) => parseFileDigest(d, `${label}[${i}]`));
}

function parseModelConfig(model: Record<string, unknown>, label: string): ModelConfig {
  // The same limits as the training flags (see hyperparameters.ts): nothing tsgpt writes is larger.
  const limit = (key: string) => HYPERPARAMETERS.find((h) => h.key === key)?.max ?? MAX_VOCAB;
  const int = (key: string, max = limit(key)) => integer(model[key], `${label}: model.${key}`, 1, max);
  let config: ModelConfig;
  if (model.kind === 'bigram') {
    config = { kind: 'bigram', vocabSize: int('vocabSize', MAX_VOCAB), blockSize: int('blockSize') };
  } else if (model.kind === 'gpt') {
    if (model.style !== 'nanogpt' && model.style !== 'lecture') {
      throw new TsgptError(`${label}: model.style must be "nanogpt" or "lecture", got ${describe(model.style)}`);
    }
    if (typeof model.bias !== 'boolean') throw new TsgptError(`${label}: model.bias must be true or false, got ${describe(model.bias)}`);
    const dropout = model.dropout;
    if (typeof dropout !== 'number' || !(dropout >= 0 && dropout < 1)) {
      throw new TsgptError(`${label}: model.dropout must be in [0, 1), got ${describe(dropout)}`);
    }
    config = {
      kind: 'gpt',
      style: model.style,
      vocabSize: int('vocabSize', MAX_VOCAB),
      blockSize: int('blockSize'),
      nLayer: int('nLayer'),
      nHead: int('nHead'),
      nEmbd: int('nEmbd'),
      dropout,
      bias: model.bias,
      ...parseAblations(model, label),
      ...parseModernOptions(model, label),
    };
    const split = headSplitProblem(config, { nEmbd: 'model.nEmbd', nHead: 'model.nHead' });
    if (split !== null) throw new TsgptError(`${label}: ${split}`);
    try {
      validateGPTConfig(config);
    } catch (e) {
      throw new TsgptError(`${label}: ${(e as Error).message}`);
    }
  } else {
    throw new TsgptError(`${label}: model.kind must be "bigram" or "gpt", got ${describe(model.kind)}`);
  }
  const atLeast = parameterLowerBound(config);
  if (atLeast > MAX_PARAMETERS) {
    throw new TsgptError(
      `${label}: the model it describes has over ${atLeast.toExponential(2)} parameters; tsgpt handles at most ${MAX_PARAMETERS.toExponential(2)}`,
    );
  }
  return config;
}

/** The lecture's optional ablations (see LectureAblation), kept only when present, each checked. */
function parseAblations(model: Record<string, unknown>, label: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const choices: Record<string, readonly unknown[]> = {
    residual: [true, false],
    layerNorm: [true, false],
    projection: [true, false],
    feedForward: ['mlp', 'linear', 'none'],
    init: ['gpt', 'torch'],
  };
  for (const [key, allowed] of Object.entries(choices)) {
    const v = model[key];
    if (v === undefined) continue;
    if (!allowed.includes(v))
      throw new TsgptError(`${label}: model.${key} must be one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}, got ${describe(v)}`);
    out[key] = v;
  }
  return out;
}

/** Issue 15's options (see ModernOptions), kept only when present, each checked. */
function parseModernOptions(model: Record<string, unknown>, label: string): ModernOptions {
  const out: ModernOptions = {};
  for (const key of ['rotary', 'qkNorm', 'zeroInitProjections', 'untiedHead'] as const) {
    const v = model[key];
    if (v === undefined) continue;
    if (typeof v !== 'boolean') throw new TsgptError(`${label}: model.${key} must be true or false, got ${describe(v)}`);
    out[key] = v;
  }
  // model.activation when present; absent, the style's form from before the choice (see activationOf).
  const activation = model.activation;
  if (activation !== undefined) {
    if (!ACTIVATIONS.includes(activation as Activation)) {
      throw new TsgptError(`${label}: model.activation must be one of ${ACTIVATIONS.join(', ')}, got ${describe(activation)}`);
    }
    out.activation = activation as Activation;
  }
  const cap = model.logitSoftcap;
  if (cap !== undefined) {
    if (typeof cap !== 'number' || !(cap >= 0 && cap <= 1e4)) {
      throw new TsgptError(`${label}: model.logitSoftcap must be a number from 0 to 10000, got ${describe(cap)}`);
    }
    out.logitSoftcap = cap;
  }
  // Absent: LayerNorm, as every run before the choice; only 'rmsnorm' is ever written.
  const norm = model.norm;
  if (norm !== undefined) {
    if (norm !== 'rmsnorm') throw new TsgptError(`${label}: model.norm must be "rmsnorm" or absent (LayerNorm), got ${describe(norm)}`);
    out.norm = norm;
  }
  return out;
}

/**
 * The run's hyperparameters must describe the same model as the model section before training resumes with
 * them (batches are cut to run.blockSize, say). Sampling reads only the model section, so only resuming checks.
 */
export function checkRunMatchesModel(run: RunConfig, model: ModelConfig, label: string): void {
  const pairs: [string, unknown, unknown][] = [
    ['kind', run.kind, model.kind],
    ['blockSize', run.blockSize, model.blockSize],
  ];
  if (model.kind === 'gpt') {
    pairs.push(
      ['style', run.style, model.style],
      ['nLayer', run.nLayer, model.nLayer],
      ['nHead', run.nHead, model.nHead],
      ['nEmbd', run.nEmbd, model.nEmbd],
      ['dropout', run.dropout, model.dropout],
      ['bias', run.bias, model.bias],
      ['rotary', run.rotary, model.rotary ?? false],
      ['qkNorm', run.qkNorm, model.qkNorm ?? false],
      ['zeroInitProjections', run.zeroInitProjections, model.zeroInitProjections ?? false],
      ['untiedHead', run.untiedHead, model.untiedHead ?? false],
      ['logitSoftcap', run.logitSoftcap, model.logitSoftcap ?? 0],
      ['norm', run.norm, model.norm ?? 'layernorm'],
    );
    // The lecture's form is ReLU whatever its run section says (see modelConfigFor).
    if (model.style === 'nanogpt') pairs.push(['activation', run.activation, activationOf(model)]);
  }
  for (const [key, a, b] of pairs) {
    if (a !== b) throw new TsgptError(`${label}: run.${key} is ${describe(a)} but the model section says ${describe(b)}`);
  }
}

function parseTraining(t: Record<string, unknown>, label: string): RunFile['training'] {
  const state = parseTrainerState(t, label);
  const loss = (key: string): number | null => {
    const v = t[key];
    if (v === null || (typeof v === 'number' && Number.isFinite(v))) return v;
    throw new TsgptError(`${label}.${key} must be a number or null, got ${describe(v)}`);
  };
  const out: RunFile['training'] = { ...state, trainLoss: loss('trainLoss'), valLoss: loss('valLoss') };
  if (t.resume !== undefined) {
    const r = asObject(t.resume, `${label}.resume`);
    const folder = r.folder;
    if (typeof folder !== 'string' || !RESUME_FOLDER_PATTERN.test(folder)) {
      throw new TsgptError(`${label}.resume.folder must name a snapshot like "resume/step-000120-0a1b2c3d", got ${describe(folder)}`);
    }
    out.resume = { step: integer(r.step, `${label}.resume.step`, 0, 1e9), folder };
  }
  return out;
}
