/**
 * Learning a byte-level BPE vocabulary from a text, as minbpe's train() does, with the same result: split the
 * text with the pattern, then repeatedly merge the adjacent pair of ids that occurs most often (across all
 * pieces, overlapping pairs counted as minbpe counts them), into the next id. Where several pairs occur equally
 * often, the one that occurs first in the text wins, as Python's max() over minbpe's insertion-ordered counts.
 *
 * minbpe recounts every pair of the whole text for every merge. Here each distinct piece is kept once with the
 * number of times it occurs, the pair counts are kept up to date by each merge, and each pair knows the pieces
 * it occurs in, so a merge touches only those pieces: Tiny Shakespeare to 512 tokens takes about a second.
 * Special tokens are cut out of the text first: merges never reach into them.
 */
import { TsgptError, check } from '../errors.js';
import { BpeTokenizer, MAX_BPE_VOCAB_SIZE } from './bpe.js';
import { findLoneSurrogate } from './byte_text.js';
import { SPLIT_PATTERN_NAMES, SPLIT_PATTERNS, type SplitPatternName } from './split_patterns.js';

export interface TrainBpeOptions {
  /** The whole vocabulary: 256 bytes, the merges, the special tokens. */
  vocabSize: number;
  /** Default 'gpt2'. */
  pattern?: SplitPatternName;
  specialTokens?: readonly string[];
  /** Called after each merge, for progress. */
  onMerge?: (merge: LearntMerge) => void;
  /** Names the text in error messages. */
  label?: string;
}

export interface LearntMerge {
  /** 0 for the first merge. */
  index: number;
  left: number;
  right: number;
  id: number;
  /** How often the pair occurred when it was merged. */
  count: number;
  /** The bytes of the new token. */
  bytes: Uint8Array;
}

/** Pair keys pack two ids below 2^21 into one exact double. */
const ID_RANGE = 2 ** 21;

interface Occurrence {
  piece: number;
  at: number;
}

interface PairStat {
  left: number;
  right: number;
  count: number;
  /** The pieces the pair may occur in (a piece can be listed twice, or no longer hold the pair). */
  pieces: number[];
}

export function trainBpe(text: string, options: TrainBpeOptions): BpeTokenizer {
  const { vocabSize, pattern = 'gpt2', specialTokens = [], label = 'training text' } = options;
  check(SPLIT_PATTERN_NAMES.includes(pattern), () => `split pattern must be one of ${SPLIT_PATTERN_NAMES.join(', ')}, got "${pattern}"`);
  const floor = 256 + specialTokens.length;
  check(
    Number.isSafeInteger(vocabSize) && vocabSize >= floor && vocabSize <= MAX_BPE_VOCAB_SIZE,
    () =>
      `vocabulary size must be a whole number from ${floor} (256 bytes and ${specialTokens.length} special tokens) to ${MAX_BPE_VOCAB_SIZE}, got ${vocabSize}`,
  );
  const lone = findLoneSurrogate(text);
  check(lone < 0, () => `${label} has an unpaired surrogate at character ${lone}, which has no UTF-8 bytes to learn from`);

  const corpus = new PieceCorpus(text, pattern, specialTokens);
  const mergeCount = vocabSize - floor;
  const merges = new Int32Array(2 * mergeCount);
  const tokens = Array.from({ length: 256 }, (_, b) => Uint8Array.of(b));
  for (let i = 0; i < mergeCount; i++) {
    const best = corpus.mostFrequentPair();
    if (best === undefined) {
      throw new TsgptError(
        `${label} has no pair of tokens left to merge after ${i} merges: it is too short for a vocabulary of ${vocabSize} (at most ${floor + i} here)`,
      );
    }
    const id = 256 + i;
    const count = best.count;
    corpus.merge(best, id);
    merges[2 * i] = best.left;
    merges[2 * i + 1] = best.right;
    const bytes = new Uint8Array(tokens[best.left]!.length + tokens[best.right]!.length);
    bytes.set(tokens[best.left]!);
    bytes.set(tokens[best.right]!, tokens[best.left]!.length);
    tokens.push(bytes);
    options.onMerge?.({ index: i, left: best.left, right: best.right, id, count, bytes });
  }
  return new BpeTokenizer(merges, pattern, specialTokens);
}

/** The distinct pieces of the text as id sequences, how often each occurs, and the counts of their pairs. */
class PieceCorpus {
  /** Piece p's ids are ids[starts[p], starts[p] + lengths[p]); merging shortens them in place. */
  private readonly ids: Int32Array;
  private readonly starts: Int32Array;
  private readonly lengths: Int32Array;
  private readonly occurrences: Int32Array;
  private readonly pairs = new Map<number, PairStat>();

  constructor(text: string, pattern: SplitPatternName, specials: readonly string[]) {
    // Counted in a Map, whose order of insertion is the order each piece first occurs in: the tie-break needs it.
    const counts = new Map<string, number>();
    const split = SPLIT_PATTERNS[pattern].split;
    for (const stretch of stretchesBetween(text, specials)) {
      for (let i = 0; i < stretch.length; ) {
        const end = split(stretch, i);
        const piece = stretch.slice(i, end);
        counts.set(piece, (counts.get(piece) ?? 0) + 1);
        i = end;
      }
    }
    const encoder = new TextEncoder();
    const encoded = [...counts.keys()].map((piece) => encoder.encode(piece));
    const total = encoded.reduce((sum, bytes) => sum + bytes.length, 0);
    this.ids = new Int32Array(total);
    this.starts = new Int32Array(encoded.length);
    this.lengths = new Int32Array(encoded.length);
    this.occurrences = Int32Array.from(counts.values());
    let at = 0;
    encoded.forEach((bytes, p) => {
      this.starts[p] = at;
      this.lengths[p] = bytes.length;
      this.ids.set(bytes, at);
      at += bytes.length;
      for (let k = 1; k < bytes.length; k++) this.add(bytes[k - 1]!, bytes[k]!, this.occurrences[p]!, p);
    });
  }

  /** The pair with the highest count, the first to occur in the text among equals; undefined when none is left. */
  mostFrequentPair(): PairStat | undefined {
    let best: PairStat | undefined;
    let bestFirst: Occurrence | undefined;
    for (const stat of this.pairs.values()) {
      if (best !== undefined && stat.count < best.count) continue;
      if (best === undefined || stat.count > best.count) {
        best = stat;
        bestFirst = undefined;
        continue;
      }
      // A tie: the order of first occurrence decides. Computed only for ties, and for the holder once.
      bestFirst ??= this.firstOccurrence(best);
      const first = this.firstOccurrence(stat);
      if (first.piece < bestFirst.piece || (first.piece === bestFirst.piece && first.at < bestFirst.at)) {
        best = stat;
        bestFirst = first;
      }
    }
    return best;
  }

  /**
   * Replaces every occurrence of the pair, left to right, by `id`, and updates the counts of the pairs around
   * each: (before, left) becomes (before, id) and (right, after) becomes (id, after). Working left to right in
   * place, "before" is already the rewritten id, which makes runs like "aaaa" come out as minbpe's do.
   */
  merge(pair: PairStat, id: number): void {
    const { left, right } = pair;
    const ids = this.ids;
    for (const p of pair.pieces) {
      const start = this.starts[p]!;
      const end = start + this.lengths[p]!;
      const times = this.occurrences[p]!;
      let write = start;
      for (let read = start; read < end; ) {
        if (read + 1 < end && ids[read] === left && ids[read + 1] === right) {
          if (write > start) {
            this.add(ids[write - 1]!, left, -times, p);
            this.add(ids[write - 1]!, id, times, p);
          }
          if (read + 2 < end) {
            this.add(right, ids[read + 2]!, -times, p);
            this.add(id, ids[read + 2]!, times, p);
          }
          this.add(left, right, -times, p);
          ids[write++] = id;
          read += 2;
        } else {
          ids[write++] = ids[read++]!;
        }
      }
      this.lengths[p] = write - start;
    }
  }

  /** Changes a pair's count by `delta` (piece p holds it); a pair whose count reaches zero is forgotten. */
  private add(left: number, right: number, delta: number, p: number): void {
    const key = left * ID_RANGE + right;
    let stat = this.pairs.get(key);
    if (stat === undefined) {
      stat = { left, right, count: 0, pieces: [] };
      this.pairs.set(key, stat);
    }
    stat.count += delta;
    if (stat.count === 0) this.pairs.delete(key);
    else if (delta > 0 && stat.pieces[stat.pieces.length - 1] !== p) stat.pieces.push(p);
  }

  /** Where the pair first occurs in the text: the first piece that holds it (pieces are in order of first occurrence), and where in it. */
  private firstOccurrence(stat: PairStat): Occurrence {
    const first = { piece: Number.POSITIVE_INFINITY, at: 0 };
    for (const p of stat.pieces) {
      if (p >= first.piece) continue;
      const start = this.starts[p]!;
      const end = start + this.lengths[p]! - 1;
      for (let k = start; k < end; k++) {
        if (this.ids[k] === stat.left && this.ids[k + 1] === stat.right) {
          first.piece = p;
          first.at = k - start;
          break;
        }
      }
    }
    return first;
  }
}

/** The text between occurrences of the special tokens (longest first where two start at one place). */
function stretchesBetween(text: string, specials: readonly string[]): string[] {
  if (specials.length === 0) return [text];
  const names = [...specials].sort((a, b) => b.length - a.length).map((s) => s.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&'));
  return text.split(new RegExp(names.join('|'), 'u')).filter((s) => s !== '');
}
