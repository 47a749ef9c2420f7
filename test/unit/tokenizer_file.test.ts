/** --tokenizer's values as the library reads them: "gpt2" from the cache, a folder of GPT-2's files, a tokenizer file. */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { TsgptError } from '../../src/errors.js';
import { loadTokenizer, readTokenizerFile, writeTokenizerFile } from '../../src/node/tokenizer_file.js';
import { BpeTokenizer } from '../../src/tokenizers/bpe.js';
import { trainBpe } from '../../src/tokenizers/bpe_train.js';
import { CharTokenizer } from '../../src/tokenizers/char.js';
import { GPT2Tokenizer } from '../../src/tokenizers/gpt2.js';
import { writeGpt2VocabFolder } from '../helpers/gpt2_vocab.js';

const dir = mkdtempSync(join(tmpdir(), 'tsgpt-tokenizer-file-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const unusedFetch = (async () => assert.fail('fetch must not be called')) as typeof fetch;

test('"gpt2" reads the cache, a folder is GPT-2\'s files, a file is a trained or character tokenizer', async () => {
  const cache = join(dir, 'cache');
  writeGpt2VocabFolder(join(cache, 'gpt2'));
  const fromCache = await loadTokenizer('gpt2', { cacheDir: cache, fetchImpl: unusedFetch, log: () => assert.fail('nothing to say') });
  assert.ok(fromCache.tokenizer instanceof GPT2Tokenizer);
  const folder = writeGpt2VocabFolder(join(dir, 'hf'), true);
  const fromFolder = await loadTokenizer(folder, { fetchImpl: unusedFetch });
  assert.ok(fromFolder.tokenizer instanceof GPT2Tokenizer);
  assert.equal(fromFolder.source, folder);
  assert.deepEqual(fromFolder.tokenizer.encode('Hello, world'), fromCache.tokenizer.encode('Hello, world'));

  const trained = trainBpe('the theme of the thesis '.repeat(10), { vocabSize: 262 });
  const file = join(dir, 'trained.json');
  writeTokenizerFile(file, trained);
  assert.equal(readFileSync(file, 'utf8'), trained.toFileText());
  const back = await loadTokenizer(file);
  assert.ok(back.tokenizer instanceof BpeTokenizer);
  assert.deepEqual(back.tokenizer.encode('the thesis'), trained.encode('the thesis'));
  const charFile = join(dir, 'char.json');
  writeFileSync(charFile, JSON.stringify(CharTokenizer.fromText('abc').toJSON()));
  assert.ok(readTokenizerFile(charFile) instanceof CharTokenizer);
});

test('a path that is no tokenizer, or a file that is not one, is one line', async () => {
  await assert.rejects(loadTokenizer(join(dir, 'nothing-here')), {
    name: 'TsgptError',
    message: `no tokenizer at ${join(dir, 'nothing-here')} (no such file); give gpt2, a folder of GPT-2's vocabulary files or a tokenizer file`,
  });
  const notJson = join(dir, 'tok.json');
  writeFileSync(notJson, 'merges: 1 2');
  assert.throws(() => readTokenizerFile(notJson), /tok.json: not a tokenizer file \(not valid JSON: /);
  writeFileSync(notJson, '{"type": "sentencepiece"}');
  assert.throws(() => readTokenizerFile(notJson), /tok.json: not a tokenizer \(its "type" is "sentencepiece"/);
  writeFileSync(notJson, '{"type": "gpt2"}');
  assert.throws(() => readTokenizerFile(notJson), /names GPT-2's tokenizer, whose vocabulary is loaded from its files/);
  assert.throws(() => writeTokenizerFile(join(dir, 'no', 'dir', 'x.json'), trainBpe('abab', { vocabSize: 257 })), TsgptError);
});
