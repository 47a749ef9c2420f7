/**
 * A run folder's files as bytes, with no file system: their names, and the checks and decoding that turn
 * config.json and model.safetensors into a model. Node's edge (src/node/run_folder.ts) reads the files from
 * disk and a browser (src/browser/run_folder.ts) gets them from Files, Blobs or a zip; both hand the bytes to
 * these functions, so a run folder is validated the same way, with the same messages, wherever it is opened.
 */
import { Rng } from '../engine/random.js';
import { TsgptError } from '../errors.js';
import { MAX_HEADER_BYTES } from '../io/safetensors.js';
import { createModel, type LanguageModel, type ModelConfig } from '../models/index.js';
import type { Tokenizer } from '../tokenizers/tokenizer.js';
import { parameterLowerBound, parameterUpperBound } from './model_size.js';
import type { FileDigest } from './resume_state.js';
import type { RunFile } from './run_config.js';
import { loadWeights } from './weights.js';

export const WEIGHTS_FILE = 'model.safetensors';
export const CONFIG_FILE = 'config.json';
export const LOG_FILE = 'log.jsonl';
export const RESUME_DIR = 'resume';
export const OPTIMIZER_FILE = 'optimizer.safetensors';
export const STATE_FILE = 'state.json';

/** Larger than any real config.json (a full Unicode vocabulary is about 10 MB of JSON). */
export const MAX_CONFIG_BYTES = 64 * 1024 * 1024;

export interface LoadedRun {
  file: RunFile;
  model: LanguageModel;
  tokenizer: Tokenizer;
  /** SHA-256 of model.safetensors as read: what a memory built from this model records. */
  weightsSha256: string;
}

/**
 * The largest a safetensors file holding `copies` floats per parameter of `config` can be, after refusing a
 * `size` that cannot be right: too small means the config claims a bigger model than the file holds (and
 * building it would allocate for nothing, possibly gigabytes); too large (the caller checks against the
 * returned bound as it reads) means it is not this model's file.
 */
export function checkWeightsSize(size: number, config: ModelConfig, copies: number, label: string): number {
  const least = 8 + 4 * copies * parameterLowerBound(config);
  if (size < least) {
    throw new TsgptError(`${label} is ${size} bytes, too small for the model config.json describes (it needs at least ${least})`);
  }
  return 8 + MAX_HEADER_BYTES + 4 * copies * parameterUpperBound(config);
}

/** Refuses bytes longer than a file may be, in the words Node's bounded reader uses for a file on disk. */
export function checkByteLimit(bytes: Uint8Array, maxBytes: number, label: string): Uint8Array {
  if (bytes.length > maxBytes) throw new TsgptError(`${label} is ${bytes.length} bytes, more than the ${maxBytes} it can be`);
  return bytes;
}

/** Refuses weights whose size and SHA-256 are not among those config.json records (older run folders record none). */
export function checkRecordedWeights(actual: FileDigest, file: RunFile, weightsLabel: string, configLabel: string): void {
  if (file.weights === undefined) return;
  if (!file.weights.some((w) => w.bytes === actual.bytes && w.sha256 === actual.sha256)) {
    throw new TsgptError(`${weightsLabel} does not match the size and SHA-256 recorded in ${configLabel}: the file is damaged`);
  }
}

/** createModel, with whatever it throws (a config it rejects, an arena that cannot grow) as a clear error. */
export function buildModelFor(config: ModelConfig, configLabel: string): LanguageModel {
  try {
    return createModel(config, new Rng(0));
  } catch (e) {
    throw new TsgptError(`${configLabel}: cannot build the model it describes: ${(e as Error).message}`);
  }
}

/** The model config.json describes, with the checked weights loaded, in eval mode; nothing is left allocated on failure. */
export function modelFromWeights(config: ModelConfig, bytes: Uint8Array, configLabel: string, weightsLabel: string): LanguageModel {
  const model = buildModelFor(config, configLabel);
  try {
    loadWeights(model, bytes, weightsLabel);
  } catch (e) {
    model.dispose();
    throw e;
  }
  model.eval();
  return model;
}

/** The best weights say which step and losses they are from, so they describe themselves even without config.json. */
export function bestMetadata(file: RunFile): Record<string, string> {
  const t = file.training;
  return { step: String(t.step), train_loss: String(t.trainLoss), val_loss: String(t.valLoss) };
}

/** config.json's text as tsgpt writes it. */
export function runConfigText(file: RunFile): string {
  return `${JSON.stringify(file, null, 2)}\n`;
}
