/** tsgpt ladder --modern in smoke form: every stage trains, the table, the JSON lines and the plot come out. */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { MODERN_LADDER } from '../../src/train/modern_ladder.js';
import { assertOneLineError, tsgptIn } from '../helpers/cli_process.js';
import { makeCorpus } from '../helpers/corpus.js';
import { TINY_GPT } from '../helpers/tiny_run.js';
import { parseXml } from '../helpers/xml.js';

const SMOKE = ['--seeds', '1', '--budget', '2', '--max-iters', '8', '--eval-every', '4', '--eval-iters', '2', ...TINY_GPT];

test('tsgpt ladder --modern: a table row per stage, the plot, and the same losses again as JSON lines', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsgpt-modern-ladder-'));
  try {
    writeFileSync(join(dir, 'corpus.txt'), makeCorpus(5000));
    const table = tsgptIn(dir, 'ladder', '--modern', '--data', 'corpus.txt', ...SMOKE, '--out', 'out');
    assert.equal(table.code, 0, table.stderr);
    const lines = table.stdout.trim().split('\n');
    assert.match(lines[0]!, /^stage +params +val at budget +change +steps +steps to 1\.88 +s to 1\.88 +speed-up +speedrun +tok\/s$/);
    assert.deepEqual(
      lines.slice(1).map((l) => l.split(/ +/)[0]),
      MODERN_LADDER.map((s) => s.name),
    );
    // The speedrun's claimed gains stand beside each stage after the first.
    assert.match(lines[2]!, / 1\.43x /);
    assert.ok(table.stderr.includes(`stage 1/${MODERN_LADDER.length} baby, seed 1337: training for 2 s`), table.stderr);

    const svg = readFileSync(join(dir, 'out', 'ladder.svg'), 'utf8');
    const doc = parseXml(svg);
    assert.equal(doc.name, 'svg');
    for (const stage of MODERN_LADDER) assert.ok(svg.includes(`${stage.name} (val `), stage.name);
    assert.match(svg, /training seconds \(evaluations excluded\)/);
    const saved = readFileSync(join(dir, 'out', 'ladder.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(saved.length, 2 * MODERN_LADDER.length);

    const json = tsgptIn(dir, 'ladder', '--modern', '--data', 'corpus.txt', ...SMOKE, '--out', 'out2', '--json');
    assert.equal(json.code, 0, json.stderr);
    const rows = json.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const runs = rows.filter((r) => r.type === 'run');
    const stages = rows.filter((r) => r.type === 'stage');
    assert.deepEqual(
      stages.map((s) => s.stage),
      MODERN_LADDER.map((s) => s.name),
    );
    for (const run of runs) {
      assert.equal(run.steps, 8);
      assert.equal(run.stopped_by, 'max-iters');
      assert.deepEqual(
        (run.evals as { step: number }[]).map((e) => e.step),
        [0, 4, 8],
      );
      assert.ok((run.val_loss as number) > 0 && (run.val_loss as number) < 6);
    }
    assert.equal(stages[1]!.speedrun_gain, 1.43);
    assert.equal(stages[0]!.speedup, null);
    // Same seed, same steps: the same losses in both runs; only the seconds differ.
    const losses = (list: Record<string, unknown>[]) =>
      list.filter((r) => r.type === 'run').map((r) => (r.evals as { val_loss: number }[]).map((e) => e.val_loss));
    assert.deepEqual(losses(rows), losses(saved));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('tsgpt ladder --modern: bad flags are one line, before any training and with nothing written', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsgpt-modern-ladder-'));
  try {
    writeFileSync(join(dir, 'corpus.txt'), makeCorpus(3000));
    const run = (...args: string[]) => tsgptIn(dir, 'ladder', '--modern', '--data', 'corpus.txt', '--out', 'out', ...args);
    assertOneLineError(run('--budget', '-1'), /--budget takes a number from 0\.01/);
    assertOneLineError(run('--stages', 'baby,adam'), /unknown stage "adam"; stages are baby, rotary/);
    assertOneLineError(run('--n-embd', '12', '--n-head', '4'), /stage rotary: rotary embeddings need an even head size/);
    assertOneLineError(run('--block-size', '4000'), /too short for a context of 4000/);
    assertOneLineError(run('--lecture'), /unknown option --lecture for 'tsgpt ladder --modern'/);
    assert.ok(!existsSync(join(dir, 'out')));
    assertOneLineError(
      tsgptIn(dir, 'ladder', '--modern', '--data', 'corpus.txt', '--out', '/proc/tsgpt-ladder', ...SMOKE),
      /cannot create output folder/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
