/** The pure SHA-256 that browsers use to check run folders, against Node's (OpenSSL's) on every length that matters. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { Rng } from '../../src/engine/random.js';
import { sha256Hex } from '../../src/io/sha256.js';

const nodeSha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

test('sha256Hex: the standard test vectors', () => {
  const text = (s: string) => sha256Hex(new TextEncoder().encode(s));
  assert.equal(text(''), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  assert.equal(text('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  assert.equal(
    text('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq'),
    '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1',
  );
});

test('sha256Hex equals node:crypto on every length around the block and padding boundaries, and on views into larger buffers', () => {
  const rng = new Rng(4);
  const bytes = Uint8Array.from({ length: 3000 }, () => rng.int(256));
  for (let n = 0; n <= 300; n++) assert.equal(sha256Hex(bytes.subarray(0, n)), nodeSha256(bytes.subarray(0, n)), `length ${n}`);
  for (const [start, end] of [
    [1, 2999],
    [7, 1000],
    [64, 128],
    [55, 120],
  ]) {
    assert.equal(sha256Hex(bytes.subarray(start, end)), nodeSha256(bytes.subarray(start, end)), `[${start}, ${end})`);
  }
  const big = new Uint8Array(3 * 1024 * 1024 + 17).map((_, i) => (i * 2654435761) >>> 24);
  assert.equal(sha256Hex(big), nodeSha256(big));
});
