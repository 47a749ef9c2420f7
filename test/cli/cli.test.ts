/** The tsgpt command as a user meets it: help, one-line errors with a non-zero exit, and a tiny real run. */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { makeCorpus } from '../helpers/corpus.js';
import { runCli, type CliResult } from '../helpers/cli_process.js';
import { tinyTrain } from '../helpers/tiny_run.js';

const dir = mkdtempSync(join(tmpdir(), 'tsgpt-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const corpusPath = join(dir, 'corpus.txt');
writeFileSync(corpusPath, makeCorpus(6000));

function tsgpt(...args: string[]): CliResult {
  return runCli(dir, args);
}

test('--help lists every train option with its default', () => {
  const r = tsgpt('train', '--help');
  assert.equal(r.code, 0);
  for (const flag of [
    'batch-size',
    'block-size',
    'n-layer',
    'n-head',
    'n-embd',
    'dropout',
    'bias',
    'learning-rate',
    'min-lr',
    'warmup-iters',
    'lr-decay-iters',
    'max-iters',
    'weight-decay',
    'beta1',
    'beta2',
    'grad-clip',
    'gradient-accumulation-steps',
    'eval-interval',
    'eval-iters',
    'seed',
    'preset',
    'data',
    'out',
  ]) {
    const line = r.stdout.split('\n').find((l) => l.startsWith(`  --${flag} `) || l === `  --${flag}`);
    assert.ok(line !== undefined, `--${flag} missing from help`);
    assert.match(line, /\(default: /, `--${flag} has no default shown`);
  }
  const top = tsgpt('--help');
  assert.equal(top.code, 0);
  assert.match(top.stdout, /train/);
  assert.match(top.stdout, /sample/);
  const sample = tsgpt('sample', '--help');
  for (const flag of ['from', 'start', 'num-samples', 'tokens', 'temperature', 'top-k', 'top-p', 'seed']) {
    assert.match(sample.stdout, new RegExp(`--${flag}\\b`));
  }
});

/** One line on stderr, starting "tsgpt: ", a non-zero exit, and no stack trace. */
function assertCleanError(r: ReturnType<typeof tsgpt>, pattern: RegExp): void {
  assert.notEqual(r.code, 0);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `expected one line, got:\n${r.stderr}`);
  assert.match(lines[0]!, /^tsgpt: /);
  assert.match(lines[0]!, pattern);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
}

test('bad flags: one clear line, non-zero exit, nothing written', () => {
  const out = join(dir, 'never');
  const cases: [string[], RegExp][] = [
    [['train', '--n-layr', '2'], /unknown option --n-layr.*did you mean --n-layer/],
    [['train', '--batch-size', 'twelve'], /--batch-size takes an integer/],
    [['train', '--batch-size', '0'], /--batch-size takes an integer from 1/],
    [['train', '--dropout', '1'], /--dropout takes a number from 0 to 1/],
    [['train', '--learning-rate'], /--learning-rate needs a value/],
    [['train', '--n-embd', '30', '--n-head', '4'], /divisible/],
    [['train', '--preset', 'huge'], /--preset takes one of bigram, baby, fast, lecture/],
    [['train', '--bias=maybe'], /--bias takes true or false/],
    [['train', '--max-iters', '5', '--max-iters', '6'], /given twice/],
    [['train', 'stray'], /unexpected argument "stray"/],
    [['train', '--min-lr', '1', '--learning-rate', '0.1'], /--min-lr .* is above --learning-rate/],
    [['sample'], /needs --from DIR/],
    [['sample', '--from', out, '--temperature', '-1'], /--temperature takes a number from 0/],
    [['frobnicate'], /unknown command "frobnicate"/],
  ];
  for (const [args, pattern] of cases) {
    assertCleanError(tsgpt(...args, ...(args[0] === 'train' ? ['--out', out] : [])), pattern);
  }
  assert.equal(existsSync(out), false, 'a refused command wrote its run folder');
});

test('missing data, an empty corpus, invalid UTF-8 and an unknown run folder are clear errors', () => {
  const out = join(dir, 'never2');
  assertCleanError(tsgpt('train', '--data', join(dir, 'missing.txt'), '--out', out), /data file not found/);
  const empty = join(dir, 'empty.txt');
  writeFileSync(empty, '');
  assertCleanError(tsgpt('train', '--data', empty, '--out', out), /is empty/);
  const binary = join(dir, 'binary.txt');
  writeFileSync(binary, Buffer.from([0x68, 0x69, 0xff, 0xfe, 0x00]));
  assertCleanError(tsgpt('train', '--data', binary, '--out', out), /not valid UTF-8/);
  assertCleanError(tsgpt('train', '--data', corpusPath, '--block-size', '5000', '--out', out), /too short for --block-size 5000/);
  assertCleanError(tsgpt('sample', '--from', join(dir, 'no-such-run')), /no run folder at/);
  assert.equal(existsSync(out), false);
});

test('train then sample: a tiny end-to-end run with its run folder and log', () => {
  const out = join(dir, 'tiny');
  const train = tsgpt(...tinyTrain(corpusPath), '--out', out, '--max-iters', '30', '--eval-interval', '10');
  assert.equal(train.code, 0, train.stderr);
  assert.match(train.stderr, /number of parameters: 0\.00M \(\d{1,3}(,\d{3})*\)/);
  assert.deepEqual(readdirSync(out).sort(), ['config.json', 'log.jsonl', 'loss.svg', 'model.safetensors', 'resume']);
  const log = readFileSync(join(out, 'log.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const evals = log.filter((l) => l.type === 'eval');
  assert.deepEqual(
    evals.map((e) => e.step),
    [0, 10, 20, 30],
  );
  for (const e of evals) for (const k of ['step', 'train_loss', 'val_loss']) assert.equal(typeof e[k], 'number');
  assert.equal(log.filter((l) => l.type === 'step').length, 30);

  const sample = tsgpt('sample', '--from', out, '--start', 'to be', '--tokens', '40', '--num-samples', '2');
  assert.equal(sample.code, 0, sample.stderr);
  const samples = sample.stdout.split('---------------\n').filter((s) => s.length > 0);
  assert.equal(samples.length, 2);
  for (const s of samples) {
    assert.ok(s.startsWith('to be'));
    assert.equal([...s.trimEnd()].length >= 5, true);
  }
  // Same seed, same text; a character outside the vocabulary is named.
  assert.equal(tsgpt('sample', '--from', out, '--start', 'to be', '--tokens', '40', '--num-samples', '2').stdout, sample.stdout);
  assertCleanError(tsgpt('sample', '--from', out, '--start', 'to be? Zebra'), /outside the vocabulary: .*"\?".*"Z"/);
  assert.equal(tsgpt('sample', '--from', out, '--start', 'to be? Zebra', '--unknown', 'skip', '--tokens', '3').code, 0);
});
