/** Model configs, and building a model from one (what a checkpoint stores). */
import type { Rng } from '../engine/random.js';
import { BigramLanguageModel, type BigramConfig } from './bigram.js';
import { GPT, headSplitProblem, type GPTConfig } from './gpt.js';
import type { LanguageModel } from './language_model.js';

export type ModelConfig = BigramConfig | GPTConfig;
/** Which model a config builds: RunConfig's `kind` (the --model flag) takes the same values. */
export type ModelKind = ModelConfig['kind'];

export function createModel(config: ModelConfig, rng: Rng): LanguageModel {
  return config.kind === 'bigram' ? new BigramLanguageModel(config, rng) : new GPT(config, rng);
}

/** The parameter count people compare with nanoGPT's "number of parameters: 0.80M". */
export function reportedParameterCount(model: LanguageModel): number {
  return model instanceof GPT ? model.numNonEmbeddingParameters() : model.numParameters();
}

export { BigramLanguageModel, GPT, headSplitProblem, type BigramConfig, type GPTConfig, type LanguageModel };

/**
 * The most multiply-adds one position takes in one of a model's products (its widest linear layer, or the
 * head): what sampling a token at a time asks of the kernels at once. A bigram model reads a table row.
 * The feed-forward is counted at 4 n_embd wide, the widest any form here has.
 */
export function largestRowProduct(config: ModelConfig): number {
  if (config.kind === 'bigram') return 0;
  const C = config.nEmbd;
  return C * Math.max(4 * C, config.vocabSize);
}
