/** The README's library example runs as printed and learns. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

test('examples/tiny.ts trains (val loss falls by more than 1) and samples', () => {
  const script = fileURLToPath(new URL('../../examples/tiny.js', import.meta.url));
  const r = spawnSync(process.execPath, [script], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  const losses = [...r.stdout.matchAll(/val loss (\d+\.\d+)/g)].map((m) => Number(m[1]));
  assert.equal(losses.length, 4);
  assert.ok(losses[0]! - losses[3]! > 1, `val losses ${losses}`);
  assert.match(r.stdout, /\nTo be/);
});
