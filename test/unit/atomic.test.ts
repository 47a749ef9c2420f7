import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomicSync } from '../../src/node/atomic_write.js';

function withTempDir(fn: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'tsgpt-atomic-'));
  try {
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('writes a new file, then replaces it, leaving no temp files', () => {
  withTempDir((dir) => {
    const target = join(dir, 'ckpt.safetensors');
    writeFileAtomicSync(target, new Uint8Array([1, 2, 3]));
    assert.deepEqual([...readFileSync(target)], [1, 2, 3]);
    writeFileAtomicSync(target, 'héllo\n');
    assert.equal(readFileSync(target, 'utf8'), 'héllo\n');
    writeFileAtomicSync(target, new Uint8Array(0));
    assert.equal(readFileSync(target).length, 0);
    assert.deepEqual(readdirSync(dir), ['ckpt.safetensors']);
  });
});

test('writes a larger buffer exactly', () => {
  withTempDir((dir) => {
    const target = join(dir, 'big.bin');
    const data = new Uint8Array(3_000_000);
    for (let i = 0; i < data.length; i++) data[i] = (i * 31) & 0xff;
    writeFileAtomicSync(target, data);
    assert.ok(Buffer.from(data).equals(readFileSync(target)));
  });
});

test('a missing target directory throws and leaves nothing behind', () => {
  withTempDir((dir) => {
    assert.throws(() => writeFileAtomicSync(join(dir, 'missing', 'x.json'), '{}'), { code: 'ENOENT' });
    assert.deepEqual(readdirSync(dir), []);
  });
});

test('a failed rename (target is a directory) throws, keeps the target and removes the temp file', () => {
  withTempDir((dir) => {
    const target = join(dir, 'occupied');
    mkdirSync(join(target, 'inner'), { recursive: true });
    assert.throws(() => writeFileAtomicSync(target, 'data'));
    assert.deepEqual(readdirSync(dir), ['occupied']);
    assert.deepEqual(readdirSync(target), ['inner']);
  });
});
