/**
 * Issue 15's model options from the command line: a tiny run with all of them trains, records them, saves
 * their state-dict names, samples past its context, resumes; options that do not apply are one clear line.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { decodeSafetensors } from '../../src/io/safetensors.js';
import { runCli, type CliResult } from '../helpers/cli_process.js';
import { makeCorpus } from '../helpers/corpus.js';
import { tinyTrain } from '../helpers/tiny_run.js';

const dir = mkdtempSync(join(tmpdir(), 'tsgpt-modern-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const corpusPath = join(dir, 'corpus.txt');
writeFileSync(corpusPath, makeCorpus(6000));

const tsgpt = (...args: string[]): CliResult => runCli(dir, args);
const MODERN = ['--activation', 'relu2', '--rotary', '--qk-norm', '--zero-init-projections', '--untied-head', '--logit-softcap', '15'];

function assertCleanError(r: CliResult, pattern: RegExp): void {
  assert.notEqual(r.code, 0);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `expected one line, got:\n${r.stderr}`);
  assert.match(lines[0]!, /^tsgpt: error: /);
  assert.match(lines[0]!, pattern);
}

test('train with every option, then sample past the context and resume', () => {
  const out = join(dir, 'modern');
  const train = tsgpt(...tinyTrain(corpusPath), ...MODERN, '--out', out, '--max-iters', '20', '--eval-interval', '10');
  assert.equal(train.code, 0, train.stderr);
  const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as {
    model: Record<string, unknown>;
    run: Record<string, unknown>;
  };
  for (const key of ['rotary', 'qkNorm', 'zeroInitProjections', 'untiedHead']) {
    assert.equal(config.model[key], true, `model.${key}`);
    assert.equal(config.run[key], true, `run.${key}`);
  }
  assert.equal(config.model.logitSoftcap, 15);
  assert.equal(config.model.activation, 'relu2');
  const names = [...decodeSafetensors(readFileSync(join(out, 'model.safetensors')), 'model.safetensors').tensors.keys()];
  assert.ok(names.includes('lm_head.weight') && names.includes('transformer.wte.weight'));
  assert.ok(!names.includes('transformer.wpe.weight'), 'rotary embeddings have no position table');
  // 40 tokens from a context of 16: the window slides past the block size.
  const sample = tsgpt('sample', '--from', out, '--start', 'to be', '--tokens', '40');
  assert.equal(sample.code, 0, sample.stderr);
  assert.ok(sample.stdout.startsWith('to be') && [...sample.stdout.trimEnd()].length >= 20);
  // A rotary run rolls its cache past the block size unless told to crop; both sample.
  const rolled = tsgpt('sample', '--from', out, '--start', 'to be', '--tokens', '40', '--past-context', 'roll');
  assert.equal(rolled.stdout, sample.stdout, 'rolling is the default');
  const cropped = tsgpt('sample', '--from', out, '--start', 'to be', '--tokens', '40', '--past-context', 'crop');
  assert.equal(cropped.code, 0, cropped.stderr);
  assert.ok(cropped.stdout.startsWith('to be'));
  // nanoGPT's model.py has none of them: the export says which.
  assertCleanError(
    tsgpt('export', '--to', 'nanogpt', out, join(dir, 'exported')),
    /uses --rotary, --qk-norm, --activation, --untied-head, --logit-softcap, which nanoGPT's model.py does not have/,
  );
  assert.ok(!existsSync(join(dir, 'exported')));
  const resumed = tsgpt('train', '--resume', out, '--max-iters', '30');
  assert.equal(resumed.code, 0, resumed.stderr);
  // Giving an option again with --resume is fine when it is the run's own; another value is named.
  assertCleanError(tsgpt('train', '--resume', out, '--max-iters', '40', '--logit-softcap', '30'), /logit-softcap/);
});

test('options that do not apply: one clear line, nothing written', () => {
  const cases: [string[], RegExp][] = [
    [['--style', 'lecture', '--rotary'], /--rotary applies to --style nanogpt only/],
    [['--style', 'lecture', '--activation', 'relu2'], /--activation applies to --style nanogpt only/],
    [['--activation', 'swish'], /--activation/],
    [['--n-embd', '15', '--n-head', '3', '--rotary'], /--rotary needs an even head size; --n-embd \/ --n-head is 5/],
    [['--logit-softcap', '-1'], /--logit-softcap/],
  ];
  for (const [flags, pattern] of cases) {
    const out = join(dir, 'refused');
    assertCleanError(tsgpt('train', '--data', corpusPath, '--out', out, ...flags), pattern);
    assert.ok(!existsSync(out), `${flags.join(' ')} wrote ${out}`);
  }
  assertCleanError(tsgpt('train', '--preset', 'bigram', '--data', corpusPath, '--qk-norm'), /--qk-norm has no effect on the bigram model/);
});

test('sample --past-context roll on a run with learned positions: one clear line, no text', () => {
  const out = join(dir, 'learned');
  const train = tsgpt(...tinyTrain(corpusPath), '--out', out, '--max-iters', '2', '--eval-interval', '2');
  assert.equal(train.code, 0, train.stderr);
  const r = tsgpt('sample', '--from', out, '--tokens', '40', '--past-context', 'roll');
  assertCleanError(r, /--past-context roll needs rotary embeddings \(a run trained with --rotary\); .* can only crop$/);
  assert.equal(r.stdout, '');
  assertCleanError(tsgpt('sample', '--from', out, '--past-context', 'slide'), /--past-context/);
  assert.equal(tsgpt('sample', '--from', out, '--tokens', '20', '--past-context', 'crop').code, 0);
});
