import { TsgptError, check } from '../errors.js';
import type { EncodeOptions, Tokenizer, TokenizerJSON } from './tokenizer.js';

export interface CharTokenizerJSON extends TokenizerJSON {
  readonly type: 'char';
  readonly chars: string[];
}

/** How many distinct unknown characters an error lists before summarising the rest as a count. */
const MAX_LISTED = 5;

/**
 * One token per Unicode code point, as in the lecture. Code points rather than UTF-16 units so that an emoji or
 * other astral character is one token and never split into two meaningless surrogate halves.
 */
export class CharTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly chars: readonly string[];
  private readonly ids: Map<number, number>;

  constructor(chars: readonly string[]) {
    this.chars = Object.freeze(validateChars(chars, 'tokenizer vocabulary'));
    this.vocabSize = this.chars.length;
    this.ids = new Map(this.chars.map((ch, id) => [ch.codePointAt(0)!, id]));
  }

  /** The vocabulary is sorted by code point so the same text always yields the same ids, whatever its order. */
  static fromText(text: string): CharTokenizer {
    check(text.length > 0, 'cannot build a character vocabulary from empty text');
    const seen = new Set<number>();
    for (let i = 0; i < text.length; ) {
      const cp = text.codePointAt(i)!;
      seen.add(cp);
      i += cp > 0xffff ? 2 : 1;
    }
    return new CharTokenizer([...seen].sort((a, b) => a - b).map((cp) => String.fromCodePoint(cp)));
  }

  static fromJSON(obj: unknown, source = 'tokenizer JSON'): CharTokenizer {
    check(
      typeof obj === 'object' && obj !== null && !Array.isArray(obj),
      () => `${source}: expected an object with "type" and "chars", got ${describeJSON(obj)}`,
    );
    const record = obj as Record<string, unknown>;
    check(record.type === 'char', () => `${source}: "type" is ${describeJSON(record.type)}, expected "char"`);
    return new CharTokenizer(validateChars(record.chars, source));
  }

  encode(text: string, options: EncodeOptions = {}): Int32Array {
    const policy = options.unknown ?? 'error';
    // Checked at run time too: options often come straight from CLI flags or JSON.
    check(
      policy === 'error' || policy === 'skip' || policy === 'replace',
      () => `unknown-character policy must be "error", "skip" or "replace", got ${describeJSON(policy)}`,
    );
    let replacementId = -1;
    if (policy === 'replace') {
      const r = options.replacement;
      check(r !== undefined, 'replacing unknown characters needs a replacement character');
      check(isSingleCodePoint(r), () => `replacement ${showChar(r)} must be a single character`);
      replacementId = this.ids.get(r.codePointAt(0)!) ?? -1;
      check(replacementId >= 0, () => `replacement ${showChar(r)} is not in the vocabulary`);
    }

    const out = new Int32Array(text.length);
    let n = 0;
    let unknown: Set<number> | undefined;
    for (let i = 0; i < text.length; ) {
      const cp = text.codePointAt(i)!;
      i += cp > 0xffff ? 2 : 1;
      const id = this.ids.get(cp);
      if (id !== undefined) out[n++] = id;
      else if (policy === 'replace') out[n++] = replacementId;
      else if (policy === 'error') (unknown ??= new Set()).add(cp);
    }
    if (unknown !== undefined) {
      const all = [...unknown];
      const listed = all.slice(0, MAX_LISTED).map((cp) => showChar(String.fromCodePoint(cp)));
      const rest = all.length > MAX_LISTED ? ` and ${all.length - MAX_LISTED} more` : '';
      throw new TsgptError(`${options.label ?? 'text'} has characters outside the vocabulary: ${listed.join(', ')}${rest}`);
    }
    // Astral characters and skipped ones make the output shorter than the UTF-16 length we allocated.
    return n === out.length ? out : out.slice(0, n);
  }

  decode(ids: ArrayLike<number>): string {
    const parts = new Array<string>(ids.length);
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      check(
        Number.isInteger(id) && id >= 0 && id < this.vocabSize,
        () => `token id ${id} at position ${i} is outside the vocabulary (ids 0 to ${this.vocabSize - 1})`,
      );
      parts[i] = this.chars[id]!;
    }
    return parts.join('');
  }

  toJSON(): CharTokenizerJSON {
    return { type: 'char', chars: [...this.chars] };
  }
}

function isSingleCodePoint(s: string): boolean {
  return s.length === 1 || (s.length === 2 && s.codePointAt(0)! > 0xffff);
}

function validateChars(chars: unknown, source: string): string[] {
  check(Array.isArray(chars), () => `${source}: "chars" must be an array of single characters, got ${describeJSON(chars)}`);
  check(chars.length > 0, () => `${source}: "chars" is empty; a vocabulary needs at least one character`);
  const firstIndex = new Map<number, number>();
  const result: string[] = [];
  for (let i = 0; i < chars.length; i++) {
    const ch: unknown = chars[i];
    check(
      typeof ch === 'string' && isSingleCodePoint(ch),
      () => `${source}: chars[${i}] is ${typeof ch === 'string' ? showChar(ch) : describeJSON(ch)}, not a single character`,
    );
    const cp = ch.codePointAt(0)!;
    const earlier = firstIndex.get(cp);
    check(earlier === undefined, () => `${source}: chars[${i}] repeats ${showChar(ch)} (already chars[${earlier}])`);
    firstIndex.set(cp, i);
    result.push(ch);
  }
  return result;
}

/**
 * A character as a JSON string literal, with anything invisible or confusable on a terminal (controls, format
 * characters, odd spaces, lone combining marks) spelled as \u escapes so the one-line message stays readable.
 */
export function showChar(s: string): string {
  let out = '';
  for (const ch of JSON.stringify(s)) {
    if (ch !== ' ' && /[\p{C}\p{Z}\p{M}]/u.test(ch)) {
      for (let k = 0; k < ch.length; k++) out += `\\u${ch.charCodeAt(k).toString(16).padStart(4, '0')}`;
    } else {
      out += ch;
    }
  }
  return out;
}

function describeJSON(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  if (typeof value === 'string') return showChar(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}
