/**
 * Picking the next token from logits: temperature, then top-k, then top-p (nucleus), then a draw from the
 * seeded generator. Temperature 0 means greedy (always the most likely token).
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

/** Samples one token id from a row of logits. `probs` is scratch space of the same length. */
export function sampleToken(logits: Float32Array, opts: SamplingOptions, rng: Rng, probs = new Float64Array(logits.length)): number {
  const V = logits.length;
  let best = 0;
  for (let i = 1; i < V; i++) if (logits[i]! > logits[best]!) best = i;
  if (opts.temperature === 0) return best;
  const max = logits[best]!;
  for (let i = 0; i < V; i++) probs[i] = (logits[i]! - max) / opts.temperature;
  const topK = opts.topK ?? 0;
  if (topK > 0 && topK < V) {
    // The k-th largest value is the cut-off, as nanoGPT's torch.topk then "logits < v[-1] = -inf"; ties at the
    // cut-off all stay in.
    const cutoff = [...probs.subarray(0, V)].sort((a, b) => b - a)[topK - 1]!;
    for (let i = 0; i < V; i++) if (probs[i]! < cutoff) probs[i] = -Infinity;
  }
  let sum = 0;
  for (let i = 0; i < V; i++) {
    probs[i] = Math.exp(probs[i]!);
    sum += probs[i]!;
  }
  for (let i = 0; i < V; i++) probs[i]! /= sum;
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
