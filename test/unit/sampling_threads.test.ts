/**
 * tsgpt sample's thread count when --threads is not given: one for a run whose every product a token needs is
 * too small for the kernels to split (helper threads then only cost), every core otherwise.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { samplingThreads } from '../../src/cli/sample_command.js';
import { PARALLEL_MIN_MACS } from '../../src/engine/kernel_table.js';
import { Rng } from '../../src/engine/random.js';
import { createModel, largestRowProduct, type ModelConfig } from '../../src/models/index.js';
import { saveRun } from '../../src/node/run_folder.js';
import { runFileFor } from '../helpers/run_file.js';
import { PRESETS, modelConfigFor } from '../../src/train/config.js';

const dir = mkdtempSync(join(tmpdir(), 'tsgpt-sampling-threads-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function savedRun(name: string, model: ModelConfig): string {
  const chars = Array.from({ length: model.vocabSize }, (_, i) => String.fromCodePoint(0x4e00 + i));
  const file = runFileFor(model, chars);
  const out = join(dir, name);
  const m = createModel(model, new Rng(7));
  saveRun(out, m, file);
  m.dispose();
  return out;
}

test("a model's largest product a token: its widest layer or its head", () => {
  assert.equal(largestRowProduct(modelConfigFor(PRESETS.baby, 65)), 128 * 512);
  assert.equal(largestRowProduct(modelConfigFor(PRESETS.baby, 50257)), 128 * 50257);
  assert.equal(largestRowProduct(modelConfigFor(PRESETS.bigram, 65)), 0);
});

test('sample computes on one thread for a run too small to split, on every core otherwise', () => {
  const small = savedRun('small', modelConfigFor({ ...PRESETS.baby, nLayer: 1 }, 65));
  assert.ok(largestRowProduct(modelConfigFor(PRESETS.baby, 65)) < PARALLEL_MIN_MACS);
  assert.equal(samplingThreads(['--from', small, '--tokens', '5']), 1);
  const wide = savedRun('wide', modelConfigFor({ ...PRESETS.baby, nLayer: 1, nHead: 2, nEmbd: 192 }, 1000));
  assert.equal(samplingThreads(['--from', wide]), undefined);
  // Anything the command itself will refuse or resolve elsewhere: every core, and the command says what is wrong.
  assert.equal(samplingThreads(['--from', 'gpt2']), undefined);
  assert.equal(samplingThreads(['--from', join(dir, 'none')]), undefined);
  assert.equal(samplingThreads(['--tokens', 'many']), undefined);
  assert.equal(samplingThreads([]), undefined);
});
