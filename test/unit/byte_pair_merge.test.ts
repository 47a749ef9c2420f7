/**
 * The parts of byte-pair encoding that speed depends on, each against the plainest version of itself: the merge
 * (both its rescanning and its heap form) against tiktoken's rule written naively, the pair table against a Map,
 * the piece cache against a Map, and the piece cache past its limit.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Rng } from '../../src/engine/random.js';
import { PieceMerger } from '../../src/tokenizers/byte_pair_merge.js';
import { NO_MERGE, PairTable } from '../../src/tokenizers/pair_table.js';
import { PieceCache } from '../../src/tokenizers/piece_cache.js';

/** tiktoken's rule, as plainly as it can be written: merge the lowest-ranked pair, leftmost first, until none is left. */
function naiveMerge(ids: number[], merges: Map<string, number>): number[] {
  const parts = [...ids];
  for (;;) {
    let best = Number.POSITIVE_INFINITY;
    let at = -1;
    for (let i = 0; i + 1 < parts.length; i++) {
      const rank = merges.get(`${parts[i]},${parts[i + 1]}`);
      if (rank !== undefined && rank < best) [best, at] = [rank, i];
    }
    if (at < 0) return parts;
    parts.splice(at, 2, best);
  }
}

/** A random vocabulary over a small alphabet, so that merges chain and compete: 'merges' new ids from 256 on. */
function randomMerges(rng: Rng, alphabet: number, merges: number): { table: PairTable; map: Map<string, number> } {
  const table = new PairTable(4);
  const map = new Map<string, number>();
  const ids = Array.from({ length: alphabet }, (_, i) => i);
  while (map.size < merges) {
    const left = ids[rng.int(ids.length)]!;
    const right = ids[rng.int(ids.length)]!;
    const id = 256 + map.size;
    if (!table.add(left, right, id)) continue;
    map.set(`${left},${right}`, id);
    ids.push(id);
  }
  return { table, map };
}

test('merging agrees with the naive rule on random pieces, short and long (both forms of the merge)', () => {
  const rng = new Rng(5);
  for (let round = 0; round < 30; round++) {
    const { table, map } = randomMerges(rng, 3 + rng.int(4), 20 + rng.int(200));
    const merger = new PieceMerger(table);
    for (const n of [1, 2, 3, 7, 40, 64, 65, 200, 1000]) {
      const piece = Array.from({ length: n }, () => rng.int(3));
      const ids = Int32Array.from(piece);
      const count = merger.merge(ids, n);
      assert.deepEqual([...ids.subarray(0, count)], naiveMerge(piece, map), `round ${round}, length ${n}`);
    }
  }
});

test('ties go to the leftmost pair: "aaaaa" with aa -> X merges from the left', () => {
  const table = new PairTable();
  table.add(1, 1, 256);
  const merger = new PieceMerger(table);
  for (const n of [5, 101]) {
    const ids = new Int32Array(n).fill(1);
    const count = merger.merge(ids, n);
    const expected = [...new Array<number>(Math.floor(n / 2)).fill(256), ...(n % 2 ? [1] : [])];
    assert.deepEqual([...ids.subarray(0, count)], expected);
  }
});

test('the pair table finds what was added, refuses a pair twice, and survives growing', () => {
  const rng = new Rng(9);
  const table = new PairTable(2);
  const map = new Map<string, number>();
  for (let i = 0; i < 20000; i++) {
    const [left, right] = [rng.int(2 ** 21), rng.int(300)];
    const added = table.add(left, right, i);
    assert.equal(added, !map.has(`${left},${right}`));
    if (added) map.set(`${left},${right}`, i);
  }
  assert.equal(table.size, map.size);
  for (const [key, id] of map) {
    const [left, right] = key.split(',').map(Number);
    assert.equal(table.get(left!, right!), id);
  }
  assert.equal(table.get(2 ** 21, 0), NO_MERGE);
});

test('the piece cache holds what a Map holds, found in place in a larger text, across a restart when full', () => {
  const rng = new Rng(3);
  const cache = new PieceCache();
  const map = new Map<string, number[]>();
  const text = Array.from({ length: 400_000 }, () => String.fromCharCode(0x61 + rng.int(4))).join('');
  let restarts = 0;
  for (let trial = 0; trial < 300_000; trial++) {
    const start = rng.int(text.length - 12);
    const end = start + 1 + rng.int(12);
    const piece = text.slice(start, end);
    const hash = PieceCache.hash(text, start, end);
    assert.equal(hash, PieceCache.hash(piece, 0, piece.length));
    const found = cache.find(text, start, end, hash);
    if (found >= 0) {
      const ids = [...cache.ids.subarray(cache.idStart(found), cache.idStart(found) + cache.idCount(found))];
      assert.deepEqual(ids, map.get(piece), `piece ${piece}`);
    } else {
      // Either never added, or forgotten when the cache started over.
      if (map.has(piece)) restarts++;
      const ids = Array.from({ length: 1 + rng.int(5) }, () => rng.int(50000));
      cache.add(text, start, end, hash, Int32Array.from(ids), ids.length);
      map.set(piece, ids);
    }
  }
  assert.ok(restarts > 0, 'the cache filled up and started over at least once');
});
