/**
 * nanoGPT's meta.pkl: a character vocabulary as data/shakespeare_char/prepare.py pickles it,
 *   {'vocab_size': 65, 'itos': {0: '\n', 1: ' ', ...}, 'stoi': {'\n': 0, ' ': 1, ...}}
 * which sample.py looks for in data/<dataset>/. Written for a tsgpt character model; read (with no globals
 * allowed at all: it is plain data) into a CharTokenizer whose ids are the same. Browser-safe.
 */
import { TsgptError } from '../errors.js';
import { unpickle } from '../io/pickle.js';
import { pickle, py } from '../io/pickle_write.js';
import { CharTokenizer, showChar } from '../tokenizers/char.js';
import { describe } from '../validate.js';

export function encodeNanoGptMeta(tokenizer: CharTokenizer): Uint8Array {
  const chars = tokenizer.chars;
  return pickle(
    py.record({
      vocab_size: py.int(chars.length),
      itos: py.dict(chars.map((ch, i) => [py.int(i), ch])),
      stoi: py.dict(chars.map((ch, i) => [ch, py.int(i)])),
    }),
  );
}

/** The vocabulary of a meta.pkl; anything that is not one tsgpt can use is refused in one line. */
export function decodeNanoGptMeta(bytes: Uint8Array, label: string): CharTokenizer {
  const fail: (problem: string) => never = (problem) => {
    throw new TsgptError(`${label}: ${problem}; tsgpt reads the character vocabularies nanoGPT's prepare.py writes`);
  };
  const meta = unpickle(bytes, { label, globals: {} });
  if (!(meta instanceof Map)) return fail(`holds ${describePy(meta)}, not a dictionary`);
  const itos = meta.get('itos');
  const stoi = meta.get('stoi');
  if (!(itos instanceof Map)) return fail(`its itos is ${describePy(itos)}, not a dictionary of ids to characters`);
  const chars: string[] = [];
  for (let id = 0; id < itos.size; id++) {
    const ch = itos.get(id);
    if (ch === undefined) fail(`itos has ${itos.size} entries but no id ${id}`);
    if (typeof ch !== 'string' || !(ch.length === 1 || (ch.length === 2 && ch.codePointAt(0)! > 0xffff))) {
      fail(`itos[${id}] is ${typeof ch === 'string' ? showChar(ch) : describePy(ch)}, not a single character`);
    }
    chars.push(ch as string);
  }
  if (chars.length === 0) fail('its itos is empty');
  const first = new Map<string, number>();
  chars.forEach((ch, id) => {
    const earlier = first.get(ch);
    if (earlier !== undefined) fail(`itos gives ${showChar(ch)} two ids, ${earlier} and ${id}`);
    first.set(ch, id);
  });
  if (stoi !== undefined) {
    if (!(stoi instanceof Map) || stoi.size !== chars.length || chars.some((ch, id) => stoi.get(ch) !== id)) {
      fail('its stoi is not the inverse of its itos');
    }
  }
  const size = meta.get('vocab_size');
  if (size !== undefined && size !== chars.length) fail(`vocab_size is ${describePy(size)} but itos holds ${chars.length} characters`);
  return new CharTokenizer(chars);
}

/** A value from a pickle, for a message. */
function describePy(v: unknown): string {
  if (v instanceof Map) return 'a dictionary';
  if (v instanceof Uint8Array) return 'bytes';
  if (typeof v === 'bigint') return String(v);
  return describe(v);
}
