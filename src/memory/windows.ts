/**
 * A text through the model in overlapping windows of its block size, `stride` tokens apart, several windows a
 * forward pass: every position is read once, with the most context its window gives (a position past the first
 * window has at least window - stride tokens before it). Building a memory keeps the hidden states as keys;
 * measuring one uses them as queries, with the logits.
 */
import { noGrad } from '../engine/autograd.js';
import { intTensor, tidy } from '../engine/tensor.js';
import { TsgptError } from '../errors.js';
import type { HiddenPoint } from '../models/decoder.js';
import type { GPT } from '../models/gpt.js';

export interface WindowOptions {
  /** Tokens between window starts (default half the block size). */
  stride?: number;
  /** Windows run together in one forward pass (default 16). */
  batch?: number;
  /** Hand out the logits too (default false). */
  logits?: boolean;
}

/** Positions from .. to - 1 of the text, read this pass: their hidden states [to - from, width] and logits [.., V]. */
export interface WindowRows {
  from: number;
  to: number;
  hidden: Float32Array;
  logits: Float32Array | null;
}

/**
 * Reads positions 0 .. tokens.length - 2 (each has a next token) and calls visit() with the rows of each pass,
 * in order; returns the window and stride it used. The model is put in eval mode meanwhile.
 */
export function readInWindows(
  model: GPT,
  tokens: Int32Array,
  point: HiddenPoint,
  opts: WindowOptions,
  visit: (rows: WindowRows) => void,
): { window: number; stride: number } {
  const count = tokens.length - 1;
  if (count < 1) throw new TsgptError('a text of at least two tokens is needed: a position and the token after it');
  const window = Math.min(model.blockSize, count);
  const stride = opts.stride ?? Math.max(1, window >> 1);
  if (!Number.isSafeInteger(stride) || stride < 1 || stride > model.blockSize) {
    throw new TsgptError(`the stride must be a whole number from 1 to the block size ${model.blockSize}, got ${stride}`);
  }
  const batch = opts.batch ?? 16;
  const width = model.config.nEmbd,
    V = model.vocabSize;
  // Window starts over the inputs 0 .. count - 1; the last window ends at the last input.
  const starts: number[] = [];
  for (let s = 0; s + window < count; s += stride) starts.push(s);
  starts.push(count - window);
  const wasTraining = model.training;
  model.eval();
  try {
    let covered = 0;
    for (let i = 0; i < starts.length; i += batch) {
      const group = starts.slice(i, i + batch);
      const from = Math.max(covered, group[0]!),
        to = group[group.length - 1]! + window;
      const rows: WindowRows = {
        from,
        to,
        hidden: new Float32Array((to - from) * width),
        logits: opts.logits ? new Float32Array((to - from) * V) : null,
      };
      tidy(() =>
        noGrad(() => {
          const ids = intTensor(
            group.flatMap((s) => Array.from(tokens.subarray(s, s + window))),
            [group.length, window],
          );
          const out = model.forwardHidden(ids, point);
          const h = out.hidden.data,
            l = opts.logits ? out.logits.data : null;
          let seen = from;
          group.forEach((s, b) => {
            // Positions earlier windows have not covered: each keeps the longest context it was read with.
            const first = Math.max(seen, s),
              end = s + window;
            rows.hidden.set(h.subarray((b * window + first - s) * width, (b * window + window) * width), (first - from) * width);
            if (l !== null) rows.logits!.set(l.subarray((b * window + first - s) * V, (b * window + window) * V), (first - from) * V);
            seen = end;
          });
        }),
      );
      covered = to;
      visit(rows);
    }
  } finally {
    model.train(wasTraining);
  }
  return { window, stride };
}
