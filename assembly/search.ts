/**
 * Exact nearest-key search: the twin of src/engine/kernels/search.ts, which describes the scores, the blocks,
 * the order (higher score first, lower index on ties, NaN never) and the empty slots.
 *
 * searchBlocks scores a block's keys a tile of TILE_KEYS at a time: four or more queries as a matrix product
 * (gemm.ts's packing and 4x8 micro-kernel: queries packed once per call, each tile's keys once), one to three
 * a row at a time against the keys read in place (rowTimesColumns, no packing: one query is a pass over the
 * keys, bound by memory bandwidth). Every score is summed as the micro-kernel sums (one multiply-add per
 * element in order, from zero within each depth block of KC, block sums added), so a query's scores do not
 * depend on how many queries came with it, and norms4 sums squared norms the same way (a key equal to the
 * query scores exactly 0 under l2).
 *
 * Selection without sorting: each query keeps a buffer of up to 2 kb candidates. While it holds fewer than kb
 * nothing is refused; after that a key enters only if its score beats the threshold, the worst of the kb best
 * kept at the last compaction (keys come in index order, so a tie with the threshold never wins). A vector
 * compare refuses four scores at a time; when the buffer fills, a selection (introselect) keeps the kb best
 * and raises the threshold. A block's slots get its kb best in no set order; searchMerge sorts.
 */
import { KC, MR, NR, micro, packA, packB, rowTimesColumns } from './gemm';
import { madd } from './simd';

/** Keys scored at once: the tile of scores (Q rows of TILE_KEYS) and the tile's packed keys stay in L2. */
const TILE_KEYS: i32 = 64;
/** Bytes of a query's selection state: candidates held (i32), whether the threshold is set (i32), the threshold (f32). */
const STATE_BYTES: usize = 16;

// @ts-ignore: decorator
@inline function align64(bytes: usize): usize {
  return (bytes + 63) & ~(<usize>63);
}

// @ts-ignore: decorator
@inline function pad4(n: i32): usize {
  return <usize>((n + MR - 1) & ~(MR - 1));
}

/** Candidates a query's buffer holds: twice kb, or a whole block when that is fewer. */
// @ts-ignore: decorator
@inline function candidateCap(kb: i32, blockRows: i32): i32 {
  return min(2 * kb, blockRows);
}

// The scratch's regions, in order, each a multiple of 64 bytes.
// @ts-ignore: decorator
@inline function packedQueryBytes(Q: i32, d: i32): usize {
  return Q >= MR ? align64((pad4(Q) * <usize>d) << 2) : 0;
}
// @ts-ignore: decorator
@inline function packedKeyBytes(d: i32): usize {
  return align64((<usize>TILE_KEYS * <usize>d) << 2);
}
// @ts-ignore: decorator
@inline function tileBytes(Q: i32): usize {
  return align64((pad4(Q) * <usize>TILE_KEYS) << 2);
}
// @ts-ignore: decorator
@inline function queryNormBytes(Q: i32): usize {
  return align64(pad4(Q) << 2);
}

export function searchBlocksScratch(
  scores: usize, indices: usize, queries: usize, keys: usize, keyNorms: usize,
  Q: i32, N: i32, d: i32, kb: i32, blocks: i32, blockRows: i32, start: i32, l2: bool, way: i32,
): f64 {
  const candidates = (<usize>Q * <usize>(candidateCap(kb, blockRows) + 4)) << 3;
  return <f64>(packedQueryBytes(Q, d) + packedKeyBytes(d) + tileBytes(Q) + queryNormBytes(Q) + align64(<usize>Q * STATE_BYTES) + candidates);
}

/**
 * The squared norms of `rows` (1 to 4) rows of d floats, rs bytes apart, one a lane (lanes past `rows` 0),
 * summed as the micro-kernel sums a row's product with a column: in order, per depth block of KC.
 */
function norms4(x: usize, rs: usize, rows: i32, d: i32): v128 {
  let total = f32x4.splat(0);
  for (let pc = 0; pc < d; pc += KC) {
    const kc = min(KC, d - pc);
    let acc = f32x4.splat(0);
    const p = x + ((<usize>pc) << 2);
    let k = 0;
    if (rows == 4) {
      // Four rows' next four floats, transposed in registers: column c holds element k + c of each row.
      for (; k + 4 <= kc; k += 4) {
        const o = p + ((<usize>k) << 2);
        const x0 = v128.load(o), x1 = v128.load(o + rs), x2 = v128.load(o + 2 * rs), x3 = v128.load(o + 3 * rs);
        const a = v128.shuffle<f32>(x0, x1, 0, 4, 1, 5), b = v128.shuffle<f32>(x2, x3, 0, 4, 1, 5);
        const c = v128.shuffle<f32>(x0, x1, 2, 6, 3, 7), e = v128.shuffle<f32>(x2, x3, 2, 6, 3, 7);
        const c0 = v128.shuffle<f32>(a, b, 0, 1, 4, 5), c1 = v128.shuffle<f32>(a, b, 2, 3, 6, 7);
        const c2 = v128.shuffle<f32>(c, e, 0, 1, 4, 5), c3 = v128.shuffle<f32>(c, e, 2, 3, 6, 7);
        acc = madd(c3, c3, madd(c2, c2, madd(c1, c1, madd(c0, c0, acc))));
      }
    }
    for (; k < kc; k++) {
      const o = p + ((<usize>k) << 2);
      let c = f32x4.splat(0);
      c = f32x4.replace_lane(c, 0, load<f32>(o));
      if (rows > 1) c = f32x4.replace_lane(c, 1, load<f32>(o + rs));
      if (rows > 2) c = f32x4.replace_lane(c, 2, load<f32>(o + 2 * rs));
      if (rows > 3) c = f32x4.replace_lane(c, 3, load<f32>(o + 3 * rs));
      acc = madd(c, c, acc);
    }
    total = pc == 0 ? acc : f32x4.add(acc, total);
  }
  return total;
}

/** Writes the first `n` (0 to 4) lanes of v to dst. */
// @ts-ignore: decorator
@inline function storeFirstLanes(dst: usize, v: v128, n: i32): void {
  if (n > 0) store<f32>(dst, f32x4.extract_lane(v, 0));
  if (n > 1) store<f32>(dst, f32x4.extract_lane(v, 1), 4);
  if (n > 2) store<f32>(dst, f32x4.extract_lane(v, 2), 8);
  if (n > 3) store<f32>(dst, f32x4.extract_lane(v, 3), 12);
}

/** out[i] = ||x[i, :]||^2 for N rows of d floats, four rows at a time (norms4). */
export function squaredNorms(out: usize, x: usize, N: i32, d: i32): void {
  const rs = (<usize>d) << 2;
  for (let i = 0; i < N; i += 4) storeFirstLanes(out + ((<usize>i) << 2), norms4(x + <usize>i * rs, rs, min(4, N - i), d), min(4, N - i));
}

// ---- candidates: (score f32, index i32) pairs, 8 bytes each ----------------------------------------------

// @ts-ignore: decorator
@inline function scoreAt(buf: usize, i: i32): f32 {
  return load<f32>(buf + ((<usize>i) << 3));
}
// @ts-ignore: decorator
@inline function indexAt(buf: usize, i: i32): i32 {
  return load<i32>(buf + ((<usize>i) << 3), 4);
}
// @ts-ignore: decorator
@inline function put(buf: usize, i: i32, score: f32, index: i32): void {
  store<f32>(buf + ((<usize>i) << 3), score);
  store<i32>(buf + ((<usize>i) << 3), index, 4);
}
// @ts-ignore: decorator
@inline function swap(buf: usize, i: i32, j: i32): void {
  const a = buf + ((<usize>i) << 3), b = buf + ((<usize>j) << 3);
  const t = load<u64>(a);
  store<u64>(a, load<u64>(b));
  store<u64>(b, t);
}
/** The search's order: the higher score, then the lower index. */
// @ts-ignore: decorator
@inline function better(s1: f32, i1: i32, s2: f32, i2: i32): bool {
  return s1 > s2 || (s1 == s2 && i1 < i2);
}
// @ts-ignore: decorator
@inline function betterAt(buf: usize, i: i32, j: i32): bool {
  return better(scoreAt(buf, i), indexAt(buf, i), scoreAt(buf, j), indexAt(buf, j));
}

/** Moves entry i of the heap buf[0, n) down until neither child is worse (a heap whose root is the worst). */
function siftDown(buf: usize, i: i32, n: i32): void {
  for (;;) {
    let c = 2 * i + 1;
    if (c >= n) return;
    if (c + 1 < n && betterAt(buf, c, c + 1)) c++;
    if (!betterAt(buf, i, c)) return;
    swap(buf, i, c);
    i = c;
  }
}

/** Sorts buf[0, n) best first (heapsort: no bad case, no recursion). */
function sortBest(buf: usize, n: i32): void {
  for (let i = (n >> 1) - 1; i >= 0; i--) siftDown(buf, i, n);
  for (let end = n - 1; end > 0; end--) {
    swap(buf, 0, end);
    siftDown(buf, 0, end);
  }
}

/**
 * Rearranges buf[0, n) so that its first k (1 <= k <= n) entries are the k best: quickselect with a median of
 * three, and a sort of what is left if the partitions stop shrinking (introselect). Entries are distinct
 * (each key once), so the k best are one set whatever the path.
 *
 * The partition is Lomuto's without branches: every entry is swapped with the first one not yet known to be
 * better than the pivot, and that position advances by the comparison's 0 or 1. Candidates compared with a
 * pivot go either way at random, so a branch on each would be mispredicted half the time.
 */
function selectBest(buf: usize, n: i32, k: i32): void {
  let lo = 0, hi = n - 1;
  const t = k - 1;
  let budget = 2 * (32 - clz(n)) + 8;
  while (hi > lo) {
    if (budget-- == 0) {
      sortBest(buf + ((<usize>lo) << 3), hi - lo + 1);
      return;
    }
    // The median of the first, middle and last entries goes last, as the pivot.
    const mid = lo + ((hi - lo) >> 1);
    if (betterAt(buf, mid, lo)) swap(buf, mid, lo);
    if (betterAt(buf, hi, lo)) swap(buf, hi, lo);
    if (betterAt(buf, mid, hi)) swap(buf, mid, hi);
    const pivot = buf + ((<usize>hi) << 3);
    const ps = load<f32>(pivot), pi = load<i32>(pivot, 4);
    let p = buf + ((<usize>lo) << 3);
    for (let e = p; e < pivot; e += 8) {
      const x = load<u64>(e);
      const s = reinterpret<f32>(<u32>x), index = <i32>(x >> 32);
      const isBetter = <i32>(s > ps) | (<i32>(s == ps) & <i32>(index < pi));
      store<u64>(e, load<u64>(p));
      store<u64>(p, x);
      p += (<usize>isBetter) << 3;
    }
    const x = load<u64>(p);
    store<u64>(p, load<u64>(pivot));
    store<u64>(pivot, x);
    const at = <i32>((p - buf) >> 3);
    if (t == at) return; // buf[t] is the pivot, in its place
    if (t < at) hi = at - 1;
    else lo = at + 1;
  }
}

/**
 * Scores n keys (tile row `row`, whose scores l2 turns from q.k into 2 q.k - ||k||^2 - ||q||^2) for one query
 * and adds those that may be among the kb best to its candidates (see the top of the file). `norms` are the
 * keys' squared norms (l2 only), index0 the first key's index. The buffer has room for cap + 4 candidates: a
 * vector's four lanes are all written, branch-free, and the count moves past those that passed (whether a
 * lane passes is a coin toss while the threshold is young, so a branch per lane is mispredicted often).
 */
function scanRow(row: usize, n: i32, norms: usize, queryNorm: f32, l2: bool, index0: i32, state: usize, buf: usize, cap: i32, kb: i32): void {
  let count = load<i32>(state), strict = load<i32>(state, 4) != 0, threshold = load<f32>(state, 8);
  let vthreshold = f32x4.splat(threshold);
  const vqn = f32x4.splat(queryNorm);
  const nv = n & ~3;
  let j = 0;
  for (; j < nv; j += 4) {
    const o = (<usize>j) << 2;
    let v = v128.load(row + o);
    if (l2) v = f32x4.sub(f32x4.sub(f32x4.add(v, v), v128.load(norms + o)), vqn);
    // Before the threshold is set, every score that is not NaN passes.
    const passed = i32x4.bitmask(strict ? f32x4.gt(v, vthreshold) : f32x4.eq(v, v));
    if (passed == 0) continue;
    const index = index0 + j;
    put(buf, count, f32x4.extract_lane(v, 0), index);
    count += passed & 1;
    put(buf, count, f32x4.extract_lane(v, 1), index + 1);
    count += (passed >> 1) & 1;
    put(buf, count, f32x4.extract_lane(v, 2), index + 2);
    count += (passed >> 2) & 1;
    put(buf, count, f32x4.extract_lane(v, 3), index + 3);
    count += passed >> 3;
    if (count >= cap && cap > kb) {
      threshold = compact(buf, count, kb);
      count = kb;
      strict = true;
      vthreshold = f32x4.splat(threshold);
    }
  }
  // The last n % 4 scores one by one, with the vector's operations in scalar form (the same roundings).
  for (; j < n; j++) {
    const o = (<usize>j) << 2;
    let s = load<f32>(row + o);
    if (l2) s = s + s - load<f32>(norms + o) - queryNorm;
    if (strict ? !(s > threshold) : s != s) continue;
    put(buf, count++, s, index0 + j);
    if (count >= cap && cap > kb) {
      threshold = compact(buf, count, kb);
      count = kb;
      strict = true;
    }
  }
  store<i32>(state, count);
  store<i32>(state, strict ? 1 : 0, 4);
  store<f32>(state, threshold, 8);
}

/** Keeps the kb best of a query's `count` candidates (the first kb) and returns the worst score among them. */
function compact(buf: usize, count: i32, kb: i32): f32 {
  selectBest(buf, count, kb);
  let threshold = scoreAt(buf, 0);
  for (let c = 1; c < kb; c++) threshold = min(threshold, scoreAt(buf, c));
  return threshold;
}

/** The kb best of a query's `count` candidates to scores and indices (kb floats and ints), empty slots after. */
function finishBlock(buf: usize, count: i32, kb: i32, scores: usize, indices: usize): void {
  if (count > kb) selectBest(buf, count, kb);
  const m = min(count, kb);
  for (let r = 0; r < kb; r++) {
    const o = (<usize>r) << 2;
    store<f32>(scores + o, r < m ? scoreAt(buf, r) : -Infinity);
    store<i32>(indices + o, r < m ? indexAt(buf, r) : -1);
  }
}

/**
 * The kb best keys of each block of blockRows keys for each of Q queries, into [Q, blocks, kb] slots (see
 * src/engine/kernels/search.ts). Scratch: searchBlocksScratch bytes; `way` and `first` change nothing here.
 */
export function searchBlocks(
  scores: usize, indices: usize, queries: usize, keys: usize, keyNorms: usize,
  Q: i32, N: i32, d: i32, kb: i32, blocks: i32, blockRows: i32, start: i32, l2: bool,
  scratch: usize, way: i32, first: i32,
): void {
  if (Q <= 0 || N <= 0 || kb <= 0) return;
  const product = Q >= MR;
  const packedQ = scratch;
  const packedK = packedQ + packedQueryBytes(Q, d);
  const tile = packedK + packedKeyBytes(d);
  const queryNorms = tile + tileBytes(Q);
  const states = queryNorms + queryNormBytes(Q);
  const candidates = states + align64(<usize>Q * STATE_BYTES);
  const cap = candidateCap(kb, blockRows);
  const capBytes = (<usize>(cap + 4)) << 3; // room for a vector's lanes past the cap (scanRow)
  const rs = (<usize>d) << 2, ldt = (<usize>TILE_KEYS) << 2;
  const qPad = pad4(Q);
  // Queries packed by depth blocks (all of a block's panels, then the next block's): pc qPad floats a block.
  if (product) for (let pc = 0; pc < d; pc += KC) packA(packedQ + ((<usize>pc * qPad) << 2), queries, d, 1, 0, Q, pc, min(KC, d - pc), 0);
  if (l2) for (let i = 0; i < Q; i += 4) v128.store(queryNorms + ((<usize>i) << 2), norms4(queries + <usize>i * rs, rs, min(4, Q - i), d));
  for (let b0 = 0; b0 < N; b0 += blockRows) {
    const rows = min(blockRows, N - b0);
    const block = (start + b0) / blockRows;
    memory.fill(states, 0, <usize>Q * STATE_BYTES);
    for (let t0 = 0; t0 < rows; t0 += TILE_KEYS) {
      const tn = min(TILE_KEYS, rows - t0);
      const tileKeys = keys + <usize>(b0 + t0) * rs;
      if (product) {
        const tPad = <usize>((tn + NR - 1) & ~(NR - 1));
        for (let pc = 0; pc < d; pc += KC) {
          const kc = min(KC, d - pc);
          const pk = packedK + ((<usize>pc * tPad) << 2), pq = packedQ + ((<usize>pc * qPad) << 2);
          packB(pk, tileKeys, 1, d, pc, kc, 0, tn); // B(depth, key) = keys[key, depth]
          for (let jr = 0; jr < tn; jr += NR) {
            const pb = pk + ((<usize>jr * <usize>kc) << 2), c = tile + ((<usize>jr) << 2);
            for (let ir = 0; ir < Q; ir += MR) micro(kc, pq + ((<usize>ir * <usize>kc) << 2), pb, c + <usize>ir * ldt, ldt, pc > 0);
          }
        }
      } else {
        for (let i = 0; i < Q; i++) rowTimesColumns(tile + <usize>i * ldt, queries + <usize>i * rs, 1, tileKeys, d, tn, d, false);
      }
      const norms = l2 ? keyNorms + ((<usize>(b0 + t0)) << 2) : 0;
      for (let i = 0; i < Q; i++) {
        const queryNorm = l2 ? load<f32>(queryNorms + ((<usize>i) << 2)) : 0;
        scanRow(tile + <usize>i * ldt, tn, norms, queryNorm, l2, start + b0 + t0, states + <usize>i * STATE_BYTES, candidates + <usize>i * capBytes, cap, kb);
      }
    }
    for (let i = 0; i < Q; i++) {
      const at = ((<usize>i * <usize>blocks + <usize>block) * <usize>kb) << 2;
      finishBlock(candidates + <usize>i * capBytes, load<i32>(states + <usize>i * STATE_BYTES), kb, scores + at, indices + at);
    }
  }
}

export function searchMergeScratch(
  scores: usize, indices: usize, candidateScores: usize, candidateIndices: usize, Q: i32, n: i32, k: i32, way: i32,
): f64 {
  return <f64>((<usize>max(n, 1)) << 3);
}

/**
 * The k best of each query's n candidates [Q, n] (those with index -1 or a NaN score skipped), best first,
 * into scores and indices [Q, k], empty slots after. Scratch: searchMergeScratch bytes.
 */
export function searchMerge(
  scores: usize, indices: usize, candidateScores: usize, candidateIndices: usize, Q: i32, n: i32, k: i32,
  scratch: usize, way: i32, first: i32,
): void {
  for (let i = 0; i < Q; i++) {
    const from = (<usize>i * <usize>n) << 2;
    let m = 0;
    for (let c = 0; c < n; c++) {
      const o = from + ((<usize>c) << 2);
      const index = load<i32>(candidateIndices + o), s = load<f32>(candidateScores + o);
      if (index >= 0 && s == s) put(scratch, m++, s, index);
    }
    const found = min(m, k);
    if (m > found && found > 0) selectBest(scratch, m, found);
    sortBest(scratch, found);
    const to = (<usize>i * <usize>k) << 2;
    for (let r = 0; r < k; r++) {
      const o = to + ((<usize>r) << 2);
      store<f32>(scores + o, r < found ? scoreAt(scratch, r) : -Infinity);
      store<i32>(indices + o, r < found ? indexAt(scratch, r) : -1);
    }
  }
}
