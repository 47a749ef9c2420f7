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
