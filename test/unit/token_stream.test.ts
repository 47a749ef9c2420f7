/**
 * Streaming a sample's text token by token: a character whose UTF-8 bytes GPT-2 cuts into several tokens comes
 * out whole, once its last byte arrives; a stream ending inside a character ends with U+FFFD.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { readGpt2Folder } from '../../src/node/gpt2_vocab.js';
import { CharTokenizer } from '../../src/tokenizers/char.js';
import { tokenStream } from '../../src/tokenizers/token_stream.js';
import { FIXTURES } from '../helpers/fixtures.js';

test("a byte-level tokenizer's partial characters are held back until complete", () => {
  const tokenizer = readGpt2Folder(fileURLToPath(new URL('gpt2_tiny/', FIXTURES)));
  const ids = tokenizer.encode('a🫠 the é');
  const stream = tokenStream(tokenizer);
  const pieces = [...ids].map((id) => stream.push(id));
  // The tiny vocabulary has no merge for the emoji's four bytes: four tokens, the first three giving nothing.
  assert.deepEqual(pieces.slice(0, 5), ['a', '', '', '', '🫠']);
  assert.equal(pieces.join('') + stream.end(), 'a🫠 the é');
  const cut = tokenStream(tokenizer);
  assert.equal(cut.push(ids[1]!) + cut.end(), '\ufffd');
});

test('a character tokenizer streams each token as its character', () => {
  const tokenizer = CharTokenizer.fromText('ab\n');
  const stream = tokenStream(tokenizer);
  assert.equal([...tokenizer.encode('ba\n')].map((id) => stream.push(id)).join('') + stream.end(), 'ba\n');
});
