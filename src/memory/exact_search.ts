/**
 * Exact nearest-key search over a kNN-LM memory (Khandelwal et al., 2020): the memory holds one key per
 * position of a text (the model's hidden state there, a row of width d) with the next token as its value; a
 * query (the current hidden state) finds its k best keys, whose scores, softmaxed at a temperature, weight
 * their values. This file finds the keys, exactly (every key is scored), on the active kernels (the
 * WebAssembly SIMD ones on every thread, or the reference TypeScript), and runs in a browser too.
 *
 * Scores: 'dot' is q . k (scale it, by 1/sqrt(d) or a temperature, afterwards); 'l2' is -||q - k||^2, computed
 * as 2 q.k - ||k||^2 - ||q||^2 with the keys' squared norms from keyNorms(), made once per memory (how exact that
 * is: src/engine/kernels/search.ts). Results are best first: the higher score, the lower key index on equal
 * scores; a key whose score is NaN is never returned; slots past the last key found (k larger than the memory)
 * hold score -Infinity and index -1. The same on any thread count and whichever queries are searched together.
 *
 * The keys stay where they are: a Tensor, so in the arena, where the kernels read them in place (512 MB for a
 * million keys of width 128 is not copied). Queries are copied in; the search adds, besides the threads' scratch
 * (a tile of scores and each query's candidates), one buffer of candidates for a batch of queries: at most
 * CANDIDATE_BYTES, and each batch is one pass over the keys.
 */
import { kernels } from '../engine/backend.js';
import { SEARCH_BLOCK_ROWS } from '../engine/kernel_table.js';
import { Tensor, untracked } from '../engine/tensor.js';
import { check } from '../errors.js';

export type SearchScore = 'dot' | 'l2';

export interface SearchOptions {
  /** The keys' squared norms (keyNorms(keys)), needed by 'l2'; without them each call computes them again. */
  keyNorms?: Tensor;
  /** Search only the first `rows` keys (a memory still filling its tensor); default: all of them. */
  rows?: number;
}

/** The k best keys of each query, best first: [Q, k] each. */
export interface SearchResult {
  scores: Float32Array;
  indices: Int32Array;
}

/** Queries searched in one pass over the keys at most: more do not make the matrix product faster. */
const MAX_QUERY_BATCH = 256;
/** Bytes of block candidates (a score and an index, kb of each per block and query) a batch may take. */
const CANDIDATE_BYTES = 64 * 1024 * 1024;
/** Most results (Q k) a call returns: 2^28 scores and indices are 2 GB. */
const MAX_RESULTS = 2 ** 28;

/** The squared norm of each of the first `rows` keys (default all), as a [rows] tensor outside any tidy scope. */
export function keyNorms(keys: Tensor, rows?: number): Tensor {
  const [N, d] = keyShape(keys, rows);
  const norms = untracked(() => new Tensor([N]));
  // Views are taken after allocating: a plain (unshared) memory's views detach when it grows.
  kernels().squaredNorms(norms.data, keys.data, N, d);
  return norms;
}

/**
 * The k best of keys [N, d] for each query of `queries` (Q rows of d, anywhere), by `score`. Throws a
 * TsgptError for shapes that do not fit, k below 1, or a query that is not finite.
 */
export function exactSearch(keys: Tensor, queries: Float32Array, k: number, score: SearchScore, options: SearchOptions = {}): SearchResult {
  const [N, d] = keyShape(keys, options.rows);
  check(queries instanceof Float32Array, 'queries must be a Float32Array');
  check(queries.length % d === 0, `queries hold ${queries.length} floats, not a whole number of rows of the keys' width ${d}`);
  check(Number.isSafeInteger(k) && k >= 1, `k must be a whole number of at least 1, got ${k}`);
  check(score === 'dot' || score === 'l2', `score must be 'dot' or 'l2', got ${String(score)}`);
  for (let i = 0; i < queries.length; i++) check(Number.isFinite(queries[i]!), `query ${Math.floor(i / d)} holds ${queries[i]}`);
  const norms = options.keyNorms;
  if (norms !== undefined) {
    check(norms.dtype === 'f32' && norms.size >= N, `keyNorms must be a float tensor of at least ${N} values (keyNorms(keys))`);
  }
  const Q = queries.length / d;
  check(Q * k <= MAX_RESULTS, `${Q} queries of k = ${k} make more results than a call returns (${MAX_RESULTS})`);
  const result: SearchResult = { scores: new Float32Array(Q * k).fill(-Infinity), indices: new Int32Array(Q * k).fill(-1) };
  if (Q === 0 || N === 0) return result;

  const l2 = score === 'l2';
  const blockRows = searchBlockRows(k);
  const blocks = Math.ceil(N / blockRows);
  const kb = Math.min(k, blockRows, N);
  const perQuery = blocks * kb;
  const batch = Math.max(1, Math.min(Q, MAX_QUERY_BATCH, Math.floor(CANDIDATE_BYTES / (perQuery * 8))));
  const made = untracked(() => ({
    norms: l2 && norms === undefined ? keyNorms(keys, N) : null,
    queries: new Tensor([batch * d]),
    scores: new Tensor([batch * perQuery]),
    indices: new Tensor([batch * perQuery], 'i32'),
  }));
  try {
    const normTensor = l2 ? (norms ?? made.norms) : null;
    for (let q0 = 0; q0 < Q; q0 += batch) {
      const n = Math.min(batch, Q - q0);
      made.queries.data.set(queries.subarray(q0 * d, (q0 + n) * d));
      const K = kernels();
      K.searchBlocks(
        made.scores.data,
        made.indices.ints,
        made.queries.data,
        keys.data,
        normTensor === null ? null : normTensor.data,
        n,
        N,
        d,
        kb,
        blocks,
        blockRows,
        0,
        l2,
      );
      const to = q0 * k;
      K.searchMerge(
        result.scores.subarray(to, to + n * k),
        result.indices.subarray(to, to + n * k),
        made.scores.data,
        made.indices.ints,
        n,
        perQuery,
        k,
      );
    }
  } finally {
    made.norms?.dispose();
    made.queries.dispose();
    made.scores.dispose();
    made.indices.dispose();
  }
  return result;
}

/** Keys per block for a search of the k best (see SEARCH_BLOCK_ROWS): larger blocks for a larger k. */
export function searchBlockRows(k: number): number {
  return k <= 256 ? SEARCH_BLOCK_ROWS[0] : SEARCH_BLOCK_ROWS[1];
}

/** [rows, d] of a keys tensor, checked. */
function keyShape(keys: Tensor, rows: number | undefined): [number, number] {
  check(keys instanceof Tensor && keys.dtype === 'f32' && keys.shape.length === 2, 'keys must be a float tensor [N, d]');
  const [capacity, d] = keys.shape as [number, number];
  check(d >= 1, 'keys must have a width of at least 1');
  const N = rows ?? capacity;
  check(Number.isSafeInteger(N) && N >= 0 && N <= capacity, `rows must be a whole number from 0 to ${capacity}, got ${N}`);
  return [N, d];
}
