/**
 * Autoregressive generation, as nanoGPT's generate: crop the context to the block size, take the logits at
 * its last position, scale them by the temperature, keep the top k (and top p), draw a token, append it,
 * repeat. Cropping lets generation run past the longest context the model was trained on.
 *
 * The model's decoder (model.decoder) computes the logits: forward()'s last row, bit for bit, but with a
 * key/value cache, so that within the block size a new token costs one position's work. Past it the crop
 * shifts every position and each step runs its window, as nanoGPT's does. Either way the tokens are the
 * same at the same seed. Each generation makes its own decoder: do not change the weights while one runs.
 */
import type { Rng } from '../engine/random.js';
import type { LanguageModel } from '../models/language_model.js';
import { pickToken, type SamplingOptions, temperatureWeights } from './sampling.js';

export interface GenerateOptions extends SamplingOptions {
  maxNewTokens: number;
  rng: Rng;
  /** Reuse the keys and values of earlier positions (default true); off, each step runs its whole window. */
  useCache?: boolean;
}

/**
 * Generates for a batch of prompts of equal length together; yields the B new tokens of each step. Tokens
 * are drawn in batch order at every step, so sample b of a batch differs from the same prompt run alone.
 */
export function* generateBatch(model: LanguageModel, prompts: readonly ArrayLike<number>[], opts: GenerateOptions): Generator<number[]> {
  const B = prompts.length;
  if (B === 0) throw new RangeError('generateBatch needs at least one prompt');
  const length = prompts[0]!.length;
  if (length === 0) throw new RangeError('generate needs a prompt of at least one token');
  if (prompts.some((p) => p.length !== length)) throw new RangeError('generateBatch: prompts must have equal lengths');
  const { blockSize, vocabSize: V } = model;
  const { rng } = opts;
  const contexts = prompts.map((p) => Array.from(p));
  const decoder = model.decoder(B, { cache: opts.useCache });
  const weights = new Float64Array(V);
  try {
    for (let step = 0; step < opts.maxNewTokens; step++) {
      // The logits at the last position of each context, cropped to the block size.
      const logits = decoder.step(contexts.map((c) => c.slice(-blockSize)));
      const next = contexts.map((context, b) => {
        // The model's distribution after temperature.
        temperatureWeights(logits.subarray(b * V, (b + 1) * V), opts.temperature, weights);
        // Top-k, top-p, and the draw (the most likely token at temperature 0).
        const token = pickToken(weights, opts, rng);
        context.push(token);
        return token;
      });
      yield next;
    }
  } finally {
    decoder.dispose();
  }
}

/** Yields the new token ids of one prompt one by one (the prompt is not repeated). */
export function* generate(model: LanguageModel, prompt: ArrayLike<number>, opts: GenerateOptions): Generator<number> {
  for (const [token] of generateBatch(model, [prompt], opts)) yield token!;
}
