/**
 * Exact nearest-key search, the look-up of a kNN-LM memory (Khandelwal et al., 2020): Q queries [Q, d]
 * against N keys [N, d], the kb best keys per query by one of two scores,
 *   dot  q . k                                   (attention's score; any 1/sqrt(d) or temperature is the caller's)
 *   l2   -||q - k||^2, computed as 2 q.k - ||k||^2 - ||q||^2   (kNN-LM's), with ||k||^2 from squaredNorms.
 *
 * Work is cut into blocks of `blockRows` keys, a constant of the caller's (not of the thread count): each block
 * writes its own kb best per query into its own slot, and searchMerge then takes the k best of every block's
 * candidates. A thread computes whole blocks, and a block's candidates do not depend on which thread took it,
 * so results are the same on any thread count. "Best" is one total order, in every backend: the higher score
 * first, the lower key index on equal scores; a NaN score is never a candidate. An empty slot (a block, or a
 * memory, with fewer keys than asked for) holds score -Infinity and index -1.
 *
 * How exact the l2 form is. Each of q.k, ||k||^2 and ||q||^2 is a float32 sum of d products (rounded once here,
 * in float64; in the WebAssembly twin one multiply-add at a time, so off by up to about d u times its terms'
 * magnitudes, u = 2^-24), and the two subtractions round once each. The error in the score is therefore bounded
 * by about (d + 2) u (||q|| + ||k||)^2: relative to the vectors' size, not to their distance. For near neighbours,
 * whose ||q - k||^2 is far smaller than ||q||^2, that is a large relative error, which a direct sum of
 * (q_i - k_i)^2 would not have (it costs a pass over the keys per query that the product form shares with the
 * dot score and a matrix product). With hidden states of width 128 and norm about 11 (after LayerNorm) the bound
 * is about 4e-3 and the typical error (a random walk, sqrt(d) u (||q|| + ||k||)^2) about 3e-4: a softmax over
 * scores at temperature 1 moves its weights by that fraction. Because ||q||^2 and ||k||^2 are summed exactly as
 * q.k is, a key equal to the query scores exactly 0, in both backends. test/unit/search.test.ts checks the bound.
 */

/** out[i] = sum over j < d of x[i d + j]^2, for N rows (rounded once to float32). */
export function squaredNorms(out: Float32Array, x: Float32Array, N: number, d: number): void {
  for (let i = 0; i < N; i++) out[i] = dotRows(x, i * d, x, i * d, d);
}

/**
 * The kb best of each block of blockRows keys (the last block may be shorter) for each of Q queries, into
 * scores and indices laid out [Q, blocks, kb]: query i's candidates from block b at (i blocks + b) kb, in no
 * set order (this reference writes them best first), empty slots last. keys[0] is key `start` of the whole
 * memory (a multiple of blockRows: threads give each chunk of blocks its own start), so key j here has index
 * start + j and its block is (start + j) / blockRows, rounded down. keyNorms (squaredNorms of the keys; null
 * for the dot score) is read when l2.
 */
export function searchBlocks(
  scores: Float32Array,
  indices: Int32Array,
  queries: Float32Array,
  keys: Float32Array,
  keyNorms: Float32Array | null,
  Q: number,
  N: number,
  d: number,
  kb: number,
  blocks: number,
  blockRows: number,
  start: number,
  l2: boolean,
): void {
  const blockScores = new Float32Array(Math.min(blockRows, N));
  for (let b0 = 0; b0 < N; b0 += blockRows) {
    const rows = Math.min(blockRows, N - b0);
    const block = (start + b0) / blockRows;
    for (let i = 0; i < Q; i++) {
      const queryNorm = l2 ? dotRows(queries, i * d, queries, i * d, d) : 0;
      const found: number[] = [];
      for (let j = 0; j < rows; j++) {
        const dot = dotRows(queries, i * d, keys, (b0 + j) * d, d);
        // The twin's float32 operations, each rounded: 2 dot is exact, then two subtractions.
        const s = l2 ? Math.fround(Math.fround(2 * dot - keyNorms![b0 + j]!) - queryNorm) : dot;
        blockScores[j] = s;
        if (!Number.isNaN(s)) found.push(j);
      }
      found.sort((a, b) => blockScores[b]! - blockScores[a]! || a - b);
      const at = (i * blocks + block) * kb;
      for (let r = 0; r < kb; r++) {
        const j = found[r];
        scores[at + r] = j === undefined ? -Infinity : blockScores[j]!;
        indices[at + r] = j === undefined ? -1 : start + b0 + j;
      }
    }
  }
}

/**
 * The k best of n candidates per query, best first: candidateScores and candidateIndices [Q, n] (searchBlocks'
 * slots, all of a query's blocks together) into scores and indices [Q, k]. Candidates with index -1 or a NaN
 * score are skipped; slots past the last candidate are left empty (-Infinity, -1).
 */
export function searchMerge(
  scores: Float32Array,
  indices: Int32Array,
  candidateScores: Float32Array,
  candidateIndices: Int32Array,
  Q: number,
  n: number,
  k: number,
): void {
  for (let i = 0; i < Q; i++) {
    const found: number[] = [];
    for (let c = i * n; c < (i + 1) * n; c++) {
      if (candidateIndices[c]! >= 0 && !Number.isNaN(candidateScores[c]!)) found.push(c);
    }
    found.sort((a, b) => candidateScores[b]! - candidateScores[a]! || candidateIndices[a]! - candidateIndices[b]!);
    for (let r = 0; r < k; r++) {
      const c = found[r];
      scores[i * k + r] = c === undefined ? -Infinity : candidateScores[c]!;
      indices[i * k + r] = c === undefined ? -1 : candidateIndices[c]!;
    }
  }
}

/** x[xo ..] . y[yo ..] over d floats, summed in float64 and rounded once to float32. */
function dotRows(x: Float32Array, xo: number, y: Float32Array, yo: number, d: number): number {
  let s = 0;
  for (let j = 0; j < d; j++) s += x[xo + j]! * y[yo + j]!;
  return Math.fround(s);
}
