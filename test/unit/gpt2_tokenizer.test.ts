/**
 * GPT-2's tokenizer against the reference implementations (js-tiktoken, gpt-tokenizer; dev dependencies): the
 * same ids on all of Tiny Shakespeare and on the torture text, the same pieces as the split pattern's RegExp,
 * decoding that gives the text back, and the policies for unpaired surrogates and special tokens.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { encode as gptTokenizerEncode } from 'gpt-tokenizer/encoding/gpt2';
import { getEncoding } from 'js-tiktoken';
import { TsgptError } from '../../src/errors.js';
import { GPT2_VOCAB } from '../../src/node/gpt2_vocab.js';
import { GPT2Tokenizer } from '../../src/tokenizers/gpt2.js';
import { GPT2_SPLIT_PATTERN, gpt2PieceEnd } from '../../src/tokenizers/gpt2_split.js';
import { GPT2_BYTE_CHARS, GPT2_BYTE_ORDER } from '../../src/tokenizers/gpt2_vocab_files.js';
import { gpt2ForTests, gpt2VocabFiles } from '../helpers/gpt2_vocab.js';
import { tortureText } from '../helpers/torture_text.js';

const SHAKESPEARE = fileURLToPath(new URL('../../../../shared/data/tinyshakespeare.txt', import.meta.url));
const noShakespeare = !existsSync(SHAKESPEARE) && 'shared Tiny Shakespeare not present';
const tiktoken = getEncoding('gpt2');
const gpt2 = gpt2ForTests();
const torture = tortureText();
/** The torture text as valid Unicode: what TextEncoder (and so js-tiktoken) makes of its unpaired surrogates. */
const tortureWellFormed = torture.replace(/[\ud800-\udfff]/gu, '\ufffd');

function assertSameIds(actual: Int32Array, expected: readonly number[], text: string): void {
  if (actual.length === expected.length && actual.every((id, i) => id === expected[i])) return;
  const i = expected.findIndex((id, k) => id !== actual[k]);
  const around = (ids: ArrayLike<number>) => Array.from(ids).slice(Math.max(0, i - 3), i + 4);
  assert.fail(
    `ids differ at token ${i} of ${expected.length} (got ${actual.length}): expected ${around(expected)} ` +
      `(${JSON.stringify(tiktoken.decode(around(expected)))}), got ${around(actual)}; text starts ${JSON.stringify(text.slice(0, 40))}`,
  );
}

test('"Hello, world" is [15496, 11, 995], and decodes back', () => {
  const ids = gpt2.encode('Hello, world');
  assert.deepEqual([...ids], [15496, 11, 995]);
  assert.equal(gpt2.decode(ids), 'Hello, world');
  assert.equal(gpt2.vocabSize, 50257);
  assert.deepEqual(gpt2.toJSON(), { type: 'gpt2' });
});

test('the vocabulary files rebuilt from js-tiktoken are byte for byte the ones the download pins', () => {
  const { encoderJson, vocabBpe } = gpt2VocabFiles();
  const encoder = Buffer.from(encoderJson, 'utf8');
  const merges = Buffer.from(vocabBpe, 'utf8');
  assert.equal(encoder.length, GPT2_VOCAB.encoder.bytes);
  assert.equal(merges.length, GPT2_VOCAB.merges.bytes);
  assert.equal(createHash('sha256').update(encoder).digest('hex'), GPT2_VOCAB.encoder.sha256);
  assert.equal(createHash('sha256').update(merges).digest('hex'), GPT2_VOCAB.merges.sha256);
  assert.ok(vocabBpe.startsWith('#version: 0.2\nĠ t\nĠ a\nh e\n'));
});

test("GPT-2's byte-to-unicode table: printable bytes stand for themselves, the rest from U+0100 on", () => {
  assert.equal(GPT2_BYTE_CHARS[0x21], '!');
  assert.equal(GPT2_BYTE_CHARS[0x20], 'Ġ');
  assert.equal(GPT2_BYTE_CHARS[0x0a], 'Ċ');
  assert.equal(GPT2_BYTE_CHARS[0x00], 'Ā');
  assert.equal(GPT2_BYTE_CHARS[0xad], 'Ń');
  assert.equal(new Set(GPT2_BYTE_CHARS).size, 256);
  assert.deepEqual(GPT2_BYTE_ORDER.slice(0, 3), [0x21, 0x22, 0x23]);
  assert.deepEqual(
    [...GPT2_BYTE_ORDER].sort((a, b) => a - b),
    Array.from({ length: 256 }, (_, b) => b),
  );
});

test('all of Tiny Shakespeare: the same ids as js-tiktoken and gpt-tokenizer, and decoding gives the text back', {
  skip: noShakespeare,
}, () => {
  const text = readFileSync(SHAKESPEARE, 'utf8');
  const ids = gpt2.encode(text);
  assertSameIds(ids, tiktoken.encode(text), text);
  assertSameIds(ids, gptTokenizerEncode(text), text);
  assert.equal(ids.length, 338025);
  assert.equal(gpt2.decode(ids), text);
});

test('the scanner cuts the torture text exactly where the split pattern as a RegExp does', () => {
  const expected = [...torture.matchAll(new RegExp(GPT2_SPLIT_PATTERN, 'gu'))].map((m) => m[0]);
  const actual: string[] = [];
  for (let i = 0; i < torture.length; ) {
    const end = gpt2PieceEnd(torture, i);
    actual.push(torture.slice(i, end));
    i = end;
  }
  assert.equal(expected.join(''), torture, 'the pattern matches every character');
  assert.deepEqual(actual, expected);
});

test('the torture text: the same ids as js-tiktoken, line by line and whole, and with special tokens allowed', () => {
  const options = { unknown: 'replace', special: 'ordinary' } as const;
  for (const line of torture.split('\n')) assertSameIds(gpt2.encode(line, options), tiktoken.encode(line, [], []), line);
  assertSameIds(gpt2.encode(torture, options), tiktoken.encode(torture, [], []), torture);
  assertSameIds(gpt2.encode(torture, { unknown: 'replace', special: 'allow' }), tiktoken.encode(torture, 'all'), torture);
  assertSameIds(gpt2.encode(tortureWellFormed, options), gptTokenizerEncode(tortureWellFormed, { disallowedSpecial: new Set() }), torture);
});

test('more torture texts from other seeds agree with js-tiktoken', () => {
  for (const seed of [1, 2, 3]) {
    const text = tortureText(1500, seed);
    assertSameIds(gpt2.encode(text, { unknown: 'replace', special: 'ordinary' }), tiktoken.encode(text, [], []), text);
  }
});

test('decoding gives the text back, whole and split anywhere into runs of tokens', () => {
  const ids = gpt2.encode(tortureWellFormed, { special: 'ordinary' });
  assert.equal(gpt2.decode(ids), tortureWellFormed);
  const bytes = new TextEncoder().encode(tortureWellFormed);
  assert.deepEqual(gpt2.decodeBytes(ids), bytes);
  let at = 0;
  for (let i = 0; i < ids.length; i += 97) {
    const part = gpt2.decodeBytes(ids.subarray(i, i + 97));
    assert.deepEqual(part, bytes.subarray(at, at + part.length));
    at += part.length;
  }
  assert.equal(at, bytes.length);
});

test('a token that is part of a character decodes to U+FFFD alone, and its bytes are there', () => {
  const ids = gpt2.encode('🫠');
  assert.ok(ids.length > 1, 'a rare emoji takes several byte tokens');
  assert.equal(gpt2.decode(ids), '🫠');
  assert.equal(gpt2.decode(ids.subarray(0, 1)), '\ufffd');
  assert.deepEqual(gpt2.decodeBytes(ids), new TextEncoder().encode('🫠'));
  assert.throws(() => gpt2.decode([50257]), /token id 50257 at position 0 is outside the vocabulary \(ids 0 to 50256\)/);
  assert.throws(() => gpt2.decode([1.5]), TsgptError);
  assert.throws(() => gpt2.tokenBytes(-1), TsgptError);
});

test('unpaired surrogates: an error by default, U+FFFD or another text with replace, nothing with skip', () => {
  const text = 'ab\ud800cd';
  assert.throws(
    () => gpt2.encode(text, { label: 'start text' }),
    (e: unknown) =>
      e instanceof TsgptError &&
      e.message ===
        'start text has an unpaired surrogate U+D800 at character 2, which is not a character and has no UTF-8 bytes ' +
          '(unknown "replace" encodes it as U+FFFD, "skip" drops it)',
  );
  assert.deepEqual(gpt2.encode(text, { unknown: 'replace' }), gpt2.encode('ab\ufffdcd'));
  assert.deepEqual(gpt2.encode(text, { unknown: 'replace', replacement: '?' }), gpt2.encode('ab?cd'));
  assert.deepEqual(gpt2.encode(text, { unknown: 'skip' }), gpt2.encode('abcd'));
  assert.throws(() => gpt2.encode(text, { unknown: 'replace', replacement: '\udc00' }), /must itself be valid text/);
  assert.throws(() => gpt2.encode(text, { unknown: 'nope' as 'skip' }), /unknown-character policy must be/);
  // A proper pair is one character, whatever the flags.
  assert.deepEqual(gpt2.encode('😀', { unknown: 'error' }), gpt2.encode('😀', { unknown: 'skip' }));
});

test('<|endoftext|>: refused by default, id 50256 when allowed, its characters when ordinary', () => {
  const text = 'end.<|endoftext|>Next';
  assert.throws(
    () => gpt2.encode(text),
    /text contains the special token "<\|endoftext\|>" at character 4: say whether it is the special token/,
  );
  const allowed = [...gpt2.encode(text, { special: 'allow' })];
  assert.deepEqual(allowed, tiktoken.encode(text, 'all'));
  assert.ok(allowed.includes(50256));
  assert.deepEqual([...gpt2.encode(text, { special: 'ordinary' })], tiktoken.encode(text, [], []));
  assert.equal(gpt2.decode(allowed), text);
  assert.deepEqual([...gpt2.encode('<|endoftext|>', { special: 'allow' })], [50256]);
  // Each stretch between special tokens is split on its own: the spaces before one end their stretch.
  const spaced = 'a  <|endoftext|>  b';
  assert.deepEqual([...gpt2.encode(spaced, { special: 'allow' })], tiktoken.encode(spaced, 'all'));
  assert.throws(() => gpt2.encode(text, { special: 'maybe' as 'allow' }), /special-token policy must be/);
});

test('encoding is the same the first time and from the cache, and long pieces merge as short ones do', () => {
  const { encoderJson, vocabBpe } = gpt2VocabFiles();
  const fresh = () => GPT2Tokenizer.fromVocabFiles(encoderJson, vocabBpe);
  const text = `${'abc '.repeat(50)}${' '.repeat(70)}x${'ab'.repeat(40)} ${'😀'.repeat(30)}`;
  const first = fresh().encode(text);
  const tokenizer = fresh();
  tokenizer.encode(text);
  assert.deepEqual(tokenizer.encode(text), first);
  assertSameIds(first, tiktoken.encode(text), text);
  assert.deepEqual([...gpt2.encode('')], []);
});
