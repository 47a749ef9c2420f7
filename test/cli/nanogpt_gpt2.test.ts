/**
 * tsgpt import and export with GPT-2's vocabulary, as commands: nanoGPT's padded GPT-2 checkpoint
 * (test/fixtures/nanogpt/ckpt_gpt2.pt) imported with GPT-2's tokenizer from the cache, sampled, exported with no
 * meta.pkl (nanoGPT's sample.py then uses GPT-2's encoding) and imported back; a run of `train --tokenizer gpt2`
 * exported; runs whose tokenizer nanoGPT cannot name (a trained BPE) refused in one line. GPT-2's files come
 * from a cache rebuilt offline.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { decodeTorchFile, type TorchTensor } from '../../src/io/torch_file.js';
import { assertOneLineError, runCli } from '../helpers/cli_process.js';
import { makeCorpus } from '../helpers/corpus.js';
import { writeGpt2VocabFolder } from '../helpers/gpt2_vocab.js';
import { fixturePath } from '../helpers/nanogpt_fixture.js';
import { tinyTrain } from '../helpers/tiny_run.js';

const dir = mkdtempSync(join(tmpdir(), 'tsgpt-nanogpt-gpt2-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const cache = { TSGPT_CACHE: join(dir, 'filled-cache') };
writeGpt2VocabFolder(join(cache.TSGPT_CACHE, 'gpt2'));
const tsgpt = (args: string[]) => runCli(dir, [...args, '--threads', '1'], { env: cache });

function checkpointOf(path: string): Map<string, unknown> {
  return decodeTorchFile(readFileSync(path), path) as Map<string, unknown>;
}
const wteOf = (ckpt: Map<string, unknown>) => (ckpt.get('model') as Map<string, TorchTensor>).get('transformer.wte.weight')!;

test("nanoGPT's GPT-2 checkpoint imports with GPT-2's tokenizer, samples, and exports with no meta.pkl", () => {
  const run = join(dir, 'imported');
  const r = tsgpt(['import', fixturePath('ckpt_gpt2.pt'), run]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /1 layers, 1 heads, width 2, block 8, vocabulary 50304 \(from GPT-2's tokenizer in .*filled-cache/);
  assert.match(r.stdout, /note: the 47 padding rows nanoGPT adds past GPT-2's 50257 tokens are cut/);
  const s = tsgpt(['sample', '--from', run, '--start', 'ROMEO:', '--tokens', '5', '--seed', '1']);
  assert.equal(s.code, 0, s.stderr);
  assert.ok(s.stdout.startsWith('ROMEO:') && s.stdout.length > 'ROMEO:'.length + 5, s.stdout);

  const out = join(dir, 'to-nanogpt');
  const e = tsgpt(['export', '--to', 'nanogpt', run, out]);
  assert.equal(e.code, 0, e.stderr);
  assert.deepEqual(readdirSync(out), ['ckpt.pt']);
  assert.match(e.stdout, /there is no meta\.pkl:\nnanoGPT's sample\.py finds none under data\/imported\/ and encodes with tiktoken's gpt2/);
  const exported = checkpointOf(join(out, 'ckpt.pt'));
  assert.equal((exported.get('model_args') as Map<string, unknown>).get('vocab_size'), 50257);
  const original = wteOf(checkpointOf(fixturePath('ckpt_gpt2.pt')));
  const wte = wteOf(exported);
  assert.deepEqual(wte.shape, [50257, 2]);
  assert.deepEqual(wte.data, original.data.subarray(0, 50257 * 2));

  // And back: a checkpoint of 50257 tokens has no padding to cut, and gives the same weights.
  const back = join(dir, 'back');
  const b = tsgpt(['import', join(out, 'ckpt.pt'), back]);
  assert.equal(b.code, 0, b.stderr);
  assert.doesNotMatch(b.stdout, /padding rows/);
  assert.deepEqual(readFileSync(join(back, 'model.safetensors')), readFileSync(join(run, 'model.safetensors')));
});

test("a run of train --tokenizer gpt2 exports to nanoGPT; a trained BPE's run is refused in one line", () => {
  const corpus = join(dir, 'corpus.txt');
  writeFileSync(corpus, makeCorpus(3000));
  const short = ['--max-iters', '2', '--eval-interval', '2'];
  const gpt2Run = join(dir, 'gpt2-run');
  const t = tsgpt([...tinyTrain(corpus), ...short, '--tokenizer', 'gpt2', '--out', gpt2Run]);
  assert.equal(t.code, 0, t.stderr);
  const out = join(dir, 'gpt2-out');
  const e = tsgpt(['export', '--to', 'nanogpt', gpt2Run, out, '--dataset', 'corpus']);
  assert.equal(e.code, 0, e.stderr);
  assert.ok(!existsSync(join(out, 'meta.pkl')));
  const ckpt = checkpointOf(join(out, 'ckpt.pt'));
  assert.equal((ckpt.get('model_args') as Map<string, unknown>).get('vocab_size'), 50257);
  assert.equal((ckpt.get('config') as Map<string, unknown>).get('dataset'), 'corpus');
  assert.equal(ckpt.get('iter_num'), 2);

  const tok = join(dir, 'corpus.tok.json');
  assert.equal(tsgpt(['tokenizer', 'train', '--vocab-size', '260', '--data', corpus, '--out', tok]).code, 0);
  const bpeRun = join(dir, 'bpe-run');
  assert.equal(tsgpt([...tinyTrain(corpus), ...short, '--tokenizer', tok, '--out', bpeRun]).code, 0);
  assertOneLineError(
    tsgpt(['export', '--to', 'nanogpt', bpeRun, join(dir, 'bpe-out')]),
    /bpe-run: its tokenizer \(bpe\) has no nanoGPT form: nanoGPT's sample\.py reads characters from a meta\.pkl or uses GPT-2's/,
  );
  assert.ok(!existsSync(join(dir, 'bpe-out')));
});
