/**
 * GPT-2's weights in Hugging Face's layout: a small random GPT-2 (test/fixtures/gpt2_tiny/, written by
 * scripts/torch_parity.py) loads, and its logits are GPT-2's own (tanh GELU, from GPT-2's computation on the
 * Hugging Face layout) and, run with the exact GELU, nanoGPT's model.py's after from_pretrained's transposes.
 * Folders that disagree with themselves, and a released model that cannot fit, are one clear line each.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Rng } from '../../src/engine/random.js';
import { intTensor, tidy } from '../../src/engine/tensor.js';
import { TsgptError } from '../../src/errors.js';
import { GPT } from '../../src/models/gpt.js';
import { checkFitsForSampling, gpt2ModelConfig, isHfFolder, loadGpt2Model, loadHfFolder } from '../../src/node/hf_folder.js';
import { assertClose, relativeError } from '../helpers/assert.js';
import { FIXTURES, loadFixture } from '../helpers/fixtures.js';

const TINY = fileURLToPath(new URL('gpt2_tiny/', FIXTURES));
const work = mkdtempSync(join(tmpdir(), 'tsgpt-hf-'));
after(() => rmSync(work, { recursive: true, force: true }));

const expected = loadFixture('gpt2_tiny_logits.safetensors');

function logitsOf(model: GPT): { logits: Float32Array; loss: number } {
  const idx = expected.get('input.idx'),
    targets = expected.get('input.targets');
  return tidy(() => {
    const out = model.forward(intTensor(idx.data, idx.shape), intTensor(targets.data, targets.shape));
    return { logits: out.logits.data.slice(), loss: out.loss!.item() };
  });
}

test("a Hugging Face GPT-2 folder loads, with GPT-2's tanh GELU, and gives GPT-2's logits", () => {
  assert.ok(isHfFolder(TINY));
  const { model, tokenizer } = loadHfFolder(TINY);
  assert.equal(model.config.activation, 'gelu_tanh');
  assert.equal(tokenizer.vocabSize, model.config.vocabSize);
  assert.deepEqual([...tokenizer.encode(' the')], [258]); // "Ġ t", "h e", "Ġt he": the third merge
  const { logits, loss } = logitsOf(model);
  assertClose(logits, expected.get('out.logits_gelu_tanh').data, 1e-5, 'logits (tanh GELU)');
  assertClose([loss], expected.get('out.loss_gelu_tanh').data, 1e-5, 'loss (tanh GELU)');
  model.dispose();
});

test("run with the exact GELU, the same weights give nanoGPT's model.py's logits after from_pretrained's transposes", () => {
  const { model } = loadHfFolder(TINY);
  const exact = new GPT({ ...model.config, activation: 'gelu' }, new Rng(0));
  const params = new Map(model.namedParameters());
  for (const [name, t] of exact.namedParameters()) t.data.set(params.get(name)!.data);
  exact.eval();
  const { logits, loss } = logitsOf(exact);
  assertClose(logits, expected.get('out.logits_gelu').data, 1e-5, 'logits (exact GELU)');
  assertClose([loss], expected.get('out.loss_gelu').data, 1e-5, 'loss (exact GELU)');
  // The two forms' logits differ by far more than the tolerance (2.9e-4 of their scale): the test can tell them apart.
  assert.ok(relativeError(logits, expected.get('out.logits_gelu_tanh').data) > 10 * 1e-5);
  exact.dispose();
  model.dispose();
});

/** A copy of the tiny folder with `edit` applied; returns its path. */
let copies = 0;
function edited(edit: (dir: string) => void): string {
  const dir = join(work, `copy-${copies++}`);
  cpSync(TINY, dir, { recursive: true });
  edit(dir);
  return dir;
}

function editConfig(dir: string, change: (c: Record<string, unknown>) => void): void {
  const path = join(dir, 'config.json');
  const c = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  change(c);
  writeFileSync(path, JSON.stringify(c));
}

function refused(dir: string, pattern: RegExp): void {
  assert.throws(
    () => loadHfFolder(dir),
    (e: unknown) => e instanceof TsgptError && !e.message.includes('\n') && pattern.test(e.message),
  );
}

test('a folder whose config and tensors disagree, or whose tokenizer is of another size, is one clear line', () => {
  refused(
    edited((d) => editConfig(d, (c) => void (c.n_embd = 32))),
    /has shape \[.*\], but config.json describes .* different models/,
  );
  refused(
    edited((d) => editConfig(d, (c) => void (c.n_layer = 3))),
    /no tensor h\.2\.ln_1\.weight/,
  );
  refused(
    edited((d) => editConfig(d, (c) => void (c.vocab_size = 300))),
    /make 265 tokens but config.json says vocab_size 300/,
  );
  refused(
    edited((d) => editConfig(d, (c) => void (c.activation_function = 'swish'))),
    /activation_function "swish" is not one tsgpt computes/,
  );
  refused(
    edited((d) => writeFileSync(join(d, 'merges.txt'), '#version: 0.2\nĠ t\n')),
    /files come from vocabularies of different sizes|make \d+ tokens/,
  );
  refused(
    edited((d) => writeFileSync(join(d, 'vocab.json'), '{"a": ')),
    /vocab.json: not valid JSON/,
  );
  refused(
    edited((d) => rmSync(join(d, 'model.safetensors'))),
    /is not a Hugging Face GPT-2 folder: .*model.safetensors is missing/,
  );
});

test('the released models: the two that fit pass the size check, the two that cannot are refused naming the limit', () => {
  checkFitsForSampling(gpt2ModelConfig('gpt2'), 'gpt2');
  checkFitsForSampling(gpt2ModelConfig('gpt2-medium'), 'gpt2-medium');
  for (const name of ['gpt2-large', 'gpt2-xl'] as const) {
    assert.throws(
      () => checkFitsForSampling(gpt2ModelConfig(name), name),
      (e: unknown) => e instanceof TsgptError && /beyond tsgpt's 4.0 GB WebAssembly arena/.test(e.message),
    );
  }
});

test('a failed download is one line saying how to point at a local copy, and nothing is cached', async () => {
  const cacheDir = join(work, 'cache');
  const failing: typeof fetch = async () => {
    throw new TypeError('fetch failed', { cause: new Error('getaddrinfo ENOTFOUND huggingface.co') });
  };
  await assert.rejects(
    loadGpt2Model('gpt2', { cacheDir, fetchImpl: failing, log: () => {} }),
    (e: unknown) => e instanceof TsgptError && /ENOTFOUND.*give --from FOLDER/.test(e.message) && !e.message.includes('\n'),
  );
  await assert.rejects(
    loadGpt2Model('gpt2-medium', { cacheDir, fetchImpl: failing, log: () => {} }),
    (e: unknown) => e instanceof TsgptError && /Hugging Face's API .* failed .*give --from FOLDER/.test(e.message),
  );
  // A download whose bytes are not the pinned ones is refused and not kept.
  const wrong: typeof fetch = async () => new Response('{"n_embd": 1}');
  await assert.rejects(
    loadGpt2Model('gpt2', { cacheDir, fetchImpl: wrong, log: () => {} }),
    (e: unknown) => e instanceof TsgptError && /has sha256 .* expected 0daed7749b4f.*nothing was cached/.test(e.message),
  );
});
