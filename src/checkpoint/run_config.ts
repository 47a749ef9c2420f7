/**
 * config.json of a run folder: the model config, the tokenizer, the run's hyperparameters and its training
 * state. Parsed defensively: a hand-edited or truncated file is one clear error naming the field.
 */
import { TsgptError } from '../errors.js';
import type { ModelConfig } from '../models/index.js';
import { CharTokenizer } from '../tokenizers/char.js';
import type { RunConfig } from '../train/config.js';
import type { TrainerState } from '../train/trainer.js';

export const RUN_FORMAT = 'tsgpt-run';
export const RUN_FORMAT_VERSION = 1;

export interface RunFile {
  format: typeof RUN_FORMAT;
  version: number;
  model: ModelConfig;
  tokenizer: { type: 'char'; chars: string[] };
  run: RunConfig;
  /** The training state when the weights were saved. */
  training: TrainerState & { trainLoss: number | null; valLoss: number | null };
  /** Where the corpus came from. */
  data: string;
}

export function parseRunFile(text: string, label: string): { file: RunFile; tokenizer: CharTokenizer } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new TsgptError(`${label}: not valid JSON (${(e as Error).message})`);
  }
  const obj = asObject(json, label);
  if (obj.format !== RUN_FORMAT) throw new TsgptError(`${label}: not a tsgpt run config (format is ${JSON.stringify(obj.format)})`);
  if (obj.version !== RUN_FORMAT_VERSION) {
    throw new TsgptError(`${label}: version ${JSON.stringify(obj.version)} is not supported (this tsgpt reads ${RUN_FORMAT_VERSION})`);
  }
  const model = asObject(obj.model, `${label}: model`);
  const int = (o: Record<string, unknown>, key: string, min = 1) => {
    const v = o[key];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > 1 << 24) {
      throw new TsgptError(`${label}: model.${key} must be an integer from ${min} to ${1 << 24}, got ${JSON.stringify(v)}`);
    }
    return v;
  };
  let config: ModelConfig;
  if (model.kind === 'bigram') {
    config = { kind: 'bigram', vocabSize: int(model, 'vocabSize'), blockSize: int(model, 'blockSize') };
  } else if (model.kind === 'gpt') {
    if (model.style !== 'nanogpt' && model.style !== 'lecture') {
      throw new TsgptError(`${label}: model.style must be "nanogpt" or "lecture", got ${JSON.stringify(model.style)}`);
    }
    if (typeof model.bias !== 'boolean') throw new TsgptError(`${label}: model.bias must be true or false`);
    const dropout = model.dropout;
    if (typeof dropout !== 'number' || !(dropout >= 0 && dropout < 1)) {
      throw new TsgptError(`${label}: model.dropout must be in [0, 1), got ${JSON.stringify(dropout)}`);
    }
    config = {
      kind: 'gpt', style: model.style, vocabSize: int(model, 'vocabSize'), blockSize: int(model, 'blockSize'),
      nLayer: int(model, 'nLayer'), nHead: int(model, 'nHead'), nEmbd: int(model, 'nEmbd'), dropout, bias: model.bias,
    };
    if (config.nEmbd % config.nHead !== 0) throw new TsgptError(`${label}: model.nEmbd is not divisible by model.nHead`);
  } else {
    throw new TsgptError(`${label}: model.kind must be "bigram" or "gpt", got ${JSON.stringify(model.kind)}`);
  }
  const tokenizer = CharTokenizer.fromJSON(obj.tokenizer, `${label}: tokenizer`);
  if (tokenizer.vocabSize !== config.vocabSize) {
    throw new TsgptError(`${label}: the tokenizer has ${tokenizer.vocabSize} symbols but the model expects ${config.vocabSize}`);
  }
  const file = { ...(obj as unknown as RunFile), model: config };
  return { file, tokenizer };
}

function asObject(v: unknown, label: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new TsgptError(`${label}: expected a JSON object`);
  return v as Record<string, unknown>;
}
