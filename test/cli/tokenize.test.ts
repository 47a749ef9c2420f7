/**
 * tsgpt tokenize and tsgpt tokenizer train as a user runs them: GPT-2's ids from the cache or a local folder,
 * the character tokenizer, a trained tokenizer's file, and one clear line for every mistake, with nothing
 * written. The cache holds GPT-2's files rebuilt offline: no test downloads anything.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { assertOneLineError, type CliResult, runCli } from '../helpers/cli_process.js';
import { writeGpt2VocabFolder } from '../helpers/gpt2_vocab.js';

const dir = mkdtempSync(join(tmpdir(), 'tsgpt-tokenize-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const vocabFolder = writeGpt2VocabFolder(join(dir, 'gpt2-files'));
/** A cache that already holds GPT-2's files, so that `--tokenizer gpt2` needs no network. */
const withCache = { TSGPT_CACHE: join(dir, 'filled-cache') };
writeGpt2VocabFolder(join(withCache.TSGPT_CACHE, 'gpt2'));
const hello = join(dir, 'hello.txt');
writeFileSync(hello, 'Hello, world');

const tsgpt = (args: string[], env: Record<string, string> = {}): CliResult => runCli(dir, [...args, '--threads', '1'], { env });

test('tokenize --tokenizer gpt2: one line per token, id and text; --json gives the ids', () => {
  const r = tsgpt(['tokenize', '--tokenizer', 'gpt2', hello], withCache);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, '15496 "Hello"\n   11 ","\n  995 " world"\n');
  assert.equal(r.stderr, '3 tokens from 12 characters (12 bytes) with gpt2, vocabulary 50,257\n');
  const json = tsgpt(['tokenize', hello, '--json'], withCache);
  assert.equal(json.code, 0, json.stderr);
  assert.deepEqual(JSON.parse(json.stdout), { tokenizer: 'gpt2', vocab_size: 50257, count: 3, ids: [15496, 11, 995] });
});

test('tokenize with a folder of GPT-2 files; bytes that are part of a character shown as \\xNN', () => {
  const file = join(dir, 'emoji.txt');
  writeFileSync(file, 'a🫠\n');
  const r = tsgpt(['tokenize', '--tokenizer', vocabFolder, file]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, '   64 "a"\n 8582 "\\xf0\\x9f"\n  104 "\\xab"\n  254 "\\xa0"\n  198 "\\n"\n');
});

test("tokenize --tokenizer char: a vocabulary of the file's own characters", () => {
  const r = tsgpt(['tokenize', '--tokenizer', 'char', hello, '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { tokenizer: 'char', vocab_size: 9, count: 12, ids: [2, 4, 5, 5, 6, 1, 0, 8, 6, 7, 5, 3] });
  const lines = tsgpt(['tokenize', '--tokenizer', 'char', hello]);
  assert.equal(lines.stdout.split('\n')[0], '2 "H"');
});

test("tokenizer train, then tokenize with its file: minbpe's test vector through the command line", () => {
  const data = join(dir, 'aaab.txt');
  const out = join(dir, 'aaab.tok.json');
  writeFileSync(data, 'aaabdaaabac');
  const trained = tsgpt(['tokenizer', 'train', '--vocab-size', '259', '--data', data, '--out', out, '--verbose']);
  assert.equal(trained.code, 0, trained.stderr);
  assert.match(
    trained.stderr,
    /merge 1: 97 \+ 97 -> 256 "aa" \(4 times\)\nmerge 2: 256 \+ 97 -> 257 "aaa" \(2 times\)\nmerge 3: 257 \+ 98 -> 258 "aaab" \(2 times\)\n/,
  );
  assert.match(
    trained.stderr,
    /learnt 3 merges in [\d.]+ s \(pattern gpt2\); the text is 5 tokens, 2.20 bytes a token\nwrote .*aaab.tok.json \(vocabulary 259\)\n$/,
  );
  assert.match(readFileSync(out, 'utf8'), /"merges": \[\n {4}\[97,97,"aa"\],\n {4}\[256,97,"aaa"\],\n {4}\[257,98,"aaab"\]\n {2}\]\n\}\n$/);
  const r = tsgpt(['tokenize', '--tokenizer', out, data, '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout).ids, [258, 100, 258, 97, 99]);
});

test('tokenizer train with special tokens and another pattern', () => {
  const data = join(dir, 'docs.txt');
  const out = join(dir, 'docs.tok.json');
  writeFileSync(data, 'one doc<|endoftext|>two docs<|endoftext|>'.repeat(30));
  const trained = tsgpt([
    'tokenizer',
    'train',
    '--vocab-size',
    '262',
    '--data',
    data,
    '--out',
    out,
    '--pattern',
    'gpt4',
    '--special',
    '<|endoftext|> <|pad|>',
  ]);
  assert.equal(trained.code, 0, trained.stderr);
  const file = JSON.parse(readFileSync(out, 'utf8'));
  assert.equal(file.pattern, 'gpt4');
  assert.deepEqual(file.special_tokens, { '<|endoftext|>': 260, '<|pad|>': 261 });
  assertOneLineError(tsgpt(['tokenize', '--tokenizer', out, data]), /docs.txt contains the special token "<\|endoftext\|>" at character 7/);
  const allowed = tsgpt(['tokenize', '--tokenizer', out, data, '--special', 'allow', '--json']);
  assert.equal(allowed.code, 0, allowed.stderr);
  assert.equal(JSON.parse(allowed.stdout).ids.filter((id: number) => id === 260).length, 60);
});

test('tokenize: mistakes are one line each', () => {
  const latin1 = join(dir, 'latin1.txt');
  writeFileSync(latin1, Uint8Array.from([0x63, 0x61, 0x66, 0xe9]));
  const corrupt = join(dir, 'corrupt.tok.json');
  writeFileSync(corrupt, '{"type": "bpe", "version": 1, "vocab_size": 300, "pattern": "gpt2", "special_tokens": {}, "merges": []}');
  const charFile = join(dir, 'abc.char.json');
  writeFileSync(charFile, '{"type": "char", "chars": ["a", "b", "c"]}');
  const half = join(dir, 'half');
  mkdirSync(half);
  writeFileSync(join(half, 'encoder.json'), '{}');
  const cases: [string[], RegExp][] = [
    [['tokenize'], /tsgpt tokenize takes one text file, got 0/],
    [['tokenize', hello, hello], /takes one text file, got 2/],
    [['tokenize', join(dir, 'missing.txt')], /data file not found: .*missing.txt/],
    [['tokenize', latin1, '--tokenizer', vocabFolder], /latin1.txt is not valid UTF-8 text \(byte offset 3\)/],
    [
      ['tokenize', hello, '--tokenizer', corrupt],
      /corrupt.tok.json: "vocab_size" is 300, but 256 bytes, 0 merges and 0 special tokens make 256/,
    ],
    [['tokenize', hello, '--tokenizer', hello], /hello.txt: not a tokenizer file \(not valid JSON/],
    [['tokenize', hello, '--tokenizer', charFile], /hello.txt has characters outside the vocabulary: "H", "e", "l", "o", "," and 4 more/],
    [['tokenize', hello, '--tokenizer', half], /half has encoder.json but not vocab.bpe/],
    [['tokenize', hello, '--tokenizer', join(dir, 'nope')], /no tokenizer at .*nope \(no such file\)/],
    [['tokenize', hello, '--special', 'sometimes'], /option --special takes one of error, allow, ordinary, got "sometimes"/],
    [['tokenize', hello, '--jsn'], /unknown option --jsn for 'tsgpt tokenize' \(did you mean --json\?\)/],
  ];
  for (const [args, pattern] of cases) assertOneLineError(tsgpt(args), pattern);
});

test('tokenizer train: mistakes are one line each, and no file is written', () => {
  const out = join(dir, 'never.tok.json');
  const short = join(dir, 'short.txt');
  writeFileSync(short, 'abcabc');
  const cases: [string[], RegExp][] = [
    [['tokenizer'], /tsgpt tokenizer has one subcommand, train \(got nothing\)/],
    [['tokenizer', 'learn'], /one subcommand, train \(got "learn"\)/],
    [['tokenizer', 'train', '--out', out, '--data', short], /needs --vocab-size N/],
    [['tokenizer', 'train', '--vocab-size', '300', '--data', short], /needs --out FILE/],
    [
      ['tokenizer', 'train', '--vocab-size', '100', '--out', out, '--data', short],
      /option --vocab-size takes an integer from 256 to 2097152, got "100"/,
    ],
    [
      ['tokenizer', 'train', '--vocab-size', '300', '--out', out, '--data', short],
      /short.txt has no pair of tokens left to merge after 3 merges/,
    ],
    [
      ['tokenizer', 'train', '--vocab-size', '257', '--out', out, '--data', short, '--special', '<a> <b>'],
      /vocabulary size must be a whole number from 258/,
    ],
    [
      ['tokenizer', 'train', '--vocab-size', '300', '--out', out, '--data', short, '--pattern', 'gpt3'],
      /option --pattern takes one of gpt2, gpt4, none/,
    ],
    [
      ['tokenizer', 'train', '--vocab-size', '258', '--out', join(dir, 'no', 'such', 'dir', 'x.json'), '--data', short],
      /cannot write .*x.json: (no such file|a parent is not a folder)/,
    ],
  ];
  for (const [args, pattern] of cases) assertOneLineError(tsgpt(args), pattern);
  assert.ok(!existsSync(out));
});

test('--help for both commands lists their options', () => {
  const tokenize = tsgpt(['tokenize', '--help']);
  for (const flag of ['tokenizer', 'json', 'special']) assert.match(tokenize.stdout, new RegExp(`--${flag}\\b`));
  const train = tsgpt(['tokenizer', '--help']);
  for (const flag of ['vocab-size', 'out', 'data', 'pattern', 'special', 'verbose']) assert.match(train.stdout, new RegExp(`--${flag}\\b`));
  assert.match(tsgpt(['--help']).stdout, /tokenize .*\n {2}tokenizer /);
});
