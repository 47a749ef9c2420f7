/**
 * Exact nearest-key search (src/engine/kernels/search.ts, assembly/search.ts, src/memory/exact_search.ts):
 *  - the reference kernels against a brute-force sort of every key, to the bit: both scores, k = 1, 5 and more
 *    than the keys, blocks that do not divide the keys, duplicated keys (ties go to the lower index), one query
 *    and several;
 *  - the WebAssembly twin against the reference: on small-integer data, where every sum is exact, to the bit
 *    (ties everywhere); on Gaussian data, scores to float tolerance and indices wherever the reference's
 *    ranking is not a near tie; equal keys score equally and come in index order; orders that make the
 *    selection work hard (scores rising or falling along the keys, one score for all);
 *  - a query scores the same bits alone, in a pair (the row path) and among many (the matrix product);
 *  - the l2 form's error stays within the bound its comment gives, and a key equal to the query scores 0;
 *  - the JavaScript API: results, empty slots, rows, and one TsgptError line for bad input.
 * The same bits on 1, 2 and 3 threads: test/unit/search_threads.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Kernels, referenceKernels, setKernels } from '../../src/engine/backend.js';
import { Rng } from '../../src/engine/random.js';
import { Tensor } from '../../src/engine/tensor.js';
import { createWasmKernels } from '../../src/engine/wasm/wasm_kernels.js';
import { enableRelaxedSimd } from '../../src/cli/wasm_flags.js';
import { TsgptError } from '../../src/errors.js';
import { exactSearch, keyNorms, searchBlockRows } from '../../src/memory/exact_search.js';

const variants: [string, Kernels][] = [['simd', await createWasmKernels(undefined, { relaxed: false })]];
if (enableRelaxedSimd()) variants.push(['relaxed-simd', await createWasmKernels(undefined, { relaxed: true })]);
const rng = new Rng(20261212);

function gaussian(n: number, std = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.normal() * std;
  return a;
}

/** Whole numbers from -range to range: every product and sum of a few hundred of them is exact in float32. */
function smallIntegers(n: number, range: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.int(2 * range + 1) - range;
  return a;
}

interface Found {
  scores: Float32Array;
  indices: Int32Array;
}

interface Case {
  keys: Float32Array;
  queries: Float32Array;
  N: number;
  d: number;
  k: number;
  l2: boolean;
  blockRows: number;
}

/** Runs the kernels of a search (norms, blocks, merge) with a block size of the test's choosing. */
function kernelSearch(K: Kernels, c: Case): Found {
  const Q = c.queries.length / c.d;
  const blocks = Math.ceil(c.N / c.blockRows);
  const kb = Math.min(c.k, c.blockRows, c.N);
  const norms = new Float32Array(c.N);
  K.squaredNorms(norms, c.keys, c.N, c.d);
  const candidateScores = new Float32Array(Q * blocks * kb);
  const candidateIndices = new Int32Array(Q * blocks * kb);
  K.searchBlocks(candidateScores, candidateIndices, c.queries, c.keys, c.l2 ? norms : null, Q, c.N, c.d, kb, blocks, c.blockRows, 0, c.l2);
  const found = { scores: new Float32Array(Q * c.k), indices: new Int32Array(Q * c.k) };
  K.searchMerge(found.scores, found.indices, candidateScores, candidateIndices, Q, blocks * kb, c.k);
  return found;
}

/** Every key scored (as the kernels define the scores), all sorted: the k best per query, empty slots after. */
function bruteForce(c: Case): Found {
  const { keys, queries, N, d, k, l2 } = c;
  const Q = queries.length / d;
  const dot = (x: Float32Array, xo: number, y: Float32Array, yo: number) => {
    let s = 0;
    for (let j = 0; j < d; j++) s += x[xo + j]! * y[yo + j]!;
    return Math.fround(s);
  };
  const found = { scores: new Float32Array(Q * k).fill(-Infinity), indices: new Int32Array(Q * k).fill(-1) };
  for (let i = 0; i < Q; i++) {
    const all: [number, number][] = [];
    for (let j = 0; j < N; j++) {
      const s = dot(queries, i * d, keys, j * d);
      const score = l2 ? Math.fround(Math.fround(2 * s - dot(keys, j * d, keys, j * d)) - dot(queries, i * d, queries, i * d)) : s;
      all.push([score, j]);
    }
    all.sort((a, b) => (a[0] === b[0] ? a[1] - b[1] : b[0] - a[0]));
    for (let r = 0; r < Math.min(k, N); r++) {
      found.scores[i * k + r] = all[r]![0];
      found.indices[i * k + r] = all[r]![1];
    }
  }
  return found;
}

function assertSame(got: Found, expected: Found, what: string): void {
  assert.deepEqual(Array.from(got.indices), Array.from(expected.indices), `${what}: indices`);
  assert.deepEqual(Array.from(got.scores), Array.from(expected.scores), `${what}: scores`);
}

/** Keys with some rows repeated (at other indices), so that equal scores must be ordered by index. */
function withDuplicates(keys: Float32Array, N: number, d: number): Float32Array {
  const out = keys.slice();
  for (let j = 3; j < N; j += 5) out.copyWithin(j * d, (j - 3) * d, (j - 2) * d);
  return out;
}

const SHAPES = [
  // [N, d, Q, blockRows]: blocks that do not divide the keys, one block, widths that are not multiples of 4
  [30, 6, 1, 7],
  [30, 6, 5, 7],
  [101, 13, 3, 16],
  [64, 8, 9, 64],
  [257, 20, 6, 50],
] as const;

test('reference kernels: the brute-force sort, to the bit, both scores, k from 1 to more than the keys, ties by index', () => {
  for (const [N, d, Q, blockRows] of SHAPES) {
    for (const duplicated of [false, true]) {
      const keys = duplicated ? withDuplicates(gaussian(N * d), N, d) : gaussian(N * d);
      const queries = gaussian(Q * d);
      for (const l2 of [false, true]) {
        for (const k of [1, 5, N, N + 7]) {
          const c = { keys, queries, N, d, k, l2, blockRows };
          assertSame(
            kernelSearch(referenceKernels, c),
            bruteForce(c),
            `N ${N} d ${d} Q ${Q} block ${blockRows} k ${k} l2 ${l2} dup ${duplicated}`,
          );
        }
      }
    }
  }
});

test('wasm against the reference on small integers (exact sums, ties everywhere): the same bits', () => {
  for (const [N, d, Q, blockRows] of [...SHAPES, [3000, 33, 7, 1000], [5000, 16, 1, 300], [700, 300, 5, 256]] as const) {
    const keys = smallIntegers(N * d, 3);
    const queries = smallIntegers(Q * d, 3);
    for (const l2 of [false, true]) {
      for (const k of [1, 5, 40, N + 3]) {
        const c = { keys, queries, N, d, k, l2, blockRows };
        const expected = kernelSearch(referenceKernels, c);
        for (const [variant, K] of variants) assertSame(kernelSearch(K, c), expected, `${variant} N ${N} d ${d} Q ${Q} k ${k} l2 ${l2}`);
      }
    }
  }
});

/**
 * Compares a search's results with the reference's: scores within `tol` of the largest score's magnitude, and
 * the indices equal wherever the reference's neighbouring scores (and the first left out) are more than 2 tol
 * apart, so that rounding cannot reorder them.
 */
function assertClose(got: Found, expected: Found, c: Case, what: string): void {
  const Q = c.queries.length / c.d;
  const wide = bruteForce({ ...c, k: Math.min(c.k + 1, c.N) });
  const kw = Math.min(c.k + 1, c.N);
  let scale = 0;
  for (const s of expected.scores) if (Number.isFinite(s)) scale = Math.max(scale, Math.abs(s));
  const tol = 1e-5 * Math.max(scale, 1);
  let compared = 0;
  for (let i = 0; i < Q; i++) {
    for (let r = 0; r < c.k; r++) {
      const e = expected.scores[i * c.k + r]!,
        g = got.scores[i * c.k + r]!;
      if (e === -Infinity) assert.equal(g, -Infinity, `${what}: query ${i} slot ${r} should be empty`);
      else assert.ok(Math.abs(g - e) <= tol, `${what}: query ${i} slot ${r}: ${g} vs ${e}`);
      const gap = (a: number, b: number) => (b >= kw ? Infinity : wide.scores[i * kw + a]! - wide.scores[i * kw + b]!);
      const clear = (r === 0 || gap(r - 1, r) > 2 * tol) && gap(r, r + 1) > 2 * tol;
      if (!clear) continue;
      assert.equal(got.indices[i * c.k + r], expected.indices[i * c.k + r], `${what}: query ${i} slot ${r}`);
      compared++;
    }
  }
  assert.ok(compared > 0, `${what}: no slot was far enough from a tie to compare`);
}

test('wasm against the reference on Gaussian data: scores to float tolerance, indices wherever there is no near tie', () => {
  for (const [N, d, Q, blockRows] of [...SHAPES, [4000, 128, 6, 1500], [2000, 128, 1, 700], [900, 64, 2, 256]] as const) {
    const keys = gaussian(N * d);
    const queries = gaussian(Q * d);
    for (const l2 of [false, true]) {
      for (const k of [1, 5, 50, N + 2]) {
        const c = { keys, queries, N, d, k, l2, blockRows };
        const expected = kernelSearch(referenceKernels, c);
        for (const [variant, K] of variants)
          assertClose(kernelSearch(K, c), expected, c, `${variant} N ${N} d ${d} Q ${Q} k ${k} l2 ${l2}`);
      }
    }
  }
});

test('wasm: equal keys score the same bits and come in index order', () => {
  const N = 600,
    d = 24;
  const keys = gaussian(N * d);
  // Key 7 repeated at 100, 333 and 599; key 8 at 9.
  for (const j of [100, 333, 599]) keys.copyWithin(j * d, 7 * d, 8 * d);
  keys.copyWithin(9 * d, 8 * d, 9 * d);
  for (const Q of [1, 2, 5]) {
    // Every query is key 7 or key 8 itself: its copies are its best keys (l2), tied.
    const queries = new Float32Array(Q * d);
    for (let i = 0; i < Q; i++) queries.set(keys.subarray((7 + (i % 2)) * d, (8 + (i % 2)) * d), i * d);
    for (const [variant, K] of variants) {
      for (const blockRows of [64, 1000]) {
        const found = kernelSearch(K, { keys, queries, N, d, k: 6, l2: true, blockRows });
        for (let i = 0; i < Q; i++) {
          const copies = i % 2 === 0 ? [7, 100, 333, 599] : [8, 9];
          const what = `${variant} Q ${Q} block ${blockRows} query ${i}`;
          assert.deepEqual(Array.from(found.indices.subarray(i * 6, i * 6 + copies.length)), copies, what);
          for (let r = 0; r < copies.length; r++) assert.equal(found.scores[i * 6 + r], 0, `${what}: a key equal to the query scores 0`);
        }
      }
    }
  }
});

test('wasm: scores rising, falling or all equal along the keys (the selection at its busiest) match the reference', () => {
  const N = 5000,
    d = 4;
  const queries = new Float32Array([1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
  for (const [name, key] of [
    ['rising', (j: number) => [j, N - j, 1, 0]],
    ['falling', (j: number) => [N - j, j, 1, 0]],
    ['organ pipe', (j: number) => [Math.min(j, N - j), j % 97, 1, 0]],
    ['all equal', () => [1, 1, 1, 0]],
  ] as const) {
    const keys = new Float32Array(N * d);
    for (let j = 0; j < N; j++) keys.set(key(j), j * d);
    for (const k of [1, 7, 100, 2500]) {
      for (const blockRows of [1000, 4096]) {
        for (const l2 of [false, true]) {
          const c = { keys, queries, N, d, k, l2, blockRows };
          const expected = bruteForce(c);
          for (const [variant, K] of variants)
            assertSame(kernelSearch(K, c), expected, `${variant} ${name} k ${k} block ${blockRows} l2 ${l2}`);
        }
      }
    }
  }
});

test('wasm: a query gets the same bits alone, in a pair and among many (row path and matrix product)', () => {
  const N = 3000,
    d = 40,
    Q = 9,
    k = 30;
  const keys = gaussian(N * d);
  const queries = gaussian(Q * d);
  for (const [variant, K] of variants) {
    for (const l2 of [false, true]) {
      const all = kernelSearch(K, { keys, queries, N, d, k, l2, blockRows: 1024 });
      for (let i = 0; i < Q; i++) {
        for (const together of [1, 2, 3]) {
          const rows = Math.min(together, Q - i);
          const some = kernelSearch(K, { keys, queries: queries.slice(i * d, (i + rows) * d), N, d, k, l2, blockRows: 1024 });
          assertSame(
            { scores: some.scores.subarray(0, k), indices: some.indices.subarray(0, k) },
            { scores: all.scores.subarray(i * k, (i + 1) * k), indices: all.indices.subarray(i * k, (i + 1) * k) },
            `${variant} l2 ${l2} query ${i} with ${rows - 1} others`,
          );
        }
      }
    }
  }
});

test('l2: 2 q.k - ||k||^2 - ||q||^2 is within (d + 2) u (||q|| + ||k||)^2 of -||q - k||^2, and a key equal to the query scores 0', () => {
  const u = 2 ** -24;
  for (const d of [16, 128, 300]) {
    const N = 400;
    // Keys of norms from 0.01 to 100 times sqrt(d), some of them close to the query.
    const queries = gaussian(d);
    const keys = new Float32Array(N * d);
    for (let j = 0; j < N; j++) {
      const std = 10 ** (rng.uniform() * 4 - 2);
      for (let t = 0; t < d; t++) keys[j * d + t] = j % 4 === 0 ? queries[t]! + rng.normal() * 1e-3 : rng.normal() * std;
    }
    keys.set(queries, 17 * d);
    for (const [variant, K] of [['reference', referenceKernels] as const, ...variants]) {
      const found = kernelSearch(K, { keys, queries, N, d, k: N, l2: true, blockRows: 128 });
      let worst = 0;
      for (let r = 0; r < N; r++) {
        const j = found.indices[r]!;
        let exact = 0,
          qq = 0,
          kk = 0;
        for (let t = 0; t < d; t++) {
          const q = queries[t]!,
            x = keys[j * d + t]!;
          exact -= (q - x) ** 2;
          qq += q * q;
          kk += x * x;
        }
        const bound = (d + 2) * u * (Math.sqrt(qq) + Math.sqrt(kk)) ** 2;
        const err = Math.abs(found.scores[r]! - exact);
        assert.ok(err <= bound, `${variant} d ${d} key ${j}: error ${err} past the bound ${bound}`);
        worst = Math.max(worst, err / bound);
        if (j === 17) assert.equal(found.scores[r], 0, `${variant} d ${d}: the query's own copy`);
      }
      assert.ok(worst > 0, `${variant}: some rounding at all`);
    }
  }
});

test('exactSearch: the brute-force results on either backend, best first, empty slots past the keys', () => {
  const N = 500,
    d = 12,
    Q = 4;
  const keys = new Tensor([N, d]);
  keys.data.set(smallIntegers(N * d, 4));
  const queries = smallIntegers(Q * d, 4);
  const norms = keyNorms(keys);
  try {
    for (const [name, K] of [['reference', referenceKernels] as const, ...variants]) {
      setKernels(K);
      for (const score of ['dot', 'l2'] as const) {
        for (const k of [1, 10, N + 5]) {
          const expected = bruteForce({ keys: keys.data.slice(), queries, N, d, k, l2: score === 'l2', blockRows: searchBlockRows(k) });
          assertSame(exactSearch(keys, queries, k, score, { keyNorms: norms }), expected, `${name} ${score} k ${k}`);
          if (score === 'l2') assertSame(exactSearch(keys, queries, k, score), expected, `${name} l2 k ${k}, norms made by the call`);
        }
        // The first rows only: a memory still filling its tensor.
        const rows = 123;
        const expected = bruteForce({ keys: keys.data.slice(0, rows * d), queries, N: rows, d, k: 9, l2: score === 'l2', blockRows: rows });
        assertSame(exactSearch(keys, queries, 9, score, { rows, keyNorms: norms }), expected, `${name} ${score}, first ${rows} rows`);
        const none = exactSearch(keys, queries, 3, score, { rows: 0 });
        assert.deepEqual(Array.from(none.indices), new Array(Q * 3).fill(-1));
        assert.deepEqual(Array.from(none.scores), new Array(Q * 3).fill(-Infinity));
      }
    }
  } finally {
    setKernels(referenceKernels);
    keys.dispose();
    norms.dispose();
  }
});

test('exactSearch: bad input is one TsgptError line', () => {
  const keys = new Tensor([10, 4]);
  keys.data.set(gaussian(40));
  const q = gaussian(4);
  const cases: [string, () => unknown, RegExp][] = [
    ['keys not 2-D', () => exactSearch(new Tensor([40]), q, 1, 'dot'), /keys must be a float tensor \[N, d\]/],
    ['keys of ints', () => exactSearch(new Tensor([10, 4], 'i32'), q, 1, 'dot'), /keys must be a float tensor/],
    ['queries of another width', () => exactSearch(keys, gaussian(6), 1, 'dot'), /not a whole number of rows of the keys' width 4/],
    ['k of 0', () => exactSearch(keys, q, 0, 'dot'), /k must be a whole number of at least 1, got 0/],
    ['k of 1.5', () => exactSearch(keys, q, 1.5, 'dot'), /k must be a whole number/],
    ['an unknown score', () => exactSearch(keys, q, 1, 'cosine' as 'dot'), /score must be 'dot' or 'l2', got cosine/],
    ['a NaN in a query', () => exactSearch(keys, new Float32Array([0, 0, 0, 0, 1, Number.NaN, 0, 0]), 1, 'dot'), /query 1 holds NaN/],
    ['rows past the keys', () => exactSearch(keys, q, 1, 'dot', { rows: 11 }), /rows must be a whole number from 0 to 10, got 11/],
    [
      'norms too short',
      () => exactSearch(keys, q, 1, 'l2', { keyNorms: new Tensor([9]) }),
      /keyNorms must be a float tensor of at least 10/,
    ],
    ['too many results', () => exactSearch(keys, q, 2 ** 29, 'dot'), /more results than a call returns/],
  ];
  for (const [what, call, message] of cases) {
    assert.throws(call, (e: unknown) => e instanceof TsgptError && message.test(e.message) && !e.message.includes('\n'), what);
  }
  keys.dispose();
});
