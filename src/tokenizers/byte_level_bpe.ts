/**
 * What GPT-2's tokenizer and a trained (minbpe-style) one share: text becomes UTF-8 bytes, a split pattern cuts
 * it into pieces, each piece's bytes are merged pair by pair (byte_pair_merge.ts), and special tokens such as
 * <|endoftext|> stand for themselves. The subclasses only say where the vocabulary comes from and how it is
 * saved.
 *
 * Speed comes from three things: the split is a hand-written scanner for GPT-2's pattern (gpt2_split.ts), each
 * distinct piece is merged once and its ids kept in a cache (ordinary text repeats its words), and the merge
 * itself is O(n log n) for long pieces.
 */
import { TsgptError, check } from '../errors.js';
import { PieceMerger } from './byte_pair_merge.js';
import type { PairTable } from './pair_table.js';
import { PieceCache } from './piece_cache.js';
import type { TokenBytes } from './token_bytes.js';
import type { EncodeOptions, Tokenizer, TokenizerJSON } from './tokenizer.js';
import { findLoneSurrogate } from './byte_text.js';
import { showChar } from './char.js';

/** Where the piece of `text` that starts at `start` ends; `start < text.length`. */
export type PieceSplitter = (text: string, start: number) => number;

export interface ByteLevelVocabulary {
  /** Every token's bytes, special tokens last (tokenBytesFromMerges). */
  bytes: TokenBytes;
  /** Which id each single byte starts as. */
  byteIds: Int32Array;
  /** The merges: which id two adjacent ids become. A pair's merged id is also its rank: lower merges first. */
  pairs: PairTable;
  /** Special tokens and their ids, which are the last ones. */
  specials: ReadonlyMap<string, number>;
  split: PieceSplitter;
}

/** Pieces longer than this (in UTF-16 units) are merged every time rather than cached: they rarely repeat. */
const MAX_CACHED_PIECE = 64;

export abstract class ByteLevelBpe implements Tokenizer {
  readonly vocabSize: number;
  readonly specialTokens: ReadonlyMap<string, number>;
  private readonly pool: Uint8Array;
  private readonly offsets: Int32Array;
  private readonly byteIds: Int32Array;
  private readonly merger: PieceMerger;
  private readonly split: PieceSplitter;
  private readonly specialPattern: RegExp | null;
  private readonly cache = new PieceCache();
  private scratch = new Int32Array(256);
  private out = new Int32Array(0);
  private outLength = 0;

  protected constructor(vocab: ByteLevelVocabulary) {
    this.pool = vocab.bytes.pool;
    this.offsets = vocab.bytes.offsets;
    this.vocabSize = this.offsets.length - 1;
    this.byteIds = vocab.byteIds;
    this.merger = new PieceMerger(vocab.pairs);
    this.split = vocab.split;
    this.specialTokens = vocab.specials;
    // Longest first, so that of two special tokens starting at one place the longer wins.
    const names = [...vocab.specials.keys()].sort((a, b) => b.length - a.length);
    this.specialPattern = names.length > 0 ? new RegExp(names.map(escapeRegExp).join('|'), 'g') : null;
  }

  abstract toJSON(): TokenizerJSON;

  /**
   * Text to ids. Unpaired UTF-16 surrogates are the only text UTF-8 cannot hold: `unknown` says whether they
   * are an error (the default), skipped, or replaced (by `replacement`, default U+FFFD, which is what
   * TextEncoder and js-tiktoken do). `special` says what the names of special tokens in the text are.
   */
  encode(text: string, options: EncodeOptions = {}): Int32Array {
    const label = options.label ?? 'text';
    text = this.representable(text, options, label);
    this.out = new Int32Array(Math.max(16, text.length >> 2)); // about a token per four characters of prose; it grows
    this.outLength = 0;
    const special = options.special ?? 'error';
    check(
      special === 'error' || special === 'allow' || special === 'ordinary',
      () => `special-token policy must be "error", "allow" or "ordinary", got ${JSON.stringify(special)}`,
    );
    const pattern = this.specialPattern;
    if (pattern === null || special === 'ordinary') {
      this.encodeOrdinary(text);
    } else if (special === 'error') {
      pattern.lastIndex = 0;
      const found = pattern.exec(text);
      if (found !== null) {
        const id = this.specialTokens.get(found[0])!;
        throw new TsgptError(
          `${label} contains the special token ${showChar(found[0])} at character ${found.index}: say whether it ` +
            `is the special token (special "allow" gives id ${id}) or ordinary text (special "ordinary")`,
        );
      }
      this.encodeOrdinary(text);
    } else {
      let from = 0;
      pattern.lastIndex = 0;
      for (let found = pattern.exec(text); found !== null; found = pattern.exec(text)) {
        // Each stretch between special tokens is split on its own, as if it were the whole text.
        if (found.index > from) this.encodeOrdinary(text.slice(from, found.index));
        this.push(this.specialTokens.get(found[0])!);
        from = pattern.lastIndex;
      }
      if (from < text.length) this.encodeOrdinary(from === 0 ? text : text.slice(from));
    }
    const ids = this.out.slice(0, this.outLength);
    this.out = new Int32Array(0);
    return ids;
  }

  /** Ids to text; byte sequences that are not UTF-8 (a character cut off by `ids`'s ends) become U+FFFD. */
  decode(ids: ArrayLike<number>): string {
    return new TextDecoder('utf-8').decode(this.decodeBytes(ids));
  }

  /** Ids to the exact bytes they stand for. */
  decodeBytes(ids: ArrayLike<number>): Uint8Array {
    const { offsets, pool } = this;
    let total = 0;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      check(
        Number.isInteger(id) && id >= 0 && id < this.vocabSize,
        () => `token id ${id} at position ${i} is outside the vocabulary (ids 0 to ${this.vocabSize - 1})`,
      );
      total += offsets[id + 1]! - offsets[id]!;
    }
    const bytes = new Uint8Array(total);
    let at = 0;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      const start = offsets[id]!;
      const end = offsets[id + 1]!;
      for (let k = start; k < end; k++) bytes[at++] = pool[k]!;
    }
    return bytes;
  }

  /** The bytes one token stands for (a copy). */
  tokenBytes(id: number): Uint8Array {
    check(
      Number.isInteger(id) && id >= 0 && id < this.vocabSize,
      () => `token id ${id} is outside the vocabulary (ids 0 to ${this.vocabSize - 1})`,
    );
    return this.pool.slice(this.offsets[id]!, this.offsets[id + 1]!);
  }

  /** Applies the unknown-character policy to unpaired surrogates; returns text that is all valid Unicode. */
  private representable(text: string, options: EncodeOptions, label: string): string {
    const policy = options.unknown ?? 'error';
    check(
      policy === 'error' || policy === 'skip' || policy === 'replace',
      () => `unknown-character policy must be "error", "skip" or "replace", got ${JSON.stringify(policy)}`,
    );
    const at = findLoneSurrogate(text);
    if (at < 0) return text;
    if (policy === 'error') {
      throw new TsgptError(
        `${label} has an unpaired surrogate U+${text.charCodeAt(at).toString(16).toUpperCase()} at character ${at}, which is not a ` +
          'character and has no UTF-8 bytes (unknown "replace" encodes it as U+FFFD, "skip" drops it)',
      );
    }
    const replacement = policy === 'skip' ? '' : (options.replacement ?? '\ufffd');
    check(findLoneSurrogate(replacement) < 0, 'the replacement for unpaired surrogates must itself be valid text');
    return text.replace(/[\ud800-\udfff]/gu, replacement);
  }

  private encodeOrdinary(text: string): void {
    const end = text.length;
    const split = this.split;
    const byteIds = this.byteIds;
    for (let i = 0; i < end; ) {
      const stop = split(text, i);
      const c = text.charCodeAt(i);
      if (stop === i + 1 && c < 0x80) this.push(byteIds[c]!);
      else this.encodePiece(text, i, stop);
      i = stop;
    }
  }

  private encodePiece(text: string, start: number, end: number): void {
    if (end - start > MAX_CACHED_PIECE) {
      const n = this.mergePiece(text, start, end); // first: it may replace the scratch buffer
      this.pushAll(this.scratch, 0, n);
      return;
    }
    const cache = this.cache;
    const hash = PieceCache.hash(text, start, end);
    const known = cache.find(text, start, end, hash);
    if (known >= 0) {
      const from = cache.idStart(known);
      this.pushAll(cache.ids, from, from + cache.idCount(known));
      return;
    }
    const n = this.mergePiece(text, start, end);
    cache.add(text, start, end, hash, this.scratch, n);
    this.pushAll(this.scratch, 0, n);
  }

  /** Writes the piece's UTF-8 bytes as byte-token ids into the scratch buffer, merges them, returns the count. */
  private mergePiece(text: string, start: number, end: number): number {
    if (this.scratch.length < 3 * (end - start)) this.scratch = new Int32Array(3 * (end - start));
    const ids = this.scratch;
    const byteIds = this.byteIds;
    let n = 0;
    for (let i = start; i < end; i++) {
      let c = text.charCodeAt(i);
      if (c < 0x80) {
        ids[n++] = byteIds[c]!;
      } else if (c < 0x800) {
        ids[n++] = byteIds[0xc0 | (c >> 6)]!;
        ids[n++] = byteIds[0x80 | (c & 0x3f)]!;
      } else if ((c & 0xfc00) === 0xd800 && i + 1 < end && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
        const cp = ((c - 0xd800) << 10) + (text.charCodeAt(++i) - 0xdc00) + 0x10000;
        ids[n++] = byteIds[0xf0 | (cp >> 18)]!;
        ids[n++] = byteIds[0x80 | ((cp >> 12) & 0x3f)]!;
        ids[n++] = byteIds[0x80 | ((cp >> 6) & 0x3f)]!;
        ids[n++] = byteIds[0x80 | (cp & 0x3f)]!;
      } else {
        // An unpaired surrogate cannot get here through encode(); TextEncoder's answer, U+FFFD, if it does.
        if ((c & 0xf800) === 0xd800) c = 0xfffd;
        ids[n++] = byteIds[0xe0 | (c >> 12)]!;
        ids[n++] = byteIds[0x80 | ((c >> 6) & 0x3f)]!;
        ids[n++] = byteIds[0x80 | (c & 0x3f)]!;
      }
    }
    return this.merger.merge(ids, n);
  }

  private pushAll(ids: Int32Array, from: number, to: number): void {
    for (let k = from; k < to; k++) this.push(ids[k]!);
  }

  private push(id: number): void {
    if (this.outLength === this.out.length) {
      const bigger = new Int32Array(this.out.length * 2);
      bigger.set(this.out);
      this.out = bigger;
    }
    this.out[this.outLength++] = id;
  }
}

function escapeRegExp(s: string): string {
  return s.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&');
}
