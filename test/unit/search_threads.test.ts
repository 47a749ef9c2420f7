/**
 * Exact search on helper threads: squaredNorms, searchBlocks (threads take whole blocks of SEARCH_BLOCK_ROWS
 * keys) and searchMerge (whole queries) write the same bits on 1, 2 and 3 threads, and exactSearch returns the
 * same results; the keys are a few blocks and a part, so the chunks are uneven.
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
const N = 3 * SEARCH_BLOCK_ROWS + 1234;
const d = 8;
const keys = new Tensor([N, d]);
{
  const data = keys.data;
  for (let i = 0; i < data.length; i++) data[i] = rng.normal();
  // A few repeated keys, so that ties between blocks are broken by index on every thread count.
  for (const j of [SEARCH_BLOCK_ROWS - 1, SEARCH_BLOCK_ROWS, 2 * SEARCH_BLOCK_ROWS + 5, N - 1]) data.copyWithin(j * d, 11 * d, 12 * d);
}
after(() => keys.dispose());

function filled(values: Float32Array): Tensor {
  const t = new Tensor([values.length]);
  t.data.set(values);
  return t;
}

/** Runs `call` with each thread count and checks that the arrays it returns are the same bits as on one thread. */
function sameOnEveryThreadCount(what: string, call: (k: Kernels) => (Float32Array | Int32Array)[]): void {
  let expected: number[][] | null = null;
  for (const [threads, k] of byThreads) {
    const got = call(k).map((a) => Array.from(a));
    if (expected === null) expected = got;
    else assert.deepEqual(got, expected, `${what}: ${threads} threads differ from 1`);
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

test('searchBlocks and searchMerge: the same bits on 1, 2 and 3 threads, one query and several, k up to past a block', () => {
  const norms = new Tensor([N]);
  byThreads.get(1)!.squaredNorms(norms.data, keys.data, N, d);
  const blocks = Math.ceil(N / SEARCH_BLOCK_ROWS);
  for (const Q of [1, 6]) {
    const queries = filled(Float32Array.from({ length: Q * d }, () => rng.normal()));
    for (const k of [1, 40, SEARCH_BLOCK_ROWS + 10]) {
      const kb = Math.min(k, SEARCH_BLOCK_ROWS);
      for (const l2 of [false, true]) {
        sameOnEveryThreadCount(`Q ${Q} k ${k} l2 ${l2}`, (K) => {
          const cs = new Tensor([Q * blocks * kb]);
          const ci = new Tensor([Q * blocks * kb], 'i32');
          const scores = new Tensor([Q * k]);
          const indices = new Tensor([Q * k], 'i32');
          K.searchBlocks(cs.data, ci.ints, queries.data, keys.data, l2 ? norms.data : null, Q, N, d, kb, blocks, SEARCH_BLOCK_ROWS, 0, l2);
          K.searchMerge(scores.data, indices.ints, cs.data, ci.ints, Q, blocks * kb, k);
          const got = [cs.data.slice(), ci.ints.slice(), scores.data.slice(), indices.ints.slice()];
          for (const t of [cs, ci, scores, indices]) t.dispose();
          return got;
        });
      }
    }
    queries.dispose();
  }
  norms.dispose();
});

test('exactSearch: the same results on 1, 2 and 3 threads, and the reference kernels agree on the indices', () => {
  const Q = 5,
    k = 25;
  const queries = Float32Array.from({ length: Q * d }, () => rng.normal());
  queries.set(keys.data.subarray(11 * d, 12 * d), 2 * d); // a query with four copies of itself among the keys
  for (const score of ['dot', 'l2'] as const) {
    let expected: Int32Array | null = null;
    sameOnEveryThreadCount(`exactSearch ${score}`, (K) => {
      setKernels(K);
      const norms = keyNorms(keys);
      const found = exactSearch(keys, queries, k, score, { keyNorms: norms });
      norms.dispose();
      expected ??= found.indices;
      return [found.scores, found.indices];
    });
    setKernels(referenceKernels);
    const reference = exactSearch(keys, queries, k, score);
    // Apart from the exact ties between copies, no two of these best 25 lie within float32 rounding of each
    // other (the data is fixed by the seed), so the reference's float64 sums must rank them the same way.
    assert.deepEqual(Array.from(reference.indices), Array.from(expected!), `${score}: reference indices`);
    const copies = [11, SEARCH_BLOCK_ROWS - 1, SEARCH_BLOCK_ROWS, 2 * SEARCH_BLOCK_ROWS + 5, N - 1];
    if (score === 'l2') assert.deepEqual(Array.from(expected!.subarray(2 * k, 2 * k + 5)), copies, "the query's copies, in index order");
  }
});
