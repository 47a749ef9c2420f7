/**
 * What a memory search shows a person: each neighbour of a query as a passage of the stored text, with the
 * weight attention gives it (the softmax of the neighbours' scores at the temperature: the weights sum to 1),
 * the tokens of context it shares with the query, and the token that followed it (its value).
 */
import type { Tokenizer } from '../tokenizers/tokenizer.js';
import type { Memory, Neighbours } from './memory.js';

export interface Passage {
  /** The key's position in the stored text. */
  index: number;
  weight: number;
  score: number;
  match: number;
  /** The text up to and including the key's position, the value (the next token), and the text after it. */
  before: string;
  value: string;
  after: string;
}

/** Query q's neighbours in `n` as passages, best first, of about `span` tokens before and span / 3 after. */
export function passages(memory: Memory, tokenizer: Tokenizer, n: Neighbours, q: number, temperature: number, span = 60): Passage[] {
  const live: { index: number; score: number; match: number }[] = [];
  for (let j = q * n.k; j < (q + 1) * n.k; j++) {
    if (n.indices[j]! >= 0) live.push({ index: n.indices[j]!, score: n.scores[j]!, match: n.matches[j]! });
  }
  if (live.length === 0) return [];
  const max = live[0]!.score;
  const exps = live.map((h) => Math.exp((h.score - max) / temperature));
  const sum = exps.reduce((a, b) => a + b, 0);
  const tokens = memory.tokens;
  const text = (from: number, to: number) => tokenizer.decode(tokens.subarray(Math.max(0, from), Math.min(tokens.length, to)));
  return live.map((h, j) => ({
    index: h.index,
    weight: exps[j]! / sum,
    score: h.score,
    match: h.match,
    before: text(h.index + 1 - span, h.index + 1),
    value: text(h.index + 1, h.index + 2),
    after: text(h.index + 2, h.index + 2 + Math.round(span / 3)),
  }));
}
