/** The bigram preset in full on Tiny Shakespeare (a few seconds): the lecture's result, reproduced. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { SHAKESPEARE_PATH } from '../helpers/fixtures.js';

const shakespeare = fileURLToPath(SHAKESPEARE_PATH);

test('tsgpt train --preset bigram reaches a validation loss at or below 2.50', {
  skip: !existsSync(shakespeare) && 'no Tiny Shakespeare at ../shared/data',
}, () => {
  const out = mkdtempSync(join(tmpdir(), 'tsgpt-bigram-'));
  try {
    const cli = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
    const r = spawnSync(process.execPath, [cli, 'train', '--preset', 'bigram', '--data', shakespeare, '--out', out], {
      encoding: 'utf8',
      timeout: 300_000,
    });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /vocabulary 65/);
    const log = readFileSync(join(out, 'log.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, number | string>);
    const evals = log.filter((l) => l.type === 'eval');
    assert.equal(evals.length, 11); // steps 0, 300, ..., 3000
    const first = evals[0]!,
      last = evals[evals.length - 1]!;
    assert.equal(last.step, 3000);
    assert.ok((first.val_loss as number) > 4, 'the bigram table starts far from the data (N(0,1) init)');
    assert.ok((last.val_loss as number) <= 2.5, `final val loss ${last.val_loss}`);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
