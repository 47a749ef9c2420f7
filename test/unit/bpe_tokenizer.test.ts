/**
 * The trainable byte-level BPE (minbpe's): its test vector, its merges against minbpe's algorithm written
 * plainly (recount everything, take the first most frequent pair), its file and every way that file can be
 * wrong, special tokens, and round trips.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Rng } from '../../src/engine/random.js';
import { TsgptError } from '../../src/errors.js';
import { BpeTokenizer } from '../../src/tokenizers/bpe.js';
import { trainBpe } from '../../src/tokenizers/bpe_train.js';
import { tokenizerFromJSON } from '../../src/tokenizers/from_json.js';
import { CharTokenizer } from '../../src/tokenizers/char.js';
import { SPLIT_PATTERNS, type SplitPatternName } from '../../src/tokenizers/split_patterns.js';
import { tortureText } from '../helpers/torture_text.js';

const SHAKESPEARE = fileURLToPath(new URL('../../../../shared/data/tinyshakespeare.txt', import.meta.url));
const noShakespeare = !existsSync(SHAKESPEARE) && 'shared Tiny Shakespeare not present';
const MINBPE_FIXTURE = fileURLToPath(new URL('../../../test/fixtures/minbpe_shakespeare_merges.json', import.meta.url));

/**
 * minbpe's training loop as plainly as possible: count every adjacent pair of every piece afresh, take the
 * most frequent (the first counted among equals: a Map keeps insertion order, as Python's dict does), replace
 * it everywhere, left to right.
 */
function plainTrain(text: string, merges: number, pattern: SplitPatternName): [number, number][] {
  const split = SPLIT_PATTERNS[pattern].split;
  let pieces: number[][] = [];
  for (let i = 0; i < text.length; ) {
    const end = split(text, i);
    pieces.push([...new TextEncoder().encode(text.slice(i, end))]);
    i = end;
  }
  const learnt: [number, number][] = [];
  for (let m = 0; m < merges; m++) {
    const counts = new Map<string, number>();
    for (const ids of pieces)
      for (let k = 0; k + 1 < ids.length; k++) counts.set(`${ids[k]},${ids[k + 1]}`, (counts.get(`${ids[k]},${ids[k + 1]}`) ?? 0) + 1);
    let best = '';
    let bestCount = 0;
    for (const [pair, count] of counts) if (count > bestCount) [best, bestCount] = [pair, count];
    const [left, right] = best.split(',').map(Number) as [number, number];
    pieces = pieces.map((ids) => {
      const out: number[] = [];
      for (let k = 0; k < ids.length; k++) {
        if (k + 1 < ids.length && ids[k] === left && ids[k + 1] === right) {
          out.push(256 + m);
          k++;
        } else out.push(ids[k]!);
      }
      return out;
    });
    learnt.push([left, right]);
  }
  return learnt;
}

function pairsOf(tokenizer: BpeTokenizer): [number, number][] {
  return Array.from({ length: tokenizer.merges.length / 2 }, (_, i) => [tokenizer.merges[2 * i]!, tokenizer.merges[2 * i + 1]!]);
}

test("minbpe's test vector: 'aaabdaaabac' with 3 merges is [258, 100, 258, 97, 99]", () => {
  for (const pattern of ['gpt2', 'gpt4', 'none'] as const) {
    const tokenizer = trainBpe('aaabdaaabac', { vocabSize: 256 + 3, pattern });
    assert.deepEqual(pairsOf(tokenizer), [
      [97, 97],
      [256, 97],
      [257, 98],
    ]);
    assert.deepEqual([...tokenizer.encode('aaabdaaabac')], [258, 100, 258, 97, 99]);
    assert.equal(tokenizer.decode([258, 100, 258, 97, 99]), 'aaabdaaabac');
  }
});

test("the merges are those of minbpe's loop, ties included, on every split pattern", { skip: noShakespeare }, () => {
  const text = readFileSync(SHAKESPEARE, 'utf8').slice(0, 30_000);
  for (const pattern of ['gpt2', 'gpt4', 'none'] as const) {
    const merges = pattern === 'none' ? 40 : 120;
    assert.deepEqual(pairsOf(trainBpe(text, { vocabSize: 256 + merges, pattern })), plainTrain(text, merges, pattern), pattern);
  }
  // Small texts are where ties are the rule.
  const small = 'abab cdcd abcd dcba abab ab ab ab cd cd cd aaaa bbbb aaaa';
  for (const pattern of ['gpt2', 'gpt4', 'none'] as const) {
    assert.deepEqual(pairsOf(trainBpe(small, { vocabSize: 256 + 8, pattern })), plainTrain(small, 8, pattern), pattern);
  }
});

test("Tiny Shakespeare to 512: the merges minbpe's own Python loop learns (fixture from scripts/bpe_reference.py)", {
  skip: noShakespeare,
}, () => {
  const expected = JSON.parse(readFileSync(MINBPE_FIXTURE, 'utf8')) as Record<string, [number, number][]>;
  const text = readFileSync(SHAKESPEARE, 'utf8');
  for (const pattern of ['gpt2', 'gpt4'] as const) {
    assert.deepEqual(pairsOf(trainBpe(text, { vocabSize: 512, pattern })), expected[pattern], pattern);
  }
});

test('encoding and decoding give the text back, for every pattern, on Shakespeare and the torture text', { skip: noShakespeare }, () => {
  const shakespeare = readFileSync(SHAKESPEARE, 'utf8').slice(0, 200_000);
  const torture = tortureText().replace(/[\ud800-\udfff]/gu, '\ufffd');
  for (const pattern of ['gpt2', 'gpt4', 'none'] as const) {
    const tokenizer = trainBpe(shakespeare, { vocabSize: 400, pattern, specialTokens: ['<|endoftext|>'] });
    for (const text of [shakespeare, torture]) {
      const ids = tokenizer.encode(text, { special: 'ordinary' });
      assert.equal(tokenizer.decode(ids), text, pattern);
      assert.ok(
        ids.every((id) => id >= 0 && id < 399),
        'no special token id unless allowed',
      );
    }
    assert.ok(tokenizer.encode(shakespeare).length < new TextEncoder().encode(shakespeare).length * 0.6);
  }
});

test('special tokens take the last ids, are never merged into, and are encoded when allowed', () => {
  const text = 'the cat<|endoftext|>the hat<|endoftext|>the bat<|endoftext|>'.repeat(20);
  const tokenizer = trainBpe(text, { vocabSize: 266, specialTokens: ['<|endoftext|>', '<|pad|>'] });
  assert.equal(tokenizer.vocabSize, 266);
  assert.deepEqual(
    [...tokenizer.specialTokens],
    [
      ['<|endoftext|>', 264],
      ['<|pad|>', 265],
    ],
  );
  for (let id = 256; id < 264; id++) {
    assert.doesNotMatch(new TextDecoder().decode(tokenizer.tokenBytes(id)), /[<|>]/, 'no merge learnt from inside a special token');
  }
  const ids = tokenizer.encode('the cat<|endoftext|><|pad|>', { special: 'allow' });
  assert.deepEqual([...ids.slice(-2)], [264, 265]);
  assert.equal(tokenizer.decode(ids), 'the cat<|endoftext|><|pad|>');
  assert.throws(() => tokenizer.encode('a<|pad|>'), /contains the special token "<\|pad\|>" at character 1/);
  assert.ok(!tokenizer.encode('<|pad|>', { special: 'ordinary' }).includes(265));
});

test('training refuses what it cannot do, in one line', () => {
  const fails = (fn: () => unknown, pattern: RegExp) =>
    assert.throws(fn, (e: unknown) => e instanceof TsgptError && pattern.test(e.message));
  fails(
    () => trainBpe('abc', { vocabSize: 255 }),
    /vocabulary size must be a whole number from 256 \(256 bytes and 0 special tokens\) to 2097152, got 255/,
  );
  fails(() => trainBpe('abc', { vocabSize: 257, specialTokens: ['<a>', '<b>'] }), /from 258 \(256 bytes and 2 special tokens\)/);
  fails(() => trainBpe('abc', { vocabSize: 300.5 }), /got 300.5/);
  fails(
    () => trainBpe('abcabc', { vocabSize: 300, label: 'poem.txt' }),
    /^poem.txt has no pair of tokens left to merge after 3 merges: it is too short for a vocabulary of 300 \(at most 259 here\)$/,
  );
  fails(() => trainBpe('ab\udc00', { vocabSize: 257 }), /training text has an unpaired surrogate at character 2/);
  fails(() => trainBpe('abc', { vocabSize: 257, pattern: 'gpt5' as 'gpt2' }), /split pattern must be one of gpt2, gpt4, none/);
  fails(() => trainBpe('abc', { vocabSize: 258, specialTokens: ['<a>', '<a>'] }), /the special token "<a>" is listed twice/);
  assert.equal(trainBpe('abc', { vocabSize: 256 }).vocabSize, 256);
});

test('the file reads back to the same tokenizer, and shows each merge with its text', () => {
  const tokenizer = trainBpe('héllo wörld, 日本 '.repeat(30), { vocabSize: 272, specialTokens: ['<|endoftext|>'] });
  const text = tokenizer.toFileText();
  assert.match(text, /^\{\n {2}"type": "bpe",\n {2}"version": 1,\n {2}"vocab_size": 272,\n {2}"pattern": "gpt2",\n/);
  assert.match(text, /\n {4}\[256,169,"hé"\],\n/);
  assert.match(text, /\n {4}\[104,195,"h\\\\xc3"\],\n/, 'part of a character is shown as \\xNN');
  const back = BpeTokenizer.fromJSON(JSON.parse(text), 'x.json');
  assert.deepEqual(back.merges, tokenizer.merges);
  assert.deepEqual([...back.specialTokens], [...tokenizer.specialTokens]);
  assert.deepEqual(back.toJSON(), tokenizer.toJSON());
  assert.ok(tokenizerFromJSON(JSON.parse(text)) instanceof BpeTokenizer);
  assert.ok(tokenizerFromJSON(CharTokenizer.fromText('ab').toJSON()) instanceof CharTokenizer);
  assert.throws(
    () => tokenizerFromJSON({ type: 'gpt2' }, 'run/config.json'),
    /names GPT-2's tokenizer, whose vocabulary is loaded from its files/,
  );
  assert.throws(() => tokenizerFromJSON([], 't.json'), /: t.json: not a tokenizer \(its "type" is nothing/);
});

test('a damaged or foreign file is one clear line naming what is wrong', () => {
  const good = trainBpe('the theme of the thesis '.repeat(10), { vocabSize: 262, specialTokens: ['<|endoftext|>'] }).toJSON();
  const cases: [(j: Record<string, unknown>) => unknown, RegExp][] = [
    [() => 'text', /^f.json: expected a JSON object, got "text"$/],
    [(j) => ({ ...j, type: 'char' }), /"type" is "char", expected "bpe"/],
    [(j) => ({ ...j, version: 2 }), /version 2 is not supported \(this tsgpt reads 1\)/],
    [(j) => ({ ...j, pattern: 'gpt3' }), /"pattern" must be one of gpt2, gpt4, none, got "gpt3"/],
    [(j) => ({ ...j, merges: {} }), /"merges" must be an array, got an object/],
    [(j) => ({ ...j, merges: [[116, 104]] }), /merges\[0\] must be \[left id, right id, text\], got an array/],
    [(j) => ({ ...j, merges: [[116, 'h', 'th']] }), /merges\[0\] must be/],
    [
      (j) => ({ ...j, merges: [[116, 256, 'th'], ...(j.merges as unknown[]).slice(1)] }),
      /merge 0 joins ids 116 and 256, but only ids below 256 exist before it/,
    ],
    [(j) => ({ ...j, merges: [[116, -1, 'th'], ...(j.merges as unknown[]).slice(1)] }), /merge 0 joins ids 116 and -1/],
    [
      (j) => ({ ...j, merges: [(j.merges as unknown[])[0], (j.merges as unknown[])[0], ...(j.merges as unknown[]).slice(2)] }),
      /merge 1 joins ids \d+ and \d+ again/,
    ],
    [
      (j) => ({ ...j, merges: [[116, 105, 'th'], ...(j.merges as unknown[]).slice(1)] }),
      /merges\[0\] says it makes "th", but ids 116 and 105 make "ti"/,
    ],
    [(j) => ({ ...j, vocab_size: 300 }), /"vocab_size" is 300, but 256 bytes, 5 merges and 1 special tokens make 262/],
    [(j) => ({ ...j, vocab_size: '262' }), /"vocab_size" is "262"/],
    [
      (j) => ({ ...j, special_tokens: { '<|endoftext|>': 300 } }),
      /special token "<\|endoftext\|>" has id 300; special tokens take the ids after the last merge, from 261/,
    ],
    [(j) => ({ ...j, special_tokens: [] }), /"special_tokens" must be an object from text to id, got an array/],
    [(j) => ({ ...j, special_tokens: { '': 261 } }), /a special token must be non-empty text, got ""/],
  ];
  for (const [mutate, message] of cases) {
    assert.throws(
      () => BpeTokenizer.fromJSON(mutate(structuredClone(good) as unknown as Record<string, unknown>), 'f.json'),
      (e: unknown) => e instanceof TsgptError && message.test(e.message) && !e.message.includes('\n'),
      String(message),
    );
  }
});

test('random damage to the file text: it loads as written, or fails as a TsgptError, never otherwise', () => {
  const text = trainBpe('to be or not to be, that is the question '.repeat(5), { vocabSize: 276 }).toFileText();
  const rng = new Rng(21);
  let loaded = 0;
  for (let trial = 0; trial < 2000; trial++) {
    const chars = [...text];
    for (let k = 1 + rng.int(3); k > 0; k--) chars[rng.int(chars.length)] = String.fromCharCode(32 + rng.int(95));
    let json: unknown;
    try {
      json = JSON.parse(chars.join(''));
    } catch {
      continue;
    }
    try {
      BpeTokenizer.fromJSON(json, 'f.json');
      loaded++;
    } catch (e) {
      assert.ok(e instanceof TsgptError, `not a TsgptError: ${String(e)}`);
    }
  }
  assert.ok(loaded < 2000);
});
