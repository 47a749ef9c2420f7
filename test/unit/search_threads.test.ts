/**
 * Exact search on helper threads: squaredNorms, searchBlocks (threads take whole blocks, of either of
 * SEARCH_BLOCK_ROWS) and searchMerge (whole queries) write the same bits on 1, 2 and 3 threads, and exactSearch
 * returns the same results; the keys are a few of the larger blocks and a part, so the chunks are uneven.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { type Kernels, referenceKernels, setKernels } from '../../src/engine/backend.js';
import { SEARCH_BLOCK_ROWS } from '../../src/engine/kernel_table.js';
import { Rng } from '../../src/engine/random.js';
import { Tensor } from '../../src/engine/tensor.js';
import { createWasmKernelsSync } from '../../src/engine/wasm/wasm_kernels.js';
import { enableRelaxedSimd } from '../../src/cli/wasm_flags.js';
import { exactSearch, keyNorms } from '../../src/memory/exact_search.js';
import { spawnNodeKernelWorker } from '../../src/node/kernel_threads.js';

enableRelaxedSimd();
const byThreads = new Map<number, Kernels>(
  [1, 2, 3].map((n) => [n, createWasmKernelsSync(undefined, { threads: n, spawnWorker: spawnNodeKernelWorker })]),
);
after(() => {
  for (const k of byThreads.values()) k.dispose?.();
});

const rng = new Rng(20261213);
const [SMALL, LARGE] = SEARCH_BLOCK_ROWS;
const N = 3 * LARGE + 1234;
const d = 4;
const COPIES = [11, SMALL - 1, SMALL, LARGE - 1, LARGE, 2 * LARGE + 5, N - 1];
const keys = new Tensor([N, d]);
{
  const data = keys.data;
  for (let i = 0; i < data.length; i++) data[i] = rng.normal();
  // Key 11 repeated on both sides of block boundaries, so that ties between blocks are broken by index on
  // every thread count.
  for (const j of COPIES.slice(1)) data.copyWithin(j * d, 11 * d, 12 * d);
}
after(() => keys.dispose());

function filled(values: Float32Array): Tensor {
  const t = new Tensor([values.length]);
  t.data.set(values);
  return t;
}

/** Runs `call` with each thread count and checks that the arrays it returns are the same bits as on one thread. */
function sameOnEveryThreadCount(what: string, call: (k: Kernels) => (Float32Array | Int32Array)[]): void {
  let expected: Buffer[] | null = null;
  for (const [threads, k] of byThreads) {
    const got = call(k).map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength));
    if (expected === null) expected = got;
    else got.forEach((g, i) => assert.ok(g.equals(expected![i]!), `${what}: array ${i} on ${threads} threads differs from 1`));
  }
}

test('squaredNorms: the same bits on 1, 2 and 3 threads', () => {
  sameOnEveryThreadCount('squaredNorms', (k) => {
    const out = new Tensor([N]);
    k.squaredNorms(out.data, keys.data, N, d);
    const got = out.data.slice();
    out.dispose();
    return [got];
  });
});

test('searchBlocks and searchMerge: the same bits on 1, 2 and 3 threads, both block sizes, one query and several, k past a block', () => {
  const norms = new Tensor([N]);
  byThreads.get(1)!.squaredNorms(norms.data, keys.data, N, d);
  for (const blockRows of SEARCH_BLOCK_ROWS) {
    const blocks = Math.ceil(N / blockRows);
    for (const Q of [1, 6]) {
      const queries = filled(Float32Array.from({ length: Q * d }, () => rng.normal()));
      for (const k of Q === 1 ? [1, 40, blockRows + 10] : [1, 40, 300]) {
        const kb = Math.min(k, blockRows);
        for (const l2 of [false, true]) {
          sameOnEveryThreadCount(`blocks of ${blockRows}, Q ${Q} k ${k} l2 ${l2}`, (K) => {
            const cs = new Tensor([Q * blocks * kb]);
            const ci = new Tensor([Q * blocks * kb], 'i32');
            const scores = new Tensor([Q * k]);
            const indices = new Tensor([Q * k], 'i32');
            K.searchBlocks(cs.data, ci.ints, queries.data, keys.data, l2 ? norms.data : null, Q, N, d, kb, blocks, blockRows, 0, l2);
            K.searchMerge(scores.data, indices.ints, cs.data, ci.ints, Q, blocks * kb, k);
            const got = [cs.data.slice(), ci.ints.slice(), scores.data.slice(), indices.ints.slice()];
            for (const t of [cs, ci, scores, indices]) t.dispose();
            return got;
          });
        }
      }
      queries.dispose();
    }
  }
  norms.dispose();
});

test('exactSearch: the same results on 1, 2 and 3 threads with either block size, and the reference agrees', () => {
  const Q = 5;
  const queries = Float32Array.from({ length: Q * d }, () => rng.normal());
  queries.set(keys.data.subarray(11 * d, 12 * d), 2 * d); // a query with copies of itself among the keys
  for (const k of [25, 300]) {
    for (const score of ['dot', 'l2'] as const) {
      let found: Int32Array | null = null;
      sameOnEveryThreadCount(`exactSearch ${score} k ${k}`, (K) => {
        setKernels(K);
        const norms = keyNorms(keys);
        const result = exactSearch(keys, queries, k, score, { keyNorms: norms });
        norms.dispose();
        found = result.indices;
        return [result.scores, result.indices];
      });
      setKernels(referenceKernels);
      const indices = found! as Int32Array;
      if (score === 'l2')
        assert.deepEqual(Array.from(indices.subarray(2 * k, 2 * k + COPIES.length)), COPIES, "the query's copies, in index order");
      if (k > 25) continue;
      // Apart from the exact ties between copies, no two of these best 25 lie within float32 rounding of each
      // other (the data is fixed by the seed), so the reference's float64 sums rank them the same way.
      assert.deepEqual(Array.from(exactSearch(keys, queries, k, score).indices), Array.from(indices), `${score}: reference indices`);
    }
  }
});
