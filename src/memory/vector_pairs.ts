/**
 * Pairs of vectors, (a query, the item that answers it), row i of `items` answering row i of `queries`: what
 * a retrieval head trains and is measured on. Also the held-out split, and a synthetic set whose answers are
 * known by construction. Browser-safe.
 */
import { TsgptError } from '../errors.js';
import type { Rng } from '../engine/random.js';

export interface VectorPairs {
  count: number;
  /** Width of every query and item. */
  width: number;
  /** [count, width], row-major. */
  queries: Float32Array;
  /** [count, width]: row i answers query i. */
  items: Float32Array;
}

/** Checks two [rows, width] tables as a pair set; `queriesLabel` and `itemsLabel` name them in messages. */
export function makePairs(
  queries: { rows: number; width: number; data: Float32Array },
  items: { rows: number; width: number; data: Float32Array },
  queriesLabel: string,
  itemsLabel: string,
): VectorPairs {
  if (queries.width !== items.width) {
    throw new TsgptError(
      `${queriesLabel} holds vectors of width ${queries.width} but ${itemsLabel} of width ${items.width}; they must be of one width`,
    );
  }
  if (queries.rows !== items.rows) {
    throw new TsgptError(
      `${queriesLabel} holds ${queries.rows} vectors but ${itemsLabel} ${items.rows}; row i of one answers row i of the other`,
    );
  }
  if (queries.rows === 0) throw new TsgptError(`${queriesLabel} and ${itemsLabel} hold no vectors: there are no pairs`);
  return { count: queries.rows, width: queries.width, queries: queries.data, items: items.data };
}

/** The pairs at `indices`, in that order. */
export function selectPairs(pairs: VectorPairs, indices: readonly number[]): VectorPairs {
  const w = pairs.width;
  const queries = new Float32Array(indices.length * w),
    items = new Float32Array(indices.length * w);
  indices.forEach((p, i) => {
    queries.set(pairs.queries.subarray(p * w, (p + 1) * w), i * w);
    items.set(pairs.items.subarray(p * w, (p + 1) * w), i * w);
  });
  return { count: indices.length, width: w, queries, items };
}

/** 0 .. n-1 in a random order (Fisher-Yates). */
export function shuffledIndices(n: number, rng: Rng): number[] {
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}

/** The fewest pairs in any part of a split: a softmax over one item, or a ranking of one, measures nothing. */
export const MIN_PAIRS_PER_PART = 2;

export interface PairSplit {
  train: VectorPairs;
  /** Taken from the training share, to choose among the weights training passes through; null when none is asked for. */
  validation: VectorPairs | null;
  /** Never seen in training nor in choosing: what the metrics are reported on. */
  heldOut: VectorPairs;
}

/**
 * Splits the pairs at random: round(heldOut * count) held out, then round(validation * rest) of the rest for
 * validation, the remainder to train on. Every part asked for needs at least MIN_PAIRS_PER_PART pairs.
 */
export function splitPairs(pairs: VectorPairs, heldOut: number, validation: number, rng: Rng): PairSplit {
  if (!(heldOut > 0 && heldOut < 1)) throw new RangeError(`splitPairs: held-out fraction ${heldOut} is not in (0, 1)`);
  if (!(validation >= 0 && validation < 1)) throw new RangeError(`splitPairs: validation fraction ${validation} is not in [0, 1)`);
  const held = Math.round(heldOut * pairs.count);
  const checked = Math.round(validation * (pairs.count - held));
  const trained = pairs.count - held - checked;
  if (held < MIN_PAIRS_PER_PART || trained < MIN_PAIRS_PER_PART || (validation > 0 && checked < MIN_PAIRS_PER_PART)) {
    throw new TsgptError(
      `${pairs.count} pairs split into ${trained} to train on, ${validation > 0 ? `${checked} to validate on, ` : ''}${held} held out; ` +
        `each part needs at least ${MIN_PAIRS_PER_PART}`,
    );
  }
  const order = shuffledIndices(pairs.count, rng);
  return {
    train: selectPairs(pairs, order.slice(held + checked)),
    validation: validation > 0 ? selectPairs(pairs, order.slice(held, held + checked)) : null,
    heldOut: selectPairs(pairs, order.slice(0, held)),
  };
}

/**
 * A pair set whose right answers are known by construction: items x ~ N(0, I_d), and each query a fixed
 * hidden linear map of its item plus noise, q = A x + noise * e with e ~ N(0, I_d). A is half the identity
 * plus a random matrix of entries N(0, 1/d): the identity alone ranks the answers somewhat (the q.x of the
 * right item has a positive mean), and a head that learns A (W_q^T W_k close to A^-T, scaled) ranks them
 * far better, down to what the noise allows.
 */
export function syntheticPairs(count: number, width: number, noise: number, rng: Rng): VectorPairs {
  if (!Number.isSafeInteger(count) || count < 1) throw new RangeError(`syntheticPairs: count ${count}`);
  if (!Number.isSafeInteger(width) || width < 1) throw new RangeError(`syntheticPairs: width ${width}`);
  if (!(noise >= 0 && Number.isFinite(noise))) throw new RangeError(`syntheticPairs: noise ${noise}`);
  const A = new Float64Array(width * width);
  const std = 1 / Math.sqrt(width);
  for (let i = 0; i < width; i++) for (let j = 0; j < width; j++) A[i * width + j] = (i === j ? 0.5 : 0) + rng.normal() * std;
  const queries = new Float32Array(count * width),
    items = new Float32Array(count * width);
  const x = new Float64Array(width);
  for (let p = 0; p < count; p++) {
    for (let j = 0; j < width; j++) items[p * width + j] = x[j] = rng.normal();
    for (let i = 0; i < width; i++) {
      let s = 0;
      for (let j = 0; j < width; j++) s += A[i * width + j]! * x[j]!;
      queries[p * width + i] = s + noise * rng.normal();
    }
  }
  return { count, width, queries, items };
}

/** Scales every query and item to unit length in place (dot products become cosines); a zero row is refused. */
export function normalizePairs(pairs: VectorPairs): void {
  for (const [name, rows] of [
    ['query', pairs.queries],
    ['item', pairs.items],
  ] as const) {
    for (let i = 0; i < pairs.count; i++) {
      const row = rows.subarray(i * pairs.width, (i + 1) * pairs.width);
      let sum = 0;
      for (const v of row) sum += v * v;
      if (!(sum > 0)) throw new TsgptError(`${name} ${i} is all zeros and has no direction to normalise`);
      const inv = 1 / Math.sqrt(sum);
      for (let j = 0; j < row.length; j++) row[j]! *= inv;
    }
  }
}
