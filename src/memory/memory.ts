/**
 * A memory a model reads by attention, beyond its context window (kNN-LM, Khandelwal et al. 2020): for every
 * position of a text, the model's hidden state there is a key and the token that followed is its value. While
 * predicting, the model's current hidden state is the query; the memory answers with a next-token distribution,
 * the values weighted by a softmax over the best keys' scores, which is mixed with the model's own.
 *
 * A neighbour's score is the attention score of query and key (q.k / sqrt(d), or -|q - k|^2) plus a bonus for
 * each token of recent text the two places share exactly (context_index.ts): the hidden state says what the
 * model makes of the context, the bonus how much of it is literally the same, and a fact stated once is only
 * found again by the second. When a neighbour shares at least matchMin tokens the memory's share of the mix
 * rises from lambda to matchLambda: a near-exact match is trusted.
 *
 * Browser-safe: keys live in the arena (a Tensor), where the search kernels read them in place.
 */
import type { Tensor } from '../engine/tensor.js';
import { TsgptError } from '../errors.js';
import { longestMatches, matchLength } from './context_index.js';
import type { NextTokenMixer } from '../sample/generate.js';
import { exactSearch, keyNorms, type SearchResult } from './exact_search.js';
import { memoryMixer } from './memory_mixer.js';
import { memoryDistribution, scoreScale } from './knn.js';
import { checkScoring, type MemoryConfig, type MemoryScoring } from './memory_config.js';

/** The neighbours of each query, best first: [Q, k] each; empty slots have index -1. */
export interface Neighbours {
  k: number;
  /** Each neighbour's score: scaled attention score plus the context bonus (what the softmax reads). */
  scores: Float32Array;
  indices: Int32Array;
  /** Tokens of recent text each neighbour shares exactly with its query (up to MAX_MATCH). */
  matches: Uint8Array;
}

/** A key found for a query: its index, its scaled attention score, and the tokens of context it shares. */
export interface Candidate {
  index: number;
  score: number;
  match: number;
}

export class Memory {
  private norms: Tensor | null = null;

  /**
   * keys [count, width] in the arena; tokens: the text's token ids (count + 1 of them: key i's value is
   * tokens[i + 1]); order: the positions sorted by context (contextOrder).
   */
  constructor(
    readonly config: MemoryConfig,
    readonly keys: Tensor,
    readonly tokens: Int32Array,
    readonly order: Int32Array,
  ) {
    const { count, model } = config;
    if (keys.shape[0] !== count || keys.shape[1] !== model.width) {
      throw new TsgptError(`the memory's keys are [${keys.shape}], its config says [${count}, ${model.width}]`);
    }
    if (tokens.length !== count + 1 || order.length !== count) {
      throw new TsgptError(`the memory holds ${tokens.length} tokens and ${order.length} ordered positions for ${count} keys`);
    }
  }

  /** A mixer for generate's mix point with this memory and `scoring` (default: the recorded one). */
  mixer(scoring: MemoryScoring = this.config.scoring): NextTokenMixer {
    return memoryMixer(this, scoring);
  }

  get count(): number {
    return this.config.count;
  }

  get width(): number {
    return this.config.model.width;
  }

  /** The value of key i: the token that followed position i. */
  value(i: number): number {
    return this.tokens[i + 1]!;
  }

  /**
   * Each query's candidates: its k best keys by attention score and, with the context bonus on, the k
   * positions whose contexts agree longest with the query's (at least matchMin tokens), each with its scaled
   * attention score (no bonus) and the tokens of context it shares. `contexts` are the queries' tokens so far,
   * the last one the token at the query's position. `dense` gives the k best keys found elsewhere (a vector
   * database's proposals, rescored exactly: see key_index.ts) instead of the exact search.
   */
  candidates(queries: Float32Array, contexts: readonly ArrayLike<number>[], scoring: MemoryScoring, dense?: SearchResult): Candidate[][] {
    checkScoring(scoring, 'memory scoring', this.count);
    const d = this.width,
      Q = contexts.length,
      k = scoring.k;
    if (queries.length !== Q * d) throw new RangeError(`memory: ${queries.length} query floats for ${Q} contexts of width ${d}`);
    const scale = scoreScale(scoring.score, d);
    const l2 = scoring.score === 'l2';
    if (l2 && this.norms === null) this.norms = keyNorms(this.keys);
    if (dense !== undefined && dense.indices.length !== Q * k)
      throw new RangeError(`memory: ${dense.indices.length} results given for ${Q} queries of ${k}`);
    dense ??= exactSearch(this.keys, queries, k, scoring.score, { keyNorms: this.norms ?? undefined });
    const keys = this.keys.data;
    const matching = scoring.matchBonus > 0;
    return contexts.map((context, q) => {
      const query = queries.subarray(q * d, (q + 1) * d);
      const raw = new Map<number, number>();
      for (let j = 0; j < k; j++) {
        const i = dense.indices[q * k + j]!;
        if (i >= 0) raw.set(i, dense.scores[q * k + j]!);
      }
      if (matching) {
        for (const i of longestMatches(this.order, this.tokens, context, scoring.matchMin, k).positions) {
          if (raw.has(i)) continue;
          const key = keys.subarray(i * d, (i + 1) * d);
          const qk = dot(query, key);
          raw.set(i, l2 ? 2 * qk - dot(key, key) - dot(query, query) : qk);
        }
      }
      return [...raw].map(([index, score]) => ({
        index,
        score: score * scale,
        match: matching ? matchLength(this.tokens, index, context) : 0,
      }));
    });
  }

  /** The k best neighbours of each query by attention score plus context bonus (see candidates()). */
  neighbours(queries: Float32Array, contexts: readonly ArrayLike<number>[], scoring: MemoryScoring, dense?: SearchResult): Neighbours {
    const k = scoring.k,
      Q = contexts.length;
    const out: Neighbours = {
      k,
      scores: new Float32Array(Q * k).fill(-Infinity),
      indices: new Int32Array(Q * k).fill(-1),
      matches: new Uint8Array(Q * k),
    };
    this.candidates(queries, contexts, scoring, dense).forEach((found, q) => {
      const ranked = found.map((c) => ({ ...c, total: c.score + scoring.matchBonus * c.match }));
      ranked.sort((a, b) => b.total - a.total || a.index - b.index);
      ranked.slice(0, k).forEach((n, j) => {
        out.scores[q * k + j] = n.total;
        out.indices[q * k + j] = n.index;
        out.matches[q * k + j] = n.match;
      });
    });
    return out;
  }

  /**
   * The memory's next-token distribution for query q of `n` into `out` (length vocabSize, overwritten), and the
   * share of the mix it gets: matchLambda when a neighbour shares at least matchMin tokens, else lambda (0 when
   * it found nothing).
   */
  distribution(n: Neighbours, q: number, scoring: MemoryScoring, out: Float32Array): number {
    const row = q * n.k,
      end = row + n.k;
    // The scores are scaled already: the softmax divides them by the temperature alone.
    memoryDistribution(out, n.scores.subarray(row, end), n.indices.subarray(row, end), this.tokens.subarray(1), 1, scoring.temperature);
    if (n.indices[row]! < 0) return 0;
    let longest = 0;
    for (let j = row; j < end; j++) if (n.indices[j]! >= 0 && n.matches[j]! > longest) longest = n.matches[j]!;
    return scoring.matchBonus > 0 && longest >= scoring.matchMin ? scoring.matchLambda : scoring.lambda;
  }

  /** Frees the keys (and their norms). */
  dispose(): void {
    this.keys.dispose();
    this.norms?.dispose();
    this.norms = null;
  }
}

/** a . b, summed in float64. */
export function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}
