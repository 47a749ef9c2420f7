/**
 * Pairs of passages from a text, where the right answer is known: the built-in pair sets a retrieval head is
 * measured on with a model's own states. Strings in, strings out (passage_states.ts embeds them). Browser-safe.
 *
 *   damaged-lines   a line with characters dropped or swapped (the query) and the line it came from (the item)
 *   replies         a speech (the query) and the reply that follows it (the item); speeches are the text's
 *                   paragraphs, as in Tiny Shakespeare ("NAME:\nlines\n\n")
 *
 * Items are distinct (a repeated line or reply is kept once, where it first appears), so each query has one
 * right answer. The pairs kept are drawn at random from all there are.
 */
import type { Rng } from '../engine/random.js';
import { TsgptError } from '../errors.js';
import { shuffledIndices } from './vector_pairs.js';

export const TEXT_PAIR_SETS = ['damaged-lines', 'replies'] as const;
export type TextPairSet = (typeof TEXT_PAIR_SETS)[number];

export interface TextPairs {
  queries: string[];
  /** items[i] answers queries[i]. */
  items: string[];
}

export interface TextPairOptions {
  /** How many pairs to keep at most. */
  count: number;
  /** damaged-lines: the chance that a character is dropped, and again that it is swapped with the next (default 0.1). */
  damage?: number;
  /** damaged-lines: the shortest line used, in characters (default 24). */
  minLineLength?: number;
}

export function textPairs(set: TextPairSet, text: string, rng: Rng, opts: TextPairOptions): TextPairs {
  const pairs = set === 'damaged-lines' ? damagedLines(text, rng, opts) : replies(text);
  if (pairs.queries.length === 0) {
    throw new TsgptError(
      set === 'damaged-lines'
        ? `the text has no line of ${opts.minLineLength ?? DEFAULT_MIN_LINE} characters or more to damage: no pairs`
        : 'the text has no speech followed by a reply (paragraphs separated by blank lines): no pairs',
    );
  }
  const keep = shuffledIndices(pairs.queries.length, rng).slice(0, opts.count);
  return { queries: keep.map((i) => pairs.queries[i]!), items: keep.map((i) => pairs.items[i]!) };
}

const DEFAULT_MIN_LINE = 24;

/** Every distinct line long enough, with a damaged copy; speaker lines ("ROMEO:") are left out. */
function damagedLines(text: string, rng: Rng, opts: TextPairOptions): TextPairs {
  const rate = opts.damage ?? 0.1,
    minLength = opts.minLineLength ?? DEFAULT_MIN_LINE;
  const seen = new Set<string>();
  const queries: string[] = [],
    items: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd();
    if ([...line].length < minLength || line.endsWith(':') || seen.has(line)) continue;
    seen.add(line);
    items.push(line);
    queries.push(damage(line, rate, rng));
  }
  return { queries, items };
}

/**
 * Each character is dropped with chance `rate`, else swapped with the next with chance `rate`; a line that
 * comes out unchanged loses one character at random, so every query differs from its item.
 */
export function damage(line: string, rate: number, rng: Rng): string {
  const chars = [...line];
  const out: string[] = [];
  for (let i = 0; i < chars.length; i++) {
    const u = rng.uniform();
    if (u < rate) continue;
    if (u < 2 * rate && i + 1 < chars.length) {
      out.push(chars[i + 1]!, chars[i]!);
      i++;
    } else out.push(chars[i]!);
  }
  const damaged = out.join('');
  if (damaged !== line) return damaged;
  const drop = rng.int(chars.length);
  return chars.slice(0, drop).join('') + chars.slice(drop + 1).join('');
}

/** Consecutive paragraphs: each one's reply is the next, when that reply has not appeared before. */
function replies(text: string): TextPairs {
  const speeches = text
    .split(/\n[ \t]*\n/)
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const seen = new Set<string>();
  const queries: string[] = [],
    items: string[] = [];
  for (let i = 0; i + 1 < speeches.length; i++) {
    const reply = speeches[i + 1]!;
    if (seen.has(reply)) continue;
    seen.add(reply);
    queries.push(speeches[i]!);
    items.push(reply);
  }
  return { queries, items };
}
