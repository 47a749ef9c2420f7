/**
 * Where a memory's nearest keys come from. The embedded default is the exact search (every key scored, on the
 * kernels); a vector database can stand in for it when a memory outgrows what exact search serves fast enough.
 * Either way the Memory gets the same thing: each query's k best keys, best first, with their scores against the
 * stored keys (a database's own distances are not used, some being approximations from compressed vectors: its
 * job is to propose, and tsgpt scores its proposals, so the softmax reads the same scores as on the exact path,
 * to float32 rounding, and only the keys the database missed differ).
 */
import { dot, type Memory } from './memory.js';
import { exactSearch, type SearchResult, type SearchScore } from './exact_search.js';

/** Proposes each query's k best keys of one memory. Asynchronous, since a database answers off the thread. */
export interface KeyIndex {
  /** What answers, for messages and reports: 'exact', 'lancedb ivf_pq', ... */
  readonly kind: string;
  /** The k best keys of each query (Q rows of the memory's width), best first: [Q, k] each. */
  search(queries: Float32Array, k: number, score: SearchScore): Promise<SearchResult>;
  /** Lets go of what the index holds open. */
  close(): Promise<void>;
}

/** The exact search over the memory's keys, as a KeyIndex. */
export function exactKeyIndex(memory: Memory): KeyIndex {
  return {
    kind: 'exact',
    search: async (queries, k, score) => exactSearch(memory.keys, queries, k, score),
    close: async () => {},
  };
}

/**
 * Scores each query's proposed keys exactly and keeps the k best, best first (higher score, then lower index),
 * in the exact search's terms: 'dot' is q.k, 'l2' is 2 q.k - |k|^2 - |q|^2. `proposals[q]` are key indices (any
 * order; duplicates and out-of-range entries are dropped); slots past the last proposal hold -Infinity and -1.
 */
export function rescoreProposals(
  keys: Float32Array,
  width: number,
  queries: Float32Array,
  proposals: readonly ArrayLike<number>[],
  k: number,
  score: SearchScore,
): SearchResult {
  const Q = proposals.length;
  const count = keys.length / width;
  const out: SearchResult = { scores: new Float32Array(Q * k).fill(-Infinity), indices: new Int32Array(Q * k).fill(-1) };
  for (let q = 0; q < Q; q++) {
    const query = queries.subarray(q * width, (q + 1) * width);
    const qq = score === 'l2' ? dot(query, query) : 0;
    const scored: { index: number; score: number }[] = [];
    const seen = new Set<number>();
    for (const i of Array.from(proposals[q]!)) {
      if (!(Number.isInteger(i) && i >= 0 && i < count) || seen.has(i)) continue;
      seen.add(i);
      const key = keys.subarray(i * width, (i + 1) * width);
      const qk = dot(query, key);
      scored.push({ index: i, score: score === 'l2' ? 2 * qk - dot(key, key) - qq : qk });
    }
    scored.sort((a, b) => b.score - a.score || a.index - b.index);
    scored.slice(0, k).forEach((s, j) => {
      out.scores[q * k + j] = s.score;
      out.indices[q * k + j] = s.index;
    });
  }
  return out;
}

/** Recall@k of `found` against `truth` (both [Q, k] as a search returns them): the share of true keys found. */
export function recallAt(found: SearchResult, truth: SearchResult, k: number): number {
  const Q = truth.indices.length / k;
  let hits = 0,
    total = 0;
  for (let q = 0; q < Q; q++) {
    const got = new Set(found.indices.subarray(q * k, (q + 1) * k));
    for (let j = 0; j < k; j++) {
      const i = truth.indices[q * k + j]!;
      if (i < 0) continue;
      total++;
      if (got.has(i)) hits++;
    }
  }
  return total === 0 ? 1 : hits / total;
}
