/**
 * The tokenizer a run folder's config.json records: a character tokenizer's characters and a trained BPE's
 * merges come back whole; GPT-2's is its name alone, resolved by the reader's gpt2 function; anything else,
 * GPT-2's name with other fields, or a tokenizer of another size than the model's, is one line.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RUN_FORMAT, RUN_FORMAT_VERSION, parseRunFile, type RunFile } from '../../src/checkpoint/run_config.js';
import { Rng } from '../../src/engine/random.js';
import { TsgptError } from '../../src/errors.js';
import { trainBpe } from '../../src/tokenizers/bpe_train.js';
import { CharTokenizer } from '../../src/tokenizers/char.js';
import type { Tokenizer } from '../../src/tokenizers/tokenizer.js';
import { modelConfigFor, PRESETS } from '../../src/train/config.js';
import { makeCorpus } from '../helpers/corpus.js';

const text = makeCorpus(3000);

function fileText(tokenizerJson: unknown, vocabSize: number): string {
  const run = { ...PRESETS.baby, nLayer: 1, nHead: 2, nEmbd: 8, blockSize: 8 };
  const file: Omit<RunFile, 'tokenizer'> & { tokenizer: unknown } = {
    format: RUN_FORMAT,
    version: RUN_FORMAT_VERSION,
    model: modelConfigFor(run, vocabSize),
    tokenizer: tokenizerJson,
    run,
    data: 'corpus.txt',
    training: {
      step: 0,
      bestValLoss: null,
      trainLoss: null,
      valLoss: null,
      dataRng: new Rng(1).getState(),
      evalRng: new Rng(2).getState(),
      modelRng: new Rng(3).getState(),
    },
  };
  return JSON.stringify(file);
}

const refused = (fn: () => unknown, pattern: RegExp) =>
  assert.throws(fn, (e: unknown) => e instanceof TsgptError && !e.message.includes('\n') && pattern.test(e.message));

test('a character tokenizer and a trained BPE come back whole', () => {
  const chars = CharTokenizer.fromText(text);
  const bpe = trainBpe(text, { vocabSize: 280, pattern: 'gpt2' });
  for (const tokenizer of [chars, bpe] as Tokenizer[]) {
    const { file, tokenizer: back } = parseRunFile(fileText(tokenizer.toJSON(), tokenizer.vocabSize), 'config.json');
    assert.deepEqual(back.toJSON(), tokenizer.toJSON());
    assert.deepEqual(file.tokenizer, tokenizer.toJSON());
    assert.deepEqual([...back.encode(text.slice(0, 200))], [...tokenizer.encode(text.slice(0, 200))]);
  }
});

test("GPT-2's name is resolved by the reader's gpt2 function, and refused without one or with other fields", () => {
  const stand = CharTokenizer.fromText(text); // stands in for GPT-2's vocabulary: only the size is checked here
  let asked = 0;
  const gpt2 = () => {
    asked++;
    return stand;
  };
  assert.equal(parseRunFile(fileText({ type: 'gpt2' }, stand.vocabSize), 'config.json', gpt2).tokenizer, stand);
  assert.equal(asked, 1);
  refused(
    () => parseRunFile(fileText({ type: 'gpt2' }, stand.vocabSize), 'config.json'),
    /names GPT-2's tokenizer, whose vocabulary is loaded from its files/,
  );
  refused(
    () => parseRunFile(fileText({ type: 'gpt2', chars: ['a'] }, stand.vocabSize), 'config.json', gpt2),
    /recorded as \{"type": "gpt2"\} alone, not with "chars"/,
  );
  refused(
    () => parseRunFile(fileText({ type: 'gpt2' }, stand.vocabSize + 1), 'config.json', gpt2),
    /the tokenizer has \d+ symbols but the model expects/,
  );
});

test('an unknown type, a damaged BPE, and a size that is not the model vocabulary are one line', () => {
  const bpe = trainBpe(text, { vocabSize: 280, pattern: 'gpt2' }).toJSON();
  refused(() => parseRunFile(fileText({ type: 'sentencepiece' }, 280), 'config.json'), /not a tokenizer \(its "type" is "sentencepiece"/);
  refused(
    () => parseRunFile(fileText({ ...bpe, merges: [[1, 2]] }, 280), 'config.json'),
    /merges\[0\] must be \[left id, right id, text\]/,
  );
  refused(() => parseRunFile(fileText(bpe, 300), 'config.json'), /the tokenizer has 280 symbols but the model expects 300/);
});
