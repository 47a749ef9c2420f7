/**
 * nanoGPT checkpoints of GPT-2's vocabulary: test/fixtures/nanogpt/ckpt_gpt2.pt, made by
 * scripts/nanogpt_fixtures.py with nanoGPT's model.py at its default vocab_size of 50304 (GPT-2's 50257 padded
 * to a multiple of 64). The import cuts the 47 padding rows and computes nanoGPT's logits for GPT-2's tokens;
 * it takes GPT-2's tokenizer from a folder (kept in the run folder) or the cache; vocabularies that fit neither
 * a meta.pkl nor GPT-2 are refused in one line, with nothing written.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { noGrad } from '../../src/engine/autograd.js';
import { intTensor, tidy } from '../../src/engine/tensor.js';
import { TsgptError } from '../../src/errors.js';
import { buildNanoGptRun, parseNanoGptCheckpoint } from '../../src/checkpoint/nanogpt_import.js';
import { importNanoGpt } from '../../src/node/nanogpt_files.js';
import { readRunConfig } from '../../src/node/run_folder.js';
import { fixtureBytes, fixturePath, sha256OfFloats } from '../helpers/nanogpt_fixture.js';
import { gpt2ForTests, writeGpt2VocabFolder } from '../helpers/gpt2_vocab.js';

interface ExpectedGpt2 {
  model_args: Record<string, number | boolean>;
  window_text: string;
  window: number[];
  wte_rows_sha256: string;
  padding_rows_sha256: string;
  top_ids: number[];
  logits_at: Record<string, number>;
}

const EXPECTED: ExpectedGpt2 = JSON.parse(readFileSync(fixturePath('expected_gpt2.json'), 'utf8'));
const CKPT = fixturePath('ckpt_gpt2.pt');
const dir = mkdtempSync(join(tmpdir(), 'tsgpt-nanogpt-gpt2-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const VOCAB = writeGpt2VocabFolder(join(dir, 'gpt2-files'));

test("nanoGPT's padded GPT-2 model: the padding rows are cut and the logits of GPT-2's tokens are nanoGPT's", () => {
  const e = EXPECTED;
  assert.deepEqual([...gpt2ForTests().encode(e.window_text)], e.window, "the fixture's window is GPT-2's tokens of its text");
  const ckpt = parseNanoGptCheckpoint(fixtureBytes('ckpt_gpt2.pt'), 'ckpt_gpt2.pt');
  assert.equal(ckpt.modelArgs.vocabSize, 50304);
  const wte = ckpt.weights.get('transformer.wte.weight')!;
  assert.equal(sha256OfFloats(wte.data.subarray(50257 * 2)), e.padding_rows_sha256, 'the checkpoint holds the padding rows');
  assert.equal(ckpt.optimizer?.state.size, 0, 'saved before its first step: param groups, no moments');
  const run = buildNanoGptRun(ckpt, 50257, 'ckpt_gpt2.pt');
  try {
    const [name, cut] = run.model.namedParameters()[0]!;
    assert.equal(name, 'transformer.wte.weight');
    assert.deepEqual(cut.shape, [50257, 2]);
    assert.equal(sha256OfFloats(cut.data), e.wte_rows_sha256);
    assert.equal(run.state.optimizerStep, 0);
    run.model.eval();
    const T = e.window.length;
    const last = tidy(() =>
      noGrad(() => run.model.forward(intTensor(Int32Array.from(e.window), [1, T])).logits.data.slice((T - 1) * 50257, T * 50257)),
    );
    assert.equal(last.length, 50257);
    for (const [id, value] of Object.entries(e.logits_at)) {
      assert.ok(Math.abs(last[Number(id)]! - value) < 1e-5, `logit of ${id}: ${last[Number(id)]} against nanoGPT's ${value}`);
    }
    const top = [...last.keys()].sort((a, b) => last[b]! - last[a]! || a - b).slice(0, 10);
    assert.deepEqual(top, e.top_ids);
  } finally {
    run.model.dispose();
    run.optimizer.dispose();
  }
});

test("import with GPT-2's tokenizer: from a folder (kept in the run folder) or the cache, the run holding 50257 tokens", async () => {
  const fromFolder = join(dir, 'from-folder');
  const r = await importNanoGpt(CKPT, fromFolder, { tokenizer: VOCAB });
  assert.equal(r.vocabulary, VOCAB);
  assert.match(r.notes.join('\n'), /the 47 padding rows nanoGPT adds past GPT-2's 50257 tokens are cut/);
  assert.deepEqual(r.file.tokenizer, { type: 'gpt2' });
  assert.equal(r.file.model.vocabSize, 50257);
  assert.ok(['encoder.json', 'vocab.bpe'].every((f) => readdirSync(fromFolder).includes(f)));
  const loaded = readRunConfig(fromFolder);
  assert.equal(loaded.tokenizer.vocabSize, 50257);

  const cache = join(dir, 'cache');
  writeGpt2VocabFolder(join(cache, 'gpt2'));
  const fromCache = join(dir, 'from-cache');
  const offline = async () => {
    throw new Error('no network in tests');
  };
  const c = await importNanoGpt(CKPT, fromCache, { gpt2: { cacheDir: cache, fetchImpl: offline, log: () => {} } });
  assert.match(c.vocabulary, /GPT-2's tokenizer in .*cache/);
  assert.ok(!existsSync(join(fromCache, 'encoder.json')), 'the cache is not copied');
  assert.deepEqual(readFileSync(join(fromCache, 'model.safetensors')), readFileSync(join(fromFolder, 'model.safetensors')));
});

test('vocabularies that fit neither a meta.pkl nor GPT-2 are refused in one line, and nothing is written', async () => {
  const charCkpt = fixturePath('ckpt.pt');
  const tiny = new URL('../../../test/fixtures/gpt2_tiny/', import.meta.url).pathname;
  const cases: [() => Promise<unknown>, RegExp][] = [
    [
      () => importNanoGpt(charCkpt, join(dir, 'x1'), {}),
      /holds a model of 58 tokens, neither GPT-2's \(50257, or 50304 padded\) nor one a meta\.pkl was given for: give its vocabulary with --meta/,
    ],
    [() => importNanoGpt(CKPT, join(dir, 'x2'), { tokenizer: tiny }), /gpt2_tiny\/? holds \d+ tokens, not GPT-2's 50257/],
    [() => importNanoGpt(CKPT, join(dir, 'x3'), { tokenizer: join(dir, 'nowhere') }), /--tokenizer .*nowhere is not a folder/],
    [
      () => importNanoGpt(CKPT, join(dir, 'x4'), { meta: fixturePath('meta.pkl') }),
      /meta\.pkl holds 58 characters but the model in .*ckpt_gpt2\.pt has 50304 tokens/,
    ],
    [
      () => importNanoGpt(charCkpt, join(dir, 'x5'), { meta: fixturePath('meta.pkl'), tokenizer: VOCAB }),
      /--tokenizer and a meta\.pkl .* both name the vocabulary/,
    ],
  ];
  for (const [fn, pattern] of cases) {
    await assert.rejects(fn(), (e: unknown) => {
      assert.ok(e instanceof TsgptError && !e.message.includes('\n'), `not a one-line TsgptError: ${(e as Error)?.stack}`);
      assert.match(e.message, pattern);
      return true;
    });
  }
  for (const name of ['x1', 'x2', 'x3', 'x4', 'x5']) assert.ok(!existsSync(join(dir, name)), `${name} was written`);
});
