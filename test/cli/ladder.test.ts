/** tsgpt ladder in its smoke form: every stage builds from the library's modules, trains, and reports. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { Rng } from '../../src/engine/random.js';
import { createModel } from '../../src/models/index.js';
import { LADDER } from '../../src/train/ladder.js';
import { makeCorpus } from '../helpers/corpus.js';

test('each ladder stage is the lecture model of its chapter, by its parameters', () => {
  const names = (stage: string) =>
    createModel(LADDER.find((s) => s.name === stage)!.model(65), new Rng(1))
      .namedParameters()
      .map(([n, t]) => `${n}:${t.shape.join('x')}`);
  assert.deepEqual(names('bigram'), ['token_embedding_table.weight:65x65']);
  assert.deepEqual(names('one_head'), [
    'token_embedding_table.weight:65x32',
    'position_embedding_table.weight:8x32',
    'blocks.0.sa.heads.0.key.weight:32x32',
    'blocks.0.sa.heads.0.query.weight:32x32',
    'blocks.0.sa.heads.0.value.weight:32x32',
    'lm_head.weight:65x32',
    'lm_head.bias:65',
  ]);
  const fourHeads = names('four_heads');
  assert.equal(fourHeads.filter((n) => /heads\.\d\.key\.weight:8x32/.test(n)).length, 4);
  assert.ok(!fourHeads.some((n) => n.includes('proj')));
  assert.ok(names('feed_forward').includes('blocks.0.ffwd.net.0.weight:32x32'));
  const residual = names('residual_blocks');
  assert.ok(residual.includes('blocks.2.sa.proj.weight:32x32'));
  assert.ok(residual.includes('blocks.2.ffwd.net.0.weight:128x32') && residual.includes('blocks.2.ffwd.net.2.weight:32x128'));
  assert.ok(!residual.some((n) => n.includes('ln')));
  const norm = names('layer_norm');
  assert.ok(norm.includes('blocks.0.ln1.weight:32') && norm.includes('ln_f.weight:32'));
  // The chapter's batch: 32 windows of 8 in one step, whatever the final preset does with its batch.
  for (const stage of LADDER) {
    assert.equal(stage.run.batchSize * stage.run.gradientAccumulationSteps, 32, stage.name);
    assert.equal(stage.run.blockSize, 8, stage.name);
  }
  // The lecture's parameter counts (its code prints all parameters, position embeddings included).
  const count = (stage: string) => createModel(LADDER.find((s) => s.name === stage)!.model(65), new Rng(1)).numParameters();
  assert.equal(count('layer_norm'), 42_369);
});

test('tsgpt ladder --json in smoke form: one line per stage with its losses', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsgpt-ladder-'));
  try {
    const corpus = join(dir, 'corpus.txt');
    writeFileSync(corpus, makeCorpus(5000));
    const cli = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
    const r = spawnSync(process.execPath, [cli, 'ladder', '--data', corpus, '--max-iters', '20', '--eval-iters', '2', '--json'], {
      encoding: 'utf8',
      timeout: 120_000,
    });
    assert.equal(r.status, 0, r.stderr);
    const rows = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(
      rows.map((row) => row.stage),
      LADDER.map((s) => s.name),
    );
    for (const row of rows) {
      for (const key of ['params', 'train_loss', 'val_loss', 'seconds'])
        assert.equal(typeof row[key], 'number', `${String(row.stage)}.${key}`);
      assert.ok((row.val_loss as number) > 0 && (row.val_loss as number) < 6);
      assert.equal(row.steps, 20);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
