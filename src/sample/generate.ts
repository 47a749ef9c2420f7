/**
 * Autoregressive generation, as nanoGPT's generate: crop the context to the block size, take the logits at
 * its last position, scale them by the temperature, keep the top k (and top p), draw a token, append it,
 * repeat. Cropping lets generation run past the longest context the model was trained on.
 *
 * The model's decoder (model.decoder) computes the logits: forward()'s last row, bit for bit, but with a
 * key/value cache, so that within the block size a new token costs one position's work. Past it the crop
 * shifts every position and each step runs its window, as nanoGPT's does; with rotary embeddings the
 * decoder rolls its cache instead by default (see PastContext in models/decoder.ts: a sliding window of
 * keys as they were made, not a re-encoded crop), one position a token, and is handed the whole context.
 * Each generation makes its own decoder: do not change the weights while one runs.
 */
import type { Rng } from '../engine/random.js';
import type { HiddenPoint, PastContext } from '../models/decoder.js';
import type { LanguageModel } from '../models/language_model.js';
import { normalise, pickToken, type SamplingOptions, temperatureWeights } from './sampling.js';

/**
 * Another next-token distribution mixed into the model's at every step, such as kNN-LM's memory:
 * p = lambda p_memory + (1 - lambda) p_model. It is applied at the mix point of generateBatch's loop, after
 * the temperature and before top-k, top-p and the draw, which then apply to the mixed distribution.
 */
export interface NextTokenMixer {
  /** Where the model's hidden state is read (default 'ffn_input', the last block's ln_2 output, as kNN-LM). */
  readonly hiddenPoint?: HiddenPoint;
  /**
   * probs: the model's next-token distribution after temperature (summing to 1; at temperature 0 all on the
   * most likely token), which the mixer may overwrite. hidden: the model's hidden state at the last position
   * (at hiddenPoint). context: the sequence so far, prompt and generated tokens, uncropped. All three are
   * valid during the call only. Returns the distribution to sample from (probs itself or another array of
   * the same length; it need not be normalised).
   */
  mix(probs: Float64Array, hidden: Float32Array, context: readonly number[]): ArrayLike<number>;
}

export interface GenerateOptions extends SamplingOptions {
  maxNewTokens: number;
  rng: Rng;
  /** Reuse the keys and values of earlier positions (default true); off, each step runs its whole window. */
  useCache?: boolean;
  /** Past the block size: roll the cache or crop the window (default: the model's choice, model.pastContexts[0]). */
  pastContext?: PastContext;
  /** Mixes another next-token distribution into the model's at each step. */
  mix?: NextTokenMixer;
  /**
   * A memory the model reads while it samples (src/memory/: kNN-LM), with its recorded scoring: the same as
   * `mix: memoryMixer(memory)`. Ignored when `mix` is given.
   */
  memory?: { mixer(): NextTokenMixer };
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
  const { vocabSize: V } = model;
  const { rng } = opts;
  const mix = opts.mix ?? opts.memory?.mixer();
  const contexts = prompts.map((p) => Array.from(p));
  const decoder = model.decoder(B, {
    cache: opts.useCache,
    pastContext: opts.pastContext,
    hidden: mix === undefined ? undefined : (mix.hiddenPoint ?? 'ffn_input'),
  });
  const limit = decoder.maxContext;
  const weights = new Float64Array(V),
    H = decoder.hiddenSize;
  try {
    for (let step = 0; step < opts.maxNewTokens; step++) {
      // The logits at the last position of each context, cropped to the block size (or, rolling, whole).
      const logits = decoder.step(contexts.map((c) => (c.length > limit ? c.slice(-limit) : c)));
      const next = contexts.map((context, b) => {
        // The model's distribution after temperature.
        temperatureWeights(logits.subarray(b * V, (b + 1) * V), opts.temperature, weights);
        // The mix point: another distribution joins the model's here.
        if (mix !== undefined) {
          const hidden = decoder.hidden().subarray(b * H, (b + 1) * H);
          takeMixed(weights, mix.mix(normalise(weights), hidden, context));
        }
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

/** The mixer's distribution in place of the model's. */
function takeMixed(weights: Float64Array, mixed: ArrayLike<number>): void {
  if (mixed === weights) return;
  if (mixed.length !== weights.length) throw new RangeError(`mixer: ${mixed.length} probabilities for a vocabulary of ${weights.length}`);
  for (let i = 0; i < weights.length; i++) weights[i] = mixed[i]!;
}
