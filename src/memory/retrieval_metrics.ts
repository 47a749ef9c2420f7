/**
 * How well a scorer retrieves: each query of a pair set is scored against every item of the set (not a batch),
 * and the rank of its own item gives recall@1 (the answer ranks first), recall@5 (within the first five) and
 * the mean reciprocal rank. A tie counts against the answer: an item scoring exactly as high ranks before it,
 * so a scorer that cannot tell items apart earns no credit. Browser-safe.
 */
import { noGrad } from '../engine/autograd.js';
import { linear } from '../engine/ops/linear.js';
import { tensor, tidy, type Tensor } from '../engine/tensor.js';
import type { RetrievalHead } from './retrieval_head.js';
import type { VectorPairs } from './vector_pairs.js';

export interface RetrievalMetrics {
  /** Pairs evaluated: each query against this many items. */
  pairs: number;
  recallAt1: number;
  recallAt5: number;
  /** Mean of 1 / rank. */
  mrr: number;
}

/** Score matrices are computed a block of queries at a time, at most this many scores each. */
const SCORES_PER_BLOCK = 1 << 22;

/**
 * The rank (1 = first) of item i among all items for query i, from query rows [n, w] and item rows [n, w] scored
 * by their dot product: 1 + the number of other items scoring at least as high.
 */
export function answerRanks(queries: Tensor, items: Tensor): Int32Array {
  const n = queries.shape[0]!,
    w = queries.shape[1]!;
  if (queries.shape.length !== 2 || items.shape.length !== 2 || items.shape[0] !== n || items.shape[1] !== w) {
    throw new RangeError(`answerRanks: queries [${queries.shape}] and items [${items.shape}] must both be [n, w]`);
  }
  const ranks = new Int32Array(n);
  const block = Math.max(1, Math.floor(SCORES_PER_BLOCK / n));
  for (let start = 0; start < n; start += block) {
    const rows = Math.min(block, n - start);
    noGrad(() =>
      tidy(() => {
        const s = linear(tensor(queries.data.subarray(start * w, (start + rows) * w), [rows, w]), items).data;
        for (let b = 0; b < rows; b++) {
          const i = start + b,
            row = b * n,
            answer = s[row + i]!;
          let above = 0;
          for (let j = 0; j < n; j++) if (j !== i && s[row + j]! >= answer) above++;
          ranks[i] = 1 + above;
        }
      }),
    );
  }
  return ranks;
}

export function metricsFromRanks(ranks: ArrayLike<number>): RetrievalMetrics {
  const n = ranks.length;
  let top1 = 0,
    top5 = 0,
    reciprocal = 0;
  for (let i = 0; i < n; i++) {
    const r = ranks[i]!;
    if (r === 1) top1++;
    if (r <= 5) top5++;
    reciprocal += 1 / r;
  }
  return { pairs: n, recallAt1: top1 / n, recallAt5: top5 / n, mrr: reciprocal / n };
}

/**
 * The metrics of a head on a pair set; with no head, of plain dot-product retrieval on the raw vectors (the
 * identity head: the scale 1/sqrt(d) and any temperature change no rank).
 */
export function evaluateRetrieval(pairs: VectorPairs, head: RetrievalHead | null): RetrievalMetrics {
  if (pairs.count === 0) throw new RangeError('evaluateRetrieval: no pairs');
  return metricsFromRanks(
    tidy(() => {
      const q = tensor(pairs.queries, [pairs.count, pairs.width]);
      const k = tensor(pairs.items, [pairs.count, pairs.width]);
      if (head === null) return answerRanks(q, k);
      return noGrad(() => answerRanks(head.projectQueries(q), head.projectItems(k)));
    }),
  );
}
