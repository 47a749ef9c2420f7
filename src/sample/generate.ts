/**
 * Autoregressive generation: feed the context, take the last position's logits, pick a token, append it,
 * repeat. The context is cropped to the model's block size, as nanoGPT's generate does, so generation can run
 * past the longest context the model was trained on.
 */
import { noGrad } from '../engine/autograd.js';
import type { Rng } from '../engine/random.js';
import { intTensor, tidy } from '../engine/tensor.js';
import type { LanguageModel } from '../models/language_model.js';
import { sampleToken, type SamplingOptions } from './sampling.js';

export interface GenerateOptions extends SamplingOptions {
  maxNewTokens: number;
  rng: Rng;
}

/** Yields the new token ids one by one (the prompt is not repeated). The prompt must hold at least one token. */
export function* generate(model: LanguageModel, prompt: ArrayLike<number>, opts: GenerateOptions): Generator<number> {
  if (prompt.length === 0) throw new RangeError('generate needs a prompt of at least one token');
  const wasTraining = model.training;
  model.eval();
  const context = Array.from(prompt);
  const V = model.vocabSize;
  const row = new Float32Array(V);
  const probs = new Float64Array(V);
  try {
    for (let i = 0; i < opts.maxNewTokens; i++) {
      const window = context.slice(-model.blockSize);
      const T = window.length;
      tidy(() => noGrad(() => {
        const { logits } = model.forward(intTensor(window, [1, T]));
        row.set(logits.data.subarray((T - 1) * V, T * V));
      }));
      const next = sampleToken(row, opts, opts.rng, probs);
      context.push(next);
      yield next;
    }
  } finally {
    model.train(wasTraining);
  }
}
