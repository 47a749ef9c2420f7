/**
 * The arena's allocator: blocks never overlap, freed neighbours merge (and give their bytes back to the top),
 * a training-like step reuses exactly its own blocks, and shapes that grow every call (sampling) reuse memory
 * instead of growing it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Arena, RESERVED_BYTES } from '../../src/engine/arena.js';
import { Rng } from '../../src/engine/random.js';

const small = () => new Arena({ shared: false, initialBytes: 1 << 20 });

test('random allocations and releases: live blocks never overlap, and releasing all gives every byte back', () => {
  const arena = small();
  const rng = new Rng(11);
  const live = new Map<number, number>(); // offset -> bytes
  for (let i = 0; i < 20_000; i++) {
    if (live.size > 0 && rng.uniform() < 0.45) {
      const offsets = [...live.keys()];
      const o = offsets[rng.int(offsets.length)]!;
      arena.release(o, live.get(o)!);
      live.delete(o);
    } else {
      const bytes = 1 + rng.int(rng.uniform() < 0.9 ? 4096 : 200_000);
      const o = arena.alloc(bytes);
      assert.ok(o >= RESERVED_BYTES && o % 64 === 0, `offset ${o}`);
      live.set(o, bytes);
    }
    if (i % 997 === 0) {
      const blocks = [...live].sort((a, b) => a[0] - b[0]);
      for (let j = 1; j < blocks.length; j++) {
        assert.ok(blocks[j - 1]![0] + blocks[j - 1]![1] <= blocks[j]![0], 'two live blocks overlap');
      }
    }
  }
  for (const [o, bytes] of live) arena.release(o, bytes);
  assert.deepEqual(arena.stats().inUse, 0);
  assert.equal(arena.stats().reserved, RESERVED_BYTES, 'freed blocks merged back into the untouched tail');
});

test('a repeated step of the same sizes reuses its blocks: nothing new after the first', () => {
  const arena = small();
  const keep = arena.alloc(1000); // a parameter living across steps
  const sizes = [4096, 777, 65536, 4096, 12, 30000, 65536];
  const step = () => {
    const blocks = sizes.map((s) => arena.alloc(s));
    blocks.forEach((o, i) => arena.release(o, sizes[i]!));
    return blocks;
  };
  const first = step();
  const reserved = arena.stats().reserved;
  for (let i = 0; i < 10; i++) assert.deepEqual(step(), first);
  assert.equal(arena.stats().reserved, reserved);
  arena.release(keep, 1000);
});

test('shapes that grow a little every call (a context growing while sampling) reuse memory', () => {
  const arena = small();
  const model = arena.alloc(3 << 20); // weights that stay
  let peak = 0;
  for (let T = 1; T <= 256; T++) {
    // A forward's tensors for T positions, freed at the end of the step (in creation order, as tidy does).
    const sizes = [T * 1536, T * 4608, T * T * 24, T * 6144, T * 1536, T * 260];
    const blocks = sizes.map((s) => arena.alloc(s));
    peak = Math.max(
      peak,
      sizes.reduce((a, s) => a + Math.ceil(s / 64) * 64, 0),
    );
    blocks.forEach((o, i) => arena.release(o, sizes[i]!));
  }
  const grown = arena.stats().reserved - RESERVED_BYTES - (3 << 20);
  assert.ok(grown <= 2 * peak, `reserved ${grown} bytes beyond the weights for a peak step of ${peak}`);
  arena.release(model, 3 << 20);
});
