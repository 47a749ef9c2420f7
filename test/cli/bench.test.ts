/** tsgpt bench --json prints the figures other tools read (no timing is asserted: speed lives in bench/). */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { trainingStepFlops } from '../../src/measure/flops.js';
import { PRESETS, modelConfigFor } from '../../src/train/config.js';

test('tsgpt bench --json has the documented fields', () => {
  const cli = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
  const r = spawnSync(
    process.execPath,
    [cli, 'bench', '--preset', 'bigram', '--steps', '2', '--warmup', '1', '--sample-tokens', '5', '--json'],
    { encoding: 'utf8', timeout: 120_000 },
  );
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as Record<string, unknown>;
  for (const key of [
    'ms_per_step',
    'tokens_per_s',
    'gflops',
    'ceiling_gflops',
    'share_of_ceiling',
    'sample_tokens_per_s',
    'sample_tokens_per_s_uncached',
    'sample_block_tokens_per_s',
    'sample_block_tokens_per_s_uncached',
    'threads',
  ]) {
    assert.equal(typeof out[key], 'number', key);
    assert.ok((out[key] as number) >= 0, key);
  }
  assert.equal(out.preset, 'bigram');
  assert.equal(out.sample_tokens_per_s_crop, null, 'no rotary embeddings, nothing rolls');
});

test('tsgpt bench --rotary times cropping beside rolling, and is one line for a preset without the nanoGPT form', () => {
  const cli = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
  const bench = (...args: string[]) => spawnSync(process.execPath, [cli, 'bench', ...args], { encoding: 'utf8', timeout: 240_000 });
  const r = bench('--preset', 'baby', '--rotary', '--steps', '1', '--warmup', '0', '--sample-tokens', '70', '--json');
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as Record<string, unknown>;
  assert.equal(out.preset, 'baby --rotary');
  assert.equal(typeof out.sample_tokens_per_s_crop, 'number');
  const refused = bench('--preset', 'bigram', '--rotary');
  assert.notEqual(refused.status, 0);
  assert.equal(refused.stderr, 'tsgpt: error: --rotary applies to the nanoGPT form only; preset bigram is not one\n');
});

test('the FLOP count of a baby training step, by hand', () => {
  // 768 rows; per layer: qkv 2*768*128*384, proj 2*768*128*128, MLP 2 * 2*768*128*512, attention
  // 2 * 2 * 12 * (64*65/2) * 128; head 2*768*128*65; backward twice the forward.
  const perLayer = 2 * 768 * 128 * 384 + 2 * 768 * 128 * 128 + 2 * 2 * 768 * 128 * 512 + 2 * 2 * 12 * 2080 * 128;
  const expected = 3 * (4 * perLayer + 2 * 768 * 128 * 65);
  assert.equal(trainingStepFlops(modelConfigFor(PRESETS.baby, 65), 12, 64), expected);
});
