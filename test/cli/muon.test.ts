/**
 * --optimizer muon and --norm rmsnorm from the command line: a tiny run trains, records both, saves Muon's
 * buffers in its snapshot and no norm weights, samples, resumes (and resumes bit for bit where the run that never
 * stopped ends); nanoGPT's export refuses it; bad values are one line each.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { decodeSafetensors } from '../../src/io/safetensors.js';
import { assertOneLineError, runCli, type CliResult } from '../helpers/cli_process.js';
import { makeCorpus } from '../helpers/corpus.js';
import { tinyTrain } from '../helpers/tiny_run.js';

const dir = mkdtempSync(join(tmpdir(), 'tsgpt-muon-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const corpusPath = join(dir, 'corpus.txt');
writeFileSync(corpusPath, makeCorpus(6000));

const tsgpt = (...args: string[]): CliResult => runCli(dir, args);
const MUON = ['--optimizer', 'muon', '--muon-lr', '0.03', '--norm', 'rmsnorm'];

function tensorNames(path: string): string[] {
  return [...decodeSafetensors(readFileSync(path), path).tensors.keys()];
}

function latestSnapshot(run: string): string {
  const config = JSON.parse(readFileSync(join(run, 'config.json'), 'utf8')) as { training: { resume: { folder: string } } };
  return join(run, config.training.resume.folder);
}

test('train with Muon and RMSNorm, sample, resume; the resumed run ends where the unbroken one does', () => {
  const out = join(dir, 'muon'),
    whole = join(dir, 'whole');
  const train = tsgpt(...tinyTrain(corpusPath), ...MUON, '--out', out, '--max-iters', '20', '--eval-interval', '10');
  assert.equal(train.code, 0, train.stderr);
  const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as {
    model: Record<string, unknown>;
    run: Record<string, unknown>;
  };
  assert.equal(config.model.norm, 'rmsnorm');
  assert.deepEqual([config.run.optimizer, config.run.muonLr, config.run.muonMomentum, config.run.norm], ['muon', 0.03, 0.95, 'rmsnorm']);
  // No norm has weights; the snapshot holds AdamW's moments for the embeddings and Muon's buffers for the matrices.
  const names = tensorNames(join(out, 'model.safetensors'));
  assert.ok(names.includes('transformer.wte.weight') && !names.some((n) => /ln_[12f]/.test(n)), names.join());
  const moments = tensorNames(join(latestSnapshot(out), 'optimizer.safetensors'));
  assert.deepEqual(moments.filter((n) => n.startsWith('muon.')).sort(), [
    'muon.transformer.h.0.attn.c_attn.weight',
    'muon.transformer.h.0.attn.c_proj.weight',
    'muon.transformer.h.0.mlp.c_fc.weight',
    'muon.transformer.h.0.mlp.c_proj.weight',
  ]);
  assert.deepEqual(moments.filter((n) => !n.startsWith('muon.')).sort(), [
    'm.transformer.wpe.weight',
    'm.transformer.wte.weight',
    'v.transformer.wpe.weight',
    'v.transformer.wte.weight',
  ]);
  const sample = tsgpt('sample', '--from', out, '--start', 'to be', '--tokens', '30');
  assert.equal(sample.code, 0, sample.stderr);
  assert.ok(sample.stdout.startsWith('to be'));
  // The command that made the run, with --resume added, goes on; a Muon setting of another value is named.
  const resumed = tsgpt(...tinyTrain(corpusPath), ...MUON, '--out', out, '--resume', out, '--max-iters', '30', '--eval-interval', '10');
  assert.equal(resumed.code, 0, resumed.stderr);
  assertOneLineError(
    tsgpt('train', '--resume', out, '--max-iters', '40', '--muon-lr', '0.05'),
    /--muon-lr 0\.05 differs from the run's 0\.03/,
  );
  assertOneLineError(
    tsgpt('train', '--resume', out, '--max-iters', '40', '--optimizer', 'adamw'),
    /--optimizer adamw differs from the run's muon/,
  );
  // The same 30 steps without a stop: the same weights, bit for bit.
  const unbroken = tsgpt(...tinyTrain(corpusPath), ...MUON, '--out', whole, '--max-iters', '30', '--eval-interval', '10');
  assert.equal(unbroken.code, 0, unbroken.stderr);
  for (const file of ['model.safetensors', 'optimizer.safetensors']) {
    assert.deepEqual(readFileSync(join(latestSnapshot(out), file)), readFileSync(join(latestSnapshot(whole), file)), file);
  }
  assert.equal(readdirSync(join(out, 'resume')).length, 1);
  // nanoGPT's model.py has no RMSNorm, and its train.py resumes AdamW only: either refuses the export whole.
  assertOneLineError(
    tsgpt('export', '--to', 'nanogpt', out, join(dir, 'exported')),
    /uses --norm, which nanoGPT's model\.py does not have/,
  );
  const muonOnly = join(dir, 'muon-only');
  const short = tsgpt(...tinyTrain(corpusPath), '--optimizer', 'muon', '--out', muonOnly, '--max-iters', '2', '--eval-interval', '2');
  assert.equal(short.code, 0, short.stderr);
  assertOneLineError(
    tsgpt('export', '--to', 'nanogpt', muonOnly, join(dir, 'exported')),
    /was trained with --optimizer muon; nanoGPT's train\.py resumes AdamW runs only/,
  );
  assert.ok(!existsSync(join(dir, 'exported')));
});

test('bad Muon and norm settings: one clear line each, nothing written', () => {
  const cases: [string[], RegExp][] = [
    [['--optimizer', 'sgd'], /option --optimizer takes one of adamw, muon, got "sgd"/],
    [['--optimizer', 'muon', '--muon-lr', '-1'], /option --muon-lr takes a number from 1e-12 to 10, got "-1"/],
    [['--optimizer', 'muon', '--muon-momentum', '1'], /--muon-momentum/],
    [['--muon-lr', '0.05'], /--muon-lr has no effect with --optimizer adamw; add --optimizer muon/],
    [['--norm', 'rmsnorm', '--style', 'lecture'], /--norm applies to --style nanogpt only/],
    [['--norm', 'batchnorm'], /option --norm takes one of layernorm, rmsnorm/],
    [['--preset', 'bigram', '--optimizer', 'muon'], /--optimizer muon needs a GPT/],
  ];
  for (const [flags, pattern] of cases) {
    const out = join(dir, 'refused');
    assertOneLineError(tsgpt('train', '--data', corpusPath, '--out', out, ...flags), pattern);
    assert.ok(!existsSync(out), `${flags.join(' ')} wrote ${out}`);
  }
});
