/**
 * A run folder on disk (the Node edge of checkpointing):
 *   model.safetensors  the weights, by state-dict name
 *   config.json        model config, tokenizer, hyperparameters, training state
 *   log.jsonl          one JSON object a line: every step and every evaluation
 * Each file is written to a temporary name and renamed, so it is either the old version or the new, whole.
 */
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Rng } from '../engine/random.js';
import { TsgptError } from '../errors.js';
import { writeFileAtomicSync } from '../io/atomic.js';
import { createModel, type LanguageModel } from '../models/index.js';
import type { CharTokenizer } from '../tokenizers/char.js';
import { parseRunFile, type RunFile } from './run_config.js';
import { encodeWeights, loadWeights } from './weights.js';

export const WEIGHTS_FILE = 'model.safetensors';
export const CONFIG_FILE = 'config.json';
export const LOG_FILE = 'log.jsonl';

/** Writes the weights, then the config that describes them (making the folder if needed). */
export function saveRun(dir: string, model: LanguageModel, file: RunFile): void {
  mkdirSync(dir, { recursive: true });
  writeFileAtomicSync(join(dir, WEIGHTS_FILE), encodeWeights(model));
  writeFileAtomicSync(join(dir, CONFIG_FILE), JSON.stringify(file, null, 2) + '\n');
}

export interface LoadedRun {
  file: RunFile;
  model: LanguageModel;
  tokenizer: CharTokenizer;
}

/** Reads a run folder back: the model (in eval mode) with its weights, and its tokenizer. */
export function loadRun(dir: string): LoadedRun {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new TsgptError(`no run folder at ${dir}`);
  const configPath = join(dir, CONFIG_FILE), weightsPath = join(dir, WEIGHTS_FILE);
  if (!existsSync(configPath)) throw new TsgptError(`${dir} is not a tsgpt run: ${CONFIG_FILE} is missing`);
  if (!existsSync(weightsPath)) throw new TsgptError(`${dir} is not a complete tsgpt run: ${WEIGHTS_FILE} is missing`);
  const { file, tokenizer } = parseRunFile(readFileSync(configPath, 'utf8'), configPath);
  let model: LanguageModel;
  try {
    model = createModel(file.model, new Rng(0));
  } catch (e) {
    throw new TsgptError(`${configPath}: cannot build the model it describes: ${(e as Error).message}`);
  }
  try {
    loadWeights(model, readFileSync(weightsPath), weightsPath);
  } catch (e) {
    model.dispose();
    throw e;
  }
  model.eval();
  return { file, model, tokenizer };
}
