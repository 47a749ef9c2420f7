import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CharTokenizer } from '../../src/tokenizers/char.js';
import type { Tokenizer } from '../../src/tokenizers/tokenizer.js';
import { TsgptError } from '../../src/errors.js';

const SHAKESPEARE = fileURLToPath(new URL('../../../../shared/data/tinyshakespeare.txt', import.meta.url));

function throwsTsgpt(fn: () => unknown, message: string | RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof TsgptError, `expected TsgptError, got ${String(err)}`);
    if (typeof message === 'string') assert.equal(err.message, message);
    else assert.match(err.message, message);
    return true;
  });
}

test('vocabulary of "hello world" is its sorted distinct characters', () => {
  const tok = CharTokenizer.fromText('hello world');
  assert.deepEqual([...tok.chars], [' ', 'd', 'e', 'h', 'l', 'o', 'r', 'w']);
  assert.equal(tok.vocabSize, 8);
  assert.deepEqual([...tok.encode('hello')], [3, 2, 4, 4, 5]);
});

test('round trip on varied text, astral characters counted as one token each', () => {
  const text = 'First Citizen:\nBefore we proceed…\r\n\tcafé naïve Ωμέγα 日本語 😀👍🏽 𝔘𝔫𝔦 \u0000end\n';
  const tok = CharTokenizer.fromText(text);
  const ids = tok.encode(text);
  assert.equal(ids.length, [...text].length);
  assert.equal(tok.decode(ids), text);
  assert.equal(tok.encode('😀').length, 1);
  for (const ch of tok.chars) assert.equal([...ch].length, 1);
});

test('vocabulary is sorted by code point, not by UTF-16 unit', () => {
  // U+FFFD sorts after the surrogate 0xD83D under UTF-16 order but before U+1F600 by code point.
  const tok = CharTokenizer.fromText('😀\ufffda');
  assert.deepEqual([...tok.chars], ['a', '\ufffd', '😀']);
});

test('the tokenizer satisfies the Tokenizer interface', () => {
  const tok: Tokenizer = CharTokenizer.fromText('abc');
  assert.equal(tok.decode(tok.encode('cab')), 'cab');
  assert.equal(tok.toJSON().type, 'char');
});

test('fromText rejects empty text', () => {
  throwsTsgpt(() => CharTokenizer.fromText(''), /empty text/);
});

test('unknown characters are all named, JSON-escaped, with the label', () => {
  const tok = CharTokenizer.fromText('hello world');
  throwsTsgpt(() => tok.encode('héllo ßé', { label: 'start text' }), 'start text has characters outside the vocabulary: "é", "ß"');
  throwsTsgpt(() => tok.encode('a\n\u200b'), 'text has characters outside the vocabulary: "a", "\\n", "\\u200b"');
  throwsTsgpt(() => tok.encode('😀'), 'text has characters outside the vocabulary: "😀"');
});

test('the list of unknown characters is capped', () => {
  const tok = CharTokenizer.fromText('x');
  throwsTsgpt(() => tok.encode('abcdefghx'), 'text has characters outside the vocabulary: "a", "b", "c", "d", "e" and 3 more');
});

test('skip and replace modes', () => {
  const tok = CharTokenizer.fromText('hello world?');
  assert.equal(tok.decode(tok.encode('héllo wörld', { unknown: 'skip' })), 'hllo wrld');
  assert.equal(tok.decode(tok.encode('héllo wörld😀', { unknown: 'replace', replacement: '?' })), 'h?llo w?rld?');
  assert.equal(tok.encode('ééé', { unknown: 'skip' }).length, 0);
  throwsTsgpt(() => tok.encode('é', { unknown: 'replace' }), /needs a replacement/);
  throwsTsgpt(() => tok.encode('é', { unknown: 'replace', replacement: '#' }), 'replacement "#" is not in the vocabulary');
  throwsTsgpt(() => tok.encode('é', { unknown: 'replace', replacement: '??' }), /must be a single character/);
  throwsTsgpt(() => tok.encode('é', { unknown: 'ignore' as never }), /policy must be/);
});

test('decode rejects ids outside the vocabulary', () => {
  const tok = CharTokenizer.fromText('ab');
  assert.equal(tok.decode([1, 0]), 'ba');
  assert.equal(tok.decode(new Int32Array(0)), '');
  throwsTsgpt(() => tok.decode([0, 2]), 'token id 2 at position 1 is outside the vocabulary (ids 0 to 1)');
  throwsTsgpt(() => tok.decode([-1]), /token id -1 at position 0/);
  throwsTsgpt(() => tok.decode([0.5]), /token id 0.5/);
});

test('JSON round trip', () => {
  const tok = CharTokenizer.fromText('To be, or not 😀\n');
  const json = JSON.parse(JSON.stringify(tok)) as unknown;
  assert.deepEqual(json, { type: 'char', chars: [...tok.chars] });
  const back = CharTokenizer.fromJSON(json);
  assert.deepEqual(back.chars, tok.chars);
  assert.equal(back.decode(tok.encode('not be 😀')), 'not be 😀');
  // toJSON hands out a copy, so callers cannot alter the tokenizer through it.
  tok.toJSON().chars.push('z');
  assert.equal(tok.vocabSize, back.vocabSize);
});

test('fromJSON rejects malformed input', () => {
  throwsTsgpt(() => CharTokenizer.fromJSON(null), 'tokenizer JSON: expected an object with "type" and "chars", got null');
  throwsTsgpt(() => CharTokenizer.fromJSON([]), /got an array/);
  throwsTsgpt(() => CharTokenizer.fromJSON({ type: 'bpe', chars: ['a'] }), 'tokenizer JSON: "type" is "bpe", expected "char"');
  throwsTsgpt(() => CharTokenizer.fromJSON({ chars: ['a'] }), /"type" is nothing/);
  throwsTsgpt(() => CharTokenizer.fromJSON({ type: 'char' }), /"chars" must be an array/);
  throwsTsgpt(() => CharTokenizer.fromJSON({ type: 'char', chars: 'abc' }), /"chars" must be an array/);
  throwsTsgpt(() => CharTokenizer.fromJSON({ type: 'char', chars: [] }), /"chars" is empty/);
  throwsTsgpt(
    () => CharTokenizer.fromJSON({ type: 'char', chars: ['a', 'bc'] }),
    'tokenizer JSON: chars[1] is "bc", not a single character',
  );
  throwsTsgpt(() => CharTokenizer.fromJSON({ type: 'char', chars: ['a', ''] }), /chars\[1\] is "", not a single/);
  throwsTsgpt(() => CharTokenizer.fromJSON({ type: 'char', chars: ['a', 7] }), /chars\[1\] is number 7, not a single/);
  throwsTsgpt(
    () => CharTokenizer.fromJSON({ type: 'char', chars: ['a', 'b', 'a'] }),
    'tokenizer JSON: chars[2] repeats "a" (already chars[0])',
  );
  throwsTsgpt(() => CharTokenizer.fromJSON({ type: 'char', chars: ['\ude00\ud83d'] }), /not a single character/);
  throwsTsgpt(() => CharTokenizer.fromJSON({ type: 'char', chars: 1 }, 'run/tokenizer.json'), /^run\/tokenizer\.json: /);
  assert.equal(CharTokenizer.fromJSON({ type: 'char', chars: ['😀', 'a'] }).vocabSize, 2);
});

test('constructor validates its vocabulary too', () => {
  throwsTsgpt(() => new CharTokenizer(['a', 'a']), /repeats "a"/);
  throwsTsgpt(() => new CharTokenizer([]), /is empty/);
});

test('Tiny Shakespeare: 65 characters and an exact round trip', {
  skip: !existsSync(SHAKESPEARE) && 'shared Tiny Shakespeare not present',
}, () => {
  const text = readFileSync(SHAKESPEARE, 'utf8');
  const tok = CharTokenizer.fromText(text);
  assert.equal(tok.vocabSize, 65);
  assert.equal(tok.chars.join(''), "\n !$&',-.3:;?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz");
  const ids = tok.encode(text);
  assert.equal(ids.length, text.length);
  assert.equal(tok.decode(ids), text);
});
