/**
 * Picking the next token from logits: temperature, then top-k, then top-p (nucleus), then a draw from the
 * seeded generator. Temperature 0 means greedy (always the most likely token). The steps are separate so that
 * generate can mix another distribution in after the temperature (see NextTokenMixer); sampleToken runs them
 * all.
 */
import type { Rng } from '../engine/random.js';

export interface SamplingOptions {
  /** Divides the logits: below 1 sharpens the distribution, above 1 flattens it; 0 is greedy. */
  temperature: number;
  /** Keep only the k most likely tokens (0 or undefined: all). */
  topK?: number;
  /** Keep the smallest set of most likely tokens whose probability reaches p (1 or undefined: all). */
  topP?: number;
}

/** Samples one token id from a row of logits. `probs` is scratch space of at least the same length. */
export function sampleToken(logits: Float32Array, opts: SamplingOptions, rng: Rng, probs?: Float64Array): number {
  return pickToken(temperatureWeights(logits, opts.temperature, probs), opts, rng);
}

/**
 * The next-token distribution after temperature, unnormalised, into scratch (or a new array): exp((logit - max) / temperature),
 * so the most likely token weighs 1 (softmax(logits / temperature) up to the sum). At temperature 0 all the
 * weight is on the most likely token (the first of equals).
 */
export function temperatureWeights(logits: Float32Array, temperature: number, scratch?: Float64Array): Float64Array {
  const V = logits.length;
  const out = scratch === undefined ? new Float64Array(V) : scratch.subarray(0, V);
  const best = argmax(logits);
  if (temperature === 0) {
    out.fill(0);
    out[best] = 1;
    return out;
  }
  const max = logits[best]!;
  for (let i = 0; i < V; i++) out[i] = Math.exp((logits[i]! - max) / temperature);
  return out;
}

/** Divides weights by their sum, in place; returns them. */
export function normalise(weights: Float64Array): Float64Array {
  let sum = 0;
  for (let i = 0; i < weights.length; i++) sum += weights[i]!;
  if (!(sum > 0 && sum < Infinity)) throw new RangeError(`sampling: the weights sum to ${sum}, not a distribution`);
  for (let i = 0; i < weights.length; i++) weights[i]! /= sum;
  return weights;
}

/**
 * Top-k, then top-p, then a draw, from weights (a distribution, normalised or not; changed in place): at
 * temperature 0, the heaviest token, with no draw.
 */
export function pickToken(weights: Float64Array, opts: SamplingOptions, rng: Rng): number {
  const V = weights.length;
  const best = argmax(weights);
  if (opts.temperature === 0) return best;
  const topK = opts.topK ?? 0;
  if (topK > 0 && topK < V) {
    // The k-th largest weight is the cut-off, as nanoGPT's torch.topk then "logits < v[-1] = -inf" (weights
    // rank as logits do); ties at the cut-off all stay in.
    const cutoff = [...weights].sort((a, b) => b - a)[topK - 1]!;
    for (let i = 0; i < V; i++) if (weights[i]! < cutoff) weights[i] = 0;
  }
  const probs = normalise(weights);
  const topP = opts.topP ?? 1;
  if (topP < 1) {
    const order = Array.from({ length: V }, (_, i) => i).sort((a, b) => probs[b]! - probs[a]! || a - b);
    let mass = 0,
      kept = 0;
    while (kept < V && (kept === 0 || mass < topP)) mass += probs[order[kept++]!]!;
    for (let r = kept; r < V; r++) probs[order[r]!] = 0;
    for (let i = 0; i < V; i++) probs[i]! /= mass;
  }
  let u = rng.uniform(),
    last = best;
  for (let i = 0; i < V; i++) {
    if (probs[i]! <= 0) continue;
    last = i;
    u -= probs[i]!;
    if (u < 0) return i;
  }
  return last; // rounding left a sliver of u: the last token with any probability takes it
}

/** The index of the largest value (the first of equals). */
function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}
