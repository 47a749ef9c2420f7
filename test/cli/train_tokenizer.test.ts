/**
 * tsgpt train --tokenizer: a run trains on a trained BPE's tokens or GPT-2's, records the tokenizer in its
 * config.json, and tsgpt sample and --resume use it; a folder, a corrupt file and a resume with another
 * tokenizer are one line each, with nothing written. GPT-2's files come from a cache rebuilt offline.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { assertOneLineError, runCli } from '../helpers/cli_process.js';
import { makeCorpus } from '../helpers/corpus.js';
import { writeGpt2VocabFolder } from '../helpers/gpt2_vocab.js';
import { tinyTrain } from '../helpers/tiny_run.js';

const dir = mkdtempSync(join(tmpdir(), 'tsgpt-train-tokenizer-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const cache = { TSGPT_CACHE: join(dir, 'filled-cache') };
writeGpt2VocabFolder(join(cache.TSGPT_CACHE, 'gpt2'));
const corpus = join(dir, 'corpus.txt');
writeFileSync(corpus, makeCorpus(6000));
const tsgpt = (args: string[], env: Record<string, string> = {}) => runCli(dir, [...args, '--threads', '1'], { env });
const short = ['--max-iters', '4', '--eval-interval', '2'];

function recordedTokenizer(run: string): Record<string, unknown> {
  return (JSON.parse(readFileSync(join(run, 'config.json'), 'utf8')) as { tokenizer: Record<string, unknown> }).tokenizer;
}

test('--tokenizer TOK: trains on its tokens, records it whole, and sample and --resume use it', () => {
  const tok = join(dir, 'corpus.tok.json');
  const trained = tsgpt(['tokenizer', 'train', '--vocab-size', '300', '--data', corpus, '--out', tok]);
  assert.equal(trained.code, 0, trained.stderr);
  const run = join(dir, 'bpe-run');
  const r = tsgpt([...tinyTrain(corpus), ...short, '--tokenizer', tok, '--out', run]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /vocabulary 300\)/);
  assert.match(r.stderr, /step 4: train loss \d\.\d{4}, val loss \d\.\d{4} \(\d\.\d{4} bits per character\)/);
  const recorded = recordedTokenizer(run);
  assert.equal(recorded.type, 'bpe');
  assert.deepEqual(recorded.merges, (JSON.parse(readFileSync(tok, 'utf8')) as { merges: unknown }).merges);
  const sampled = tsgpt(['sample', '--from', run, '--start', 'the', '--tokens', '20']);
  assert.equal(sampled.code, 0, sampled.stderr);
  assert.ok(sampled.stdout.startsWith('the') && sampled.stdout.length > 25, sampled.stdout);
  const resumed = tsgpt([
    ...tinyTrain(corpus),
    '--eval-interval',
    '2',
    '--tokenizer',
    tok,
    '--out',
    run,
    '--resume',
    run,
    '--max-iters',
    '6',
  ]);
  assert.equal(resumed.code, 0, resumed.stderr);
  assertOneLineError(
    tsgpt([...tinyTrain(corpus), '--tokenizer', 'gpt2', '--resume', run, '--max-iters', '8'], cache),
    /--tokenizer gpt2 differs from the tokenizer the run in .* was trained with/,
  );
});

test("--tokenizer gpt2: GPT-2's 50,257 tokens, recorded by name, read back from the cache", () => {
  const run = join(dir, 'gpt2-run');
  const narrow = ['train', '--data', corpus, '--n-layer', '1', '--n-head', '2', '--n-embd', '8', '--block-size', '8', '--batch-size', '4'];
  const r = tsgpt(
    [...narrow, ...short, '--eval-iters', '2', '--warmup-iters', '3', '--lr-decay-iters', '30', '--tokenizer', 'gpt2', '--out', run],
    cache,
  );
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /vocabulary 50257\)/);
  assert.deepEqual(recordedTokenizer(run), { type: 'gpt2' });
  const sampled = tsgpt(['sample', '--from', run, '--start', 'Hello', '--tokens', '5'], cache);
  assert.equal(sampled.code, 0, sampled.stderr);
  assert.ok(sampled.stdout.startsWith('Hello'));
  // Without GPT-2's files, the run cannot be read: one line saying how to get them.
  assertOneLineError(
    tsgpt(['sample', '--from', run, '--tokens', '5'], { TSGPT_CACHE: join(dir, 'empty-cache') }),
    /uses GPT-2's tokenizer, but .*encoder.json is missing; 'tsgpt tokenize --tokenizer gpt2 FILE' downloads it/,
  );
});

test('a folder, a corrupt tokenizer file or one missing: one line, and no run folder', () => {
  const bad = join(dir, 'bad.tok.json');
  writeFileSync(bad, '{"type": "bpe", "version": 1, "vocab_size": 300, "merges": [');
  const cases: [string, RegExp][] = [
    [join(cache.TSGPT_CACHE, 'gpt2'), /is a folder; training takes char, gpt2 or a tokenizer file/],
    [bad, /bad\.tok\.json: not a tokenizer file \(not valid JSON/],
    [join(dir, 'nowhere.json'), /no tokenizer at .*nowhere\.json/],
  ];
  for (const [spec, pattern] of cases) {
    const out = join(dir, 'refused-run');
    assertOneLineError(tsgpt([...tinyTrain(corpus), ...short, '--tokenizer', spec, '--out', out]), pattern);
    assert.ok(!existsSync(out), `${out} was written`);
  }
});
