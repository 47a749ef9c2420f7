/**
 * The split patterns a trained BPE tokenizer may use, by name (the name is what its file records): GPT-2's,
 * GPT-4's (minbpe's default), or none, where the whole text between special tokens is one piece and merges may
 * cross spaces and punctuation (minbpe's BasicTokenizer).
 */
import type { PieceSplitter } from './byte_level_bpe.js';
import { GPT2_SPLIT_PATTERN, gpt2PieceEnd } from './gpt2_split.js';

export const SPLIT_PATTERN_NAMES = ['gpt2', 'gpt4', 'none'] as const;
export type SplitPatternName = (typeof SPLIT_PATTERN_NAMES)[number];

/**
 * GPT-4's (cl100k) pattern in JavaScript's dialect: RegExp has no (?i:...) group, so the contractions list both
 * cases, and no possessive quantifiers, which this pattern does not need (no alternative can match by giving
 * characters back to them).
 */
export const GPT4_SPLIT_PATTERN = String.raw`'(?:[sSdDmMtT]|[lL][lL]|[vV][eE]|[rR][eE])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+`;

const gpt4 = new RegExp(GPT4_SPLIT_PATTERN, 'uy');

function gpt4PieceEnd(text: string, start: number): number {
  gpt4.lastIndex = start;
  const match = gpt4.exec(text);
  // Every character is matched by one alternative or another; a step of one code point guards the loop anyway.
  if (match !== null && match[0].length > 0) return start + match[0].length;
  return start + (text.codePointAt(start)! > 0xffff ? 2 : 1);
}

export const SPLIT_PATTERNS: Readonly<Record<SplitPatternName, { source: string; split: PieceSplitter }>> = {
  gpt2: { source: GPT2_SPLIT_PATTERN, split: gpt2PieceEnd },
  gpt4: { source: GPT4_SPLIT_PATTERN, split: gpt4PieceEnd },
  none: { source: '', split: (text) => text.length },
};
