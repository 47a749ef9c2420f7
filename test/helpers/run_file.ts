/**
 * A run folder's config.json contents for tests that save or parse one: a model, a character vocabulary,
 * baby's run settings, and the record of a run three steps in.
 */
import { RUN_FORMAT, RUN_FORMAT_VERSION, type RunFile } from '../../src/checkpoint/run_config.js';
import { Rng } from '../../src/engine/random.js';
import type { ModelConfig } from '../../src/models/index.js';
import { PRESETS } from '../../src/train/config.js';

export function runFileFor(model: ModelConfig, chars: readonly string[]): RunFile {
  return {
    format: RUN_FORMAT,
    version: RUN_FORMAT_VERSION,
    model,
    tokenizer: { type: 'char', chars: [...chars] },
    run: PRESETS.baby,
    data: 'test',
    training: {
      step: 3,
      bestValLoss: 2.5,
      trainLoss: 2.4,
      valLoss: 2.5,
      dataRng: new Rng(1).getState(),
      evalRng: new Rng(2).getState(),
      modelRng: new Rng(3).getState(),
    },
  };
}
