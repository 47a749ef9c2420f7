/**
 * Autoregressive generation: feed the context, take the last position's logits, pick a token, append it,
 * repeat. The context is cropped to the model's block size, as nanoGPT's generate does, so generation can run
 * past the longest context the model was trained on.
 *
 * With a key/value cache (the default for models that have one) each new token costs one position's work:
 * the cache holds every earlier position's keys and values. Once the context outgrows the block size, the
 * crop shifts every token's position (the position embeddings move), so no key or value can be reused: from
 * then on every step runs the whole cropped window, as the uncached path does, and the cache goes unused (a
 * GPT computes only what the last position's logits need there: GPT.forwardLast, the same bits). Either way
 * the tokens are the same, at the same seed.
 *
 * With the cache, the weights are also copied transposed at the start, for the one-position products (see
 * withTransposedWeights): a generation reads the weights as they are when it starts, as its cached keys and
 * values do. Changing the weights while one is under way is not seen by it.
 */
import { noGrad } from '../engine/autograd.js';
import type { Rng } from '../engine/random.js';
import { transposeWeights, withTransposedWeights } from '../engine/ops/linear.js';
import { intTensor, type Tensor, tidy } from '../engine/tensor.js';
import { supportsKVCache, type CachedLanguageModel, type LanguageModel } from '../models/language_model.js';
import type { KVCache } from '../nn/kv_cache.js';
import { GPT } from '../models/gpt.js';
import { GPTDecoder } from '../models/gpt_decoder.js';
import { sampleToken, type SamplingOptions } from './sampling.js';

export interface GenerateOptions extends SamplingOptions {
  maxNewTokens: number;
  rng: Rng;
  /** Use the model's key/value cache if it has one (default true). */
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
  const contexts = prompts.map((p) => Array.from(p));
  const { blockSize, vocabSize: V } = model;
  const wasTraining = model.training;
  model.eval();
  const cached: CachedLanguageModel | null = opts.useCache !== false && supportsKVCache(model) ? model : null;
  const cache: KVCache | null = cached?.createKVCache(B) ?? null;
  const transposed = cache !== null ? transposeWeights(model.parameters()) : new Map();
  // One token a step after the prompt: the decoder runs it on buffers it keeps (same kernels, same bits).
  const decoder = cache !== null && model instanceof GPT && GPTDecoder.supports(model) ? new GPTDecoder(model, cache) : null;
  const lastRows = new Float32Array(B * V);
  const probs = new Float64Array(V);
  try {
    for (let step = 0; step < opts.maxNewTokens; step++) {
      const contextLength = contexts[0]!.length;
      tidy(() =>
        noGrad(() =>
          withTransposedWeights(transposed, () => {
            let logits: Tensor, n: number;
            if (cache !== null && contextLength <= blockSize) {
              // Feed what the cache has not seen: the whole prompt first, then one token a step.
              const start = cache.length;
              n = contextLength - start;
              if (n === 1 && decoder !== null) {
                lastRows.set(decoder.step(contexts.map((c) => c[start]!)));
                return;
              }
              logits = cached!.forwardCached(
                intTensor(
                  contexts.flatMap((c) => c.slice(start)),
                  [B, n],
                ),
                cache,
              );
            } else {
              // Past the block size (or with no cache): the whole cropped window, as nanoGPT's generate. A GPT
              // computes only what the last position's logits need (the same bits); the plain path stays as the
              // reference the fast one is tested against.
              const windows = contexts.map((c) => c.slice(-blockSize));
              const ids = intTensor(windows.flat(), [B, windows[0]!.length]);
              if (cache !== null && model instanceof GPT) {
                n = 1;
                logits = model.forwardLast(ids);
              } else {
                n = windows[0]!.length;
                logits = model.forward(ids).logits;
              }
            }
            for (let b = 0; b < B; b++) lastRows.set(logits.data.subarray(((b + 1) * n - 1) * V, (b + 1) * n * V), b * V);
          }),
        ),
      );
      const next = contexts.map((c, b) => {
        const token = sampleToken(lastRows.subarray(b * V, (b + 1) * V), opts, opts.rng, probs);
        c.push(token);
        return token;
      });
      yield next;
    }
  } finally {
    decoder?.dispose();
    cache?.dispose();
    for (const t of transposed.values()) t.dispose();
    model.train(wasTraining);
  }
}

/** Yields the new token ids of one prompt one by one (the prompt is not repeated). */
export function* generate(model: LanguageModel, prompt: ArrayLike<number>, opts: GenerateOptions): Generator<number> {
  for (const [token] of generateBatch(model, [prompt], opts)) yield token!;
}
