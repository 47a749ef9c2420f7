/**
 * tsgpt train --init-from: a run starts from a Hugging Face GPT-2 folder's weights (the small random GPT-2 of
 * test/fixtures/gpt2_tiny/), keeps the folder's vocabulary beside its config.json, samples and resumes; flags
 * that would change the checkpoint's model are refused in one line, with nothing written. No test downloads.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadHfFolder } from '../../src/node/hf_folder.js';
import { loadRun } from '../../src/node/run_folder.js';
import { assertClose } from '../helpers/assert.js';
import { assertOneLineError, runCli } from '../helpers/cli_process.js';
import { makeCorpus } from '../helpers/corpus.js';
import { FIXTURES } from '../helpers/fixtures.js';

const TINY = fileURLToPath(new URL('gpt2_tiny/', FIXTURES));
const dir = mkdtempSync(join(tmpdir(), 'tsgpt-finetune-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const corpus = join(dir, 'corpus.txt');
writeFileSync(corpus, makeCorpus(6000));
const tsgpt = (args: string[]) => runCli(dir, [...args, '--threads', '1']);
/** train --init-from the tiny folder into `run`: `steps` steps, evaluating every `every`, at `lr`. */
const fineTune = (run: string, steps: number, every: number, lr: string) =>
  tsgpt([
    'train',
    '--init-from',
    TINY,
    ...small,
    '--max-iters',
    String(steps),
    '--eval-interval',
    String(every),
    '--learning-rate',
    lr,
    '--out',
    run,
  ]);
const small = ['--data', corpus, '--block-size', '8', '--batch-size', '2', '--gradient-accumulation-steps', '1', '--eval-iters', '2'];

test('--init-from FOLDER at learning rate 1e-12: the run holds the folder weights, context cropped, and its vocabulary', () => {
  const run = join(dir, 'still');
  const r = fineTune(run, 2, 1, '1e-12');
  assert.equal(r.code, 0, r.stderr);
  const { model: source } = loadHfFolder(TINY);
  const loaded = loadRun(run);
  assert.deepEqual(loaded.tokenizer.toJSON(), { type: 'gpt2' });
  assert.equal(loaded.tokenizer.vocabSize, source.config.vocabSize);
  assert.deepEqual(readFileSync(join(run, 'vocab.json')), readFileSync(join(TINY, 'vocab.json')));
  const config = loaded.file.model;
  assert.ok(config.kind === 'gpt');
  assert.deepEqual([config.nLayer, config.nEmbd, config.blockSize, config.activation, config.bias], [2, 16, 8, 'gelu_tanh', true]);
  const theirs = new Map(source.namedParameters());
  for (const [name, p] of loaded.model.namedParameters()) {
    const from = theirs.get(name)!.data;
    // nanoGPT's crop_block_size keeps the first 8 position embeddings. (A step at 1e-12 moves nothing visible.)
    assertClose(p.data, name === 'transformer.wpe.weight' ? from.slice(0, 8 * 16) : from, 1e-9, name);
  }
  source.dispose();
  loaded.model.dispose();
});

test('--init-from FOLDER trains (the loss falls), samples with the folder vocabulary, and resumes', () => {
  const run = join(dir, 'tuned');
  const r = fineTune(run, 30, 10, '3e-3');
  assert.equal(r.code, 0, r.stderr);
  const evals = readFileSync(join(run, 'log.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { type: string; val_loss?: number; init_from?: string })
    .filter((e) => e.type === 'eval' || e.type === 'start');
  assert.equal(evals[0]!.init_from, TINY);
  const losses = evals.filter((e) => e.type === 'eval').map((e) => e.val_loss!);
  assert.ok(losses.at(-1)! < losses[0]! - 0.3, `val losses ${losses}`);
  const sampled = tsgpt(['sample', '--from', run, '--start', ' the', '--tokens', '10']);
  assert.equal(sampled.code, 0, sampled.stderr);
  assert.ok(sampled.stdout.startsWith(' the'));
  const resumed = tsgpt(['train', '--resume', run, '--max-iters', '40', '--data', corpus]);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(resumed.stderr, /resuming .* at step 30 of 40/);
});

test('--init-from refusals: model flags, an unknown source, a longer context, the finetune preset alone', () => {
  const cases: [string[], RegExp][] = [
    [['--init-from', TINY, '--n-layer', '4'], /--n-layer cannot be given with --init-from/],
    [['--init-from', TINY, '--tokenizer', 'char'], /--tokenizer cannot be given with --init-from/],
    [
      ['--init-from', join(dir, 'nowhere')],
      /--init-from .*nowhere is neither one of gpt2, gpt2-medium, gpt2-large, gpt2-xl nor a Hugging Face/,
    ],
    [['--init-from', TINY, '--block-size', '32'], /--block-size 32 is beyond .*'s context of 16 tokens/],
    [['--preset', 'finetune'], /the finetune preset starts from GPT-2's weights: give --init-from gpt2/],
    [['--init-from', 'gpt2-xl'], /gpt2-xl needs \d+\.\d GB of tensor memory .* 4\.0 GB WebAssembly arena/],
  ];
  for (const [args, pattern] of cases) {
    const out = join(dir, 'refused');
    assertOneLineError(tsgpt(['train', '--data', corpus, ...args, '--out', out]), pattern);
    assert.ok(!existsSync(out), `${args.join(' ')} wrote ${out}`);
  }
});
