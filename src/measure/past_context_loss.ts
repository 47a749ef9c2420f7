/**
 * How well a model predicts past its block size, rolling its key/value cache or cropping the window (see
 * PastContext in models/decoder.ts): texts several block sizes long are read token by token, and the loss of
 * every next token is averaged over bands of positions: within the block size, 1-2x, 2-4x, 4-8x it, and so on.
 * Both ways see the same texts and targets; within the block size they compute the same logits.
 */
import type { PastContext } from '../models/decoder.js';
import type { LanguageModel } from '../models/language_model.js';

/** The mean next-token loss of the positions from..to - 1 (the position of the token read, from 0). */
export interface LossBand {
  from: number;
  to: number;
  /** How many predictions the mean is over (positions times texts). */
  count: number;
  loss: number;
}

/**
 * Cuts `tokens` into `count` texts of `length` tokens (fewer if they run out), back to back from the start.
 * Each predicts its own tokens 1 .. length - 1.
 */
export function cutTexts(tokens: Int32Array, length: number, count: number): Int32Array[] {
  const n = Math.min(count, Math.floor(tokens.length / length));
  return Array.from({ length: n }, (_, i) => tokens.subarray(i * length, (i + 1) * length));
}

/** The bands of positions 0 .. length - 2 for a block size W: [0, W), [W, 2W), [2W, 4W), ... (the last cut short). */
export function positionBands(length: number, W: number): { from: number; to: number }[] {
  const last = length - 1,
    bands = [{ from: 0, to: Math.min(W, last) }];
  for (let from = W; from < last; from *= 2) bands.push({ from, to: Math.min(2 * from, last) });
  return bands;
}

/**
 * The next-token losses [texts][position] of texts (all of one length) read token by token, `batch` texts at
 * a time, by a decoder that rolls or crops past the block size. onText reports progress.
 */
export function nextTokenLosses(
  model: LanguageModel,
  texts: readonly Int32Array[],
  pastContext: PastContext,
  opts: { batch?: number; onText?: (done: number) => void } = {},
): Float64Array[] {
  const W = model.blockSize,
    V = model.vocabSize,
    batch = Math.max(1, Math.min(opts.batch ?? 16, texts.length));
  const losses: Float64Array[] = [];
  for (let first = 0; first < texts.length; first += batch) {
    const group = texts.slice(first, first + batch);
    const length = group[0]!.length;
    const decoder = model.decoder(group.length, { pastContext });
    try {
      const rows = group.map(() => new Float64Array(length - 1));
      for (let t = 0; t + 1 < length; t++) {
        // Rolling, the decoder reads the whole text so far; cropping, its last W tokens.
        const start = pastContext === 'crop' ? Math.max(0, t + 1 - W) : 0;
        const logits = decoder.step(group.map((text) => text.subarray(start, t + 1)));
        group.forEach((text, b) => {
          rows[b]![t] = crossEntropy(logits.subarray(b * V, (b + 1) * V), text[t + 1]!);
        });
      }
      losses.push(...rows);
    } finally {
      decoder.dispose();
    }
    opts.onText?.(first + group.length);
  }
  return losses;
}

/** The mean of losses [texts][position] over each band of positions. */
export function bandMeans(losses: readonly Float64Array[], bands: readonly { from: number; to: number }[]): LossBand[] {
  return bands.map(({ from, to }) => {
    let sum = 0,
      count = 0;
    for (const row of losses) {
      for (let t = from; t < to; t++) sum += row[t]!;
      count += to - from;
    }
    return { from, to, count, loss: sum / count };
  });
}

/** -log softmax(logits)[target], in float64. */
export function crossEntropy(logits: ArrayLike<number>, target: number): number {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]!);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i]! - max);
  return Math.log(sum) + max - logits[target]!;
}
