/**
 * GPT-2's vocabulary as OpenAI published it: encoder.json (each token's text and id) and vocab.bpe (the 50,000
 * merges in the order they were learnt); Hugging Face's vocab.json and merges.txt hold the same data in the same
 * formats. Both write a token's bytes as printable characters through GPT-2's byte-to-unicode table, so that
 * spaces and control bytes survive a text file: byte 0x20 (space) is "Ġ", 0x0A (newline) is "Ċ".
 *
 * Reading them checks everything the tokenizer relies on and says what is wrong in one line: the 256 byte tokens
 * first in GPT-2's order, merge i making token 256 + i out of two earlier tokens, special tokens after those.
 */
import { TsgptError } from '../errors.js';
import { describe, oneLine } from '../validate.js';

/**
 * GPT-2's byte-to-unicode table. The printable Latin-1 bytes ('!' to '~', '¡' to '¬', '®' to 'ÿ') stand for
 * themselves; the other 68 (controls, space, soft hyphen) become U+0100 onwards, in byte order. The order of
 * this list, printable first, is also the order of the 256 byte tokens' ids.
 */
export const GPT2_BYTE_ORDER: readonly number[] = [...Array(256).keys()].sort(
  (a, b) => Number(isPrintable(b)) - Number(isPrintable(a)) || a - b,
);

/** The character that stands for each byte. */
export const GPT2_BYTE_CHARS: readonly string[] = (() => {
  const chars = new Array<string>(256);
  let extra = 0;
  for (const b of GPT2_BYTE_ORDER) chars[b] = String.fromCharCode(isPrintable(b) ? b : 0x100 + extra++);
  return chars;
})();

function isPrintable(b: number): boolean {
  return (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
}

export interface Gpt2VocabularyData {
  /** Merge i makes token 256 + i out of tokens merges[2i] and merges[2i + 1]. */
  merges: Int32Array;
  /** Entries of the encoder that are not bytes or merges (GPT-2's <|endoftext|>), with their ids. */
  specials: Map<string, number>;
}

/** Where each text came from, for messages: a path, or a file name. */
export interface Gpt2VocabularySources {
  encoder: string;
  merges: string;
}

/** The bytes as the files write them. */
export function gpt2TokenText(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += GPT2_BYTE_CHARS[b];
  return s;
}

export function parseGpt2Vocabulary(encoderJson: string, mergesText: string, from: Gpt2VocabularySources): Gpt2VocabularyData {
  const encoder = parseEncoder(encoderJson, from.encoder);
  const lines = mergeLines(mergesText, from.merges);
  const ordinary = 256 + lines.length;
  const fail = (message: string): never => {
    throw new TsgptError(`${from.encoder}: ${message}`);
  };

  for (let id = 0; id < 256; id++) {
    const text = GPT2_BYTE_CHARS[GPT2_BYTE_ORDER[id]!]!;
    const found = encoder.get(text);
    if (found !== id)
      fail(
        `the byte token ${describe(text)} has id ${describe(found)}, but GPT-2's byte tokens are ids 0 to 255 in its byte order (this one ${id})`,
      );
  }
  const merges = new Int32Array(2 * lines.length);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const space = line.indexOf(' ');
    const left = line.slice(0, space);
    const right = line.slice(space + 1);
    const want = 256 + i;
    if (space <= 0 || space === line.length - 1 || right.includes(' ')) {
      throw new TsgptError(
        `${from.merges}: line ${i + 2} should be two tokens and one space between them, got ${describe(line.slice(0, 40))}`,
      );
    }
    const leftId = encoder.get(left) ?? want;
    const rightId = encoder.get(right) ?? want;
    if (leftId >= want || rightId >= want) {
      throw new TsgptError(
        `${from.merges}: line ${i + 2} merges ${describe(leftId >= want ? left : right)}, which is not a token made before it ` +
          '(the files come from different vocabularies, or one is corrupt)',
      );
    }
    const id = encoder.get(left + right);
    if (id === undefined)
      fail(`it has no ${describe(left + right)}, which line ${i + 2} of ${from.merges} makes (the files come from different vocabularies)`);
    if (id !== want) fail(`${describe(left + right)} has id ${id}, but line ${i + 2} of ${from.merges} makes it token ${want}`);
    merges[2 * i] = leftId;
    merges[2 * i + 1] = rightId;
  }
  // Whatever else the encoder holds must be a special token, named <|...|> as GPT-2's <|endoftext|> is, numbered
  // after the merges. (Without the rule on names, merges cut short would pass, the rest of the encoder taken
  // for special tokens.)
  const specials = new Map<string, number>();
  for (const [text, id] of encoder) {
    if (id < ordinary) continue;
    if (!/^<\|[^|]*\|>$/.test(text)) {
      fail(
        `it has ${describe(text)} at id ${id}, past the ${ordinary} tokens that the ${lines.length} merges of ${from.merges} make, ` +
          'and it is not a special token like <|endoftext|> (the files come from vocabularies of different sizes)',
      );
    }
    specials.set(text, id);
  }
  if (encoder.size !== ordinary + specials.size) {
    fail(`it has ${encoder.size - specials.size} ordinary tokens, but the ${lines.length} merges of ${from.merges} make ${ordinary}`);
  }
  const specialIds = [...specials.values()].sort((a, b) => a - b);
  specialIds.forEach((id, k) => {
    if (id !== ordinary + k)
      fail(`special token ids must follow the ${ordinary} ordinary tokens without gaps, but id ${ordinary + k} is missing`);
  });
  return { merges, specials };
}

function parseEncoder(text: string, label: string): Map<string, number> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new TsgptError(`${label}: not valid JSON (${oneLine((e as Error).message)})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new TsgptError(`${label}: expected a JSON object from token text to id, got ${describe(json)}`);
  }
  const encoder = new Map<string, number>();
  const record = json as Record<string, unknown>;
  for (const key in record) {
    const id = record[key];
    if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 0 || id >= 2 ** 21) {
      throw new TsgptError(`${label}: the id of ${describe(key)} must be an integer from 0 to ${2 ** 21 - 1}, got ${describe(id)}`);
    }
    encoder.set(key, id);
  }
  return encoder;
}

/** The merge lines, "left right" each; line 1 is "#version: 0.2". */
function mergeLines(text: string, label: string): string[] {
  const lines = text.split(/\r?\n/);
  if (!lines[0]?.startsWith('#version')) {
    throw new TsgptError(`${label}: the first line should be "#version: 0.2", got ${describe(lines[0]?.slice(0, 40) ?? '')}`);
  }
  if (lines.at(-1) === '') lines.pop();
  return lines.slice(1);
}
