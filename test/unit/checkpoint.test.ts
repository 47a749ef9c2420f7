import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Rng } from '../../src/engine/random.js';
import { intTensor, tidy } from '../../src/engine/tensor.js';
import { noGrad } from '../../src/engine/autograd.js';
import { TsgptError } from '../../src/errors.js';
import { createModel, type ModelConfig } from '../../src/models/index.js';
import { CharTokenizer } from '../../src/tokenizers/char.js';
import { loadRun, saveRun } from '../../src/node/run_folder.js';
import { runFileFor } from '../helpers/run_file.js';

const dir = mkdtempSync(join(tmpdir(), 'tsgpt-ckpt-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const tokenizer = CharTokenizer.fromText('hello world, hello tsgpt');
const config: ModelConfig = {
  kind: 'gpt',
  style: 'lecture',
  vocabSize: tokenizer.vocabSize,
  blockSize: 8,
  nLayer: 2,
  nHead: 2,
  nEmbd: 12,
  dropout: 0.1,
  bias: true,
};

const runFile = (model: ModelConfig) => runFileFor(model, tokenizer.chars);

function logitsOf(model: ReturnType<typeof createModel>): number[] {
  return tidy(() => noGrad(() => model.forward(intTensor([1, 2, 3, 4, 5], [1, 5])).logits.toArray()));
}

test('a saved run loads back to a model with identical outputs', () => {
  const model = createModel(config, new Rng(11)).eval();
  const out = join(dir, 'run');
  saveRun(out, model, runFile(config));
  const loaded = loadRun(out);
  assert.deepEqual(logitsOf(loaded.model), logitsOf(model));
  assert.deepEqual(loaded.tokenizer.toJSON(), tokenizer.toJSON());
  assert.equal(loaded.file.training.step, 3);
  assert.equal(loaded.model.training, false);
  model.dispose();
  loaded.model.dispose();
});

test('a checkpoint of another model is refused by name and shape, in one line', () => {
  const out = join(dir, 'mismatch');
  const model = createModel(config, new Rng(11));
  saveRun(out, model, runFile(config));
  // Claim a wider model than the weights hold.
  const cfgPath = join(out, 'config.json');
  const wider = { ...config, nEmbd: 16 };
  writeFileSync(cfgPath, JSON.stringify(runFile(wider)));
  assert.throws(
    () => loadRun(out),
    (e: unknown) => e instanceof TsgptError && /has shape \[\d+(,\d+)*\], the model expects/.test(e.message) && !e.message.includes('\n'),
  );
  // Claim the other GPT form: the names do not match.
  writeFileSync(cfgPath, JSON.stringify(runFile({ ...config, style: 'nanogpt' })));
  assert.throws(
    () => loadRun(out),
    (e: unknown) => e instanceof TsgptError && /missing \d+ parameter/.test(e.message),
  );
  model.dispose();
});

test('missing folders, missing files and broken config files are clear errors', () => {
  assert.throws(() => loadRun(join(dir, 'nope')), /no run folder at/);
  const out = join(dir, 'broken');
  const model = createModel(config, new Rng(1));
  saveRun(out, model, runFile(config));
  const cfgPath = join(out, 'config.json');
  const good = readFileSync(cfgPath, 'utf8');
  writeFileSync(cfgPath, good.slice(0, 40));
  assert.throws(
    () => loadRun(out),
    (e: unknown) => e instanceof TsgptError && /not valid JSON/.test(e.message),
  );
  writeFileSync(cfgPath, JSON.stringify({ ...JSON.parse(good), version: 99 }));
  assert.throws(() => loadRun(out), /version 99 is not supported/);
  writeFileSync(cfgPath, JSON.stringify({ ...JSON.parse(good), model: { ...config, nHead: 5 } }));
  assert.throws(() => loadRun(out), /model\.nEmbd \(12\) must be divisible by model\.nHead \(5\)/);
  writeFileSync(cfgPath, good);
  const weights = join(out, 'model.safetensors');
  writeFileSync(weights, readFileSync(weights).subarray(0, 100));
  assert.throws(
    () => loadRun(out),
    (e: unknown) => e instanceof TsgptError && e.message.includes('model.safetensors'),
  );
  rmSync(weights);
  assert.throws(() => loadRun(out), /model\.safetensors is missing/);
  model.dispose();
});
