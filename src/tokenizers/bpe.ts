/**
 * A byte-level BPE tokenizer of one's own, as in Karpathy's minbpe: ids 0 to 255 are the bytes, merge i makes id
 * 256 + i out of two earlier ids, an optional split pattern keeps merges within words, and special tokens come
 * last. bpe_train.ts learns the merges from a text; this file encodes with them, and saves and reads them as a
 * small JSON file a person can read, one merge a line with the text of the token it makes:
 *
 *     {
 *       "type": "bpe",
 *       "version": 1,
 *       "vocab_size": 260,
 *       "pattern": "gpt2",
 *       "special_tokens": {"<|endoftext|>": 259},
 *       "merges": [
 *         [104, 101, "he"],
 *         [32, 116, " t"],
 *         [256, 32, "he "]
 *       ]
 *     }
 */
import { TsgptError } from '../errors.js';
import { describe } from '../validate.js';
import { ByteLevelBpe } from './byte_level_bpe.js';
import { bytesAsText } from './byte_text.js';
import { PairTable } from './pair_table.js';
import { SPLIT_PATTERN_NAMES, SPLIT_PATTERNS, type SplitPatternName } from './split_patterns.js';
import { tokenBytesFromMerges } from './token_bytes.js';
import type { TokenizerJSON } from './tokenizer.js';

/** The most tokens a vocabulary may hold: ids stay below 2^21, where the merge tables' keys are exact. */
export const MAX_BPE_VOCAB_SIZE = 2 ** 21;

const FORMAT_VERSION = 1;
const IDENTITY_BYTES = Array.from({ length: 256 }, (_, b) => b);

export interface BpeTokenizerJSON extends TokenizerJSON {
  readonly type: 'bpe';
  readonly version: number;
  readonly vocab_size: number;
  readonly pattern: SplitPatternName;
  readonly special_tokens: Record<string, number>;
  /** Merge i: the two ids it joins, and the text of the token it makes (bytes that are part of a character as \xNN). */
  readonly merges: [number, number, string][];
}

export class BpeTokenizer extends ByteLevelBpe {
  readonly pattern: SplitPatternName;
  /** Merge i joins ids merges[2i] and merges[2i + 1] into id 256 + i. */
  readonly merges: Int32Array;

  /** `specials` are numbered from 256 + the number of merges, in the order given. */
  constructor(merges: Int32Array, pattern: SplitPatternName, specials: readonly string[] = [], source = 'BPE tokenizer') {
    const count = merges.length / 2;
    const pairs = new PairTable(count);
    for (let i = 0; i < count; i++) {
      const [left, right] = [merges[2 * i]!, merges[2 * i + 1]!];
      if (!(left >= 0 && left < 256 + i && right >= 0 && right < 256 + i)) {
        throw new TsgptError(`${source}: merge ${i} joins ids ${left} and ${right}, but only ids below ${256 + i} exist before it`);
      }
      if (!pairs.add(left, right, 256 + i)) throw new TsgptError(`${source}: merge ${i} joins ids ${left} and ${right} again`);
    }
    const specialIds = new Map<string, number>();
    for (const name of specials) {
      if (typeof name !== 'string' || name === '')
        throw new TsgptError(`${source}: a special token must be non-empty text, got ${describe(name)}`);
      if (specialIds.has(name)) throw new TsgptError(`${source}: the special token ${describe(name)} is listed twice`);
      specialIds.set(name, 256 + count + specialIds.size);
    }
    if (256 + count + specialIds.size > MAX_BPE_VOCAB_SIZE) {
      throw new TsgptError(
        `${source}: ${256 + count + specialIds.size} tokens is more than the ${MAX_BPE_VOCAB_SIZE} a vocabulary may hold`,
      );
    }
    const bytes = tokenBytesFromMerges(IDENTITY_BYTES, merges, specialIds);
    super({ bytes, byteIds: Int32Array.from(IDENTITY_BYTES), pairs, specials: specialIds, split: SPLIT_PATTERNS[pattern].split });
    this.pattern = pattern;
    this.merges = merges;
  }

  /** Reads what toJSON wrote, checking everything; `source` (a path) names it in errors. */
  static fromJSON(json: unknown, source = 'BPE tokenizer JSON'): BpeTokenizer {
    if (typeof json !== 'object' || json === null || Array.isArray(json)) {
      throw new TsgptError(`${source}: expected a JSON object, got ${describe(json)}`);
    }
    const obj = json as Record<string, unknown>;
    if (obj.type !== 'bpe') throw new TsgptError(`${source}: "type" is ${describe(obj.type)}, expected "bpe"`);
    if (obj.version !== FORMAT_VERSION) {
      throw new TsgptError(`${source}: version ${describe(obj.version)} is not supported (this tsgpt reads ${FORMAT_VERSION})`);
    }
    const pattern = obj.pattern;
    if (!SPLIT_PATTERN_NAMES.includes(pattern as SplitPatternName)) {
      throw new TsgptError(`${source}: "pattern" must be one of ${SPLIT_PATTERN_NAMES.join(', ')}, got ${describe(pattern)}`);
    }
    const list = obj.merges;
    if (!Array.isArray(list)) throw new TsgptError(`${source}: "merges" must be an array, got ${describe(list)}`);
    const merges = new Int32Array(2 * list.length);
    list.forEach((entry: unknown, i) => {
      const ok = Array.isArray(entry) && entry.length === 3 && Number.isSafeInteger(entry[0]) && Number.isSafeInteger(entry[1]);
      if (!ok || typeof entry[2] !== 'string') {
        throw new TsgptError(`${source}: merges[${i}] must be [left id, right id, text], got ${describe(entry)}`);
      }
      merges[2 * i] = entry[0];
      merges[2 * i + 1] = entry[1];
    });
    const specials = obj.special_tokens;
    if (typeof specials !== 'object' || specials === null || Array.isArray(specials)) {
      throw new TsgptError(`${source}: "special_tokens" must be an object from text to id, got ${describe(specials)}`);
    }
    const byId = Object.entries(specials as Record<string, unknown>).sort((a, b) => Number(a[1]) - Number(b[1]));
    byId.forEach(([name, id], k) => {
      if (id !== 256 + list.length + k) {
        throw new TsgptError(
          `${source}: special token ${describe(name)} has id ${describe(id)}; special tokens take the ids after the last merge, from ${256 + list.length}`,
        );
      }
    });
    const declared = obj.vocab_size;
    const actual = 256 + list.length + byId.length;
    if (declared !== actual) {
      throw new TsgptError(
        `${source}: "vocab_size" is ${describe(declared)}, but 256 bytes, ${list.length} merges and ${byId.length} special tokens make ${actual}`,
      );
    }
    const tokenizer = new BpeTokenizer(
      merges,
      pattern as SplitPatternName,
      byId.map(([name]) => name),
      source,
    );
    // The text beside each merge is for people, but a mismatch means the ids were edited or damaged.
    list.forEach((entry: [number, number, string], i) => {
      const text = bytesAsText(tokenizer.tokenBytes(256 + i));
      if (entry[2] !== text) {
        throw new TsgptError(
          `${source}: merges[${i}] says it makes ${describe(entry[2])}, but ids ${entry[0]} and ${entry[1]} make ${describe(text)}`,
        );
      }
    });
    return tokenizer;
  }

  toJSON(): BpeTokenizerJSON {
    const count = this.merges.length / 2;
    const merges: [number, number, string][] = [];
    for (let i = 0; i < count; i++) merges.push([this.merges[2 * i]!, this.merges[2 * i + 1]!, bytesAsText(this.tokenBytes(256 + i))]);
    return {
      type: 'bpe',
      version: FORMAT_VERSION,
      vocab_size: this.vocabSize,
      pattern: this.pattern,
      special_tokens: Object.fromEntries(this.specialTokens),
      merges,
    };
  }

  /** The file's text: toJSON's object with one merge a line. */
  toFileText(): string {
    const { merges, ...head } = this.toJSON();
    const fields = Object.entries(head).map(([key, value]) => `  ${JSON.stringify(key)}: ${JSON.stringify(value)}`);
    const lines = merges.map((m) => `    ${JSON.stringify(m)}`);
    fields.push(lines.length === 0 ? '  "merges": []' : `  "merges": [\n${lines.join(',\n')}\n  ]`);
    return `{\n${fields.join(',\n')}\n}\n`;
  }
}
