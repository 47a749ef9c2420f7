/**
 * Matrix products, row-major float32, any layout and any block of rows or columns of one: the kernel of the
 * table's `matmul` row (src/engine/kernels/matmul.ts is the reference), and `transpose`. The product runs
 * gemm.ts's packing and 4x8 micro-kernel over blocks of A and B; one to three rows (sampling) skip the packing:
 * rowTimesColumns and rowTimesRows, summing in the same order.
 */
import { microTile, packA, packB, KC, MC, MR, NC, NR, TILE_BYTES, storeTransposed4x4 } from './gemm';
import { madd, storeOrAdd } from './simd';

/**
 * out[cols, rows] = x[rows, cols] transposed, in 4x4 blocks; rows of x are ldx floats apart, rows of out ldo
 * (cols and rows for whole matrices: threads pass a block of x's rows and the whole strides).
 */
export function transpose(out: usize, x: usize, rows: i32, cols: i32, ldx: i32, ldo: i32): void {
  const rs = <usize>ldx << 2, os = <usize>ldo << 2;
  let r = 0;
  for (; r + 4 <= rows; r += 4) {
    const r0 = x + <usize>r * rs, r1 = r0 + rs, r2 = r1 + rs, r3 = r2 + rs;
    const dst = out + ((<usize>r) << 2);
    let c = 0;
    for (; c + 4 <= cols; c += 4) {
      const o = <usize>c << 2;
      storeTransposed4x4(r0 + o, r1 + o, r2 + o, r3 + o, dst + <usize>c * os, os);
    }
    for (; c < cols; c++) {
      const o = <usize>c << 2, d = dst + <usize>c * os;
      store<f32>(d, load<f32>(r0 + o));
      store<f32>(d, load<f32>(r1 + o), 4);
      store<f32>(d, load<f32>(r2 + o), 8);
      store<f32>(d, load<f32>(r3 + o), 12);
    }
  }
  for (; r < rows; r++) {
    for (let c = 0; c < cols; c++) store<f32>(out + <usize>c * os + ((<usize>r) << 2), load<f32>(x + <usize>r * rs + ((<usize>c) << 2)));
  }
}


/**
 * A product split across threads cuts its output into blocks of rows (the table's first way) or of columns
 * (the second); every chunk of rows needs all of B, every chunk of columns all of A. Packed again per chunk,
 * those copies made a training step 7 to 10% slower on two threads, so each thread packs that operand whole
 * into its scratch on its first chunk of the call (`first`), and its later chunks find it there. Packing moves
 * floats and nothing else, so results are the same bits either way. Past this size each chunk packs its own.
 */
const MAX_WHOLE_BYTES: f64 = 16 * 1024 * 1024;
const BY_ROWS: i32 = 0;
const BY_COLUMNS: i32 = 1;
/** The packed A block with the edge tile after it, then the packed B block: every call's own scratch. */
const A_BLOCK_BYTES: usize = <usize>(MC * KC * 4 + TILE_BYTES);
const BLOCKS_BYTES: usize = A_BLOCK_BYTES + <usize>(KC * NC * 4);

/** Bytes of the shared operand packed whole (B for a split by rows, A by columns), padded to whole panels; 0 for none. */
// @ts-ignore: decorator
@inline function wholeBytes(way: i32, M: i32, N: i32, K: i32): f64 {
  if (way != BY_ROWS && way != BY_COLUMNS) return 0;
  const padded = way == BY_ROWS ? (N + NR - 1) & ~(NR - 1) : (M + MR - 1) & ~(MR - 1);
  const bytes = <f64>K * <f64>padded * 4;
  return bytes > MAX_WHOLE_BYTES ? 0 : bytes;
}

/** Scratch a thread needs for a product (or its share of one): the packing blocks, and the operand packed whole. */
export function matmulScratch(
  out: usize, ldc: i32, a: usize, ars: i32, acs: i32, b: usize, brs: i32, bcs: i32, M: i32, N: i32, K: i32, accumulate: i32, way: i32,
): f64 {
  return <f64>BLOCKS_BYTES + wholeBytes(way, M, N, K);
}

/**
 * out(i, j) (+)= sum_k A(i, k) B(k, j) with A(i, k) = a[i*ars + k*acs], B(k, j) = b[k*brs + j*bcs] and
 * out(i, j) = out[i*ldc + j] (strides in elements): any block of rows or columns of any layout. Every output
 * element is summed in the same order (depth blocks of KC, then k in order) whatever block it is computed in,
 * so a split changes no bit of the result. `scratch` holds matmulScratch bytes (see above for `way`, `first`).
 */
export function matmul(
  out: usize, ldcElems: i32, a: usize, ars: i32, acs: i32, b: usize, brs: i32, bcs: i32,
  M: i32, N: i32, K: i32, accumulate: i32, scratch: usize, way: i32, first: i32,
): void {
  if (M <= 0 || N <= 0) return;
  const ldc = <usize>ldcElems << 2;
  if (K <= 0) {
    if (accumulate == 0) for (let i = 0; i < M; i++) memory.fill(out + <usize>i * ldc, 0, (<usize>N) << 2);
    return;
  }
  if (M < MR && (brs == 1 || bcs == 1)) {
    // A few rows (sampling, one position at a time): against B's columns stored contiguously in k (a linear
    // layer's weight) or its rows (the weight transposed, as sampling keeps it).
    for (let i = 0; i < M; i++) {
      const o = out + <usize>i * ldc, x = a + ((<usize>i * <usize>ars) << 2);
      if (bcs == 1) rowTimesRows(o, x, acs, b, brs, N, K, accumulate != 0);
      else rowTimesColumns(o, x, acs, b, bcs, N, K, accumulate != 0);
    }
    return;
  }
  const packedA = scratch, packedB = scratch + A_BLOCK_BYTES, packedWhole = scratch + BLOCKS_BYTES;
  const hasWhole = wholeBytes(way, M, N, K) > 0;
  const wholeB = hasWhole && way == BY_ROWS, wholeA = hasWhole && way == BY_COLUMNS;
  if (first != 0) {
    if (wholeB) packWholeB(packedWhole, b, brs, bcs, N, K);
    else if (wholeA) packWholeA(packedWhole, a, ars, acs, M, K);
  }
  const paddedM = <usize>((M + MR - 1) & ~(MR - 1));
  const tile = packedA + <usize>(MC * KC * 4);
  for (let jc = 0; jc < N; jc += NC) {
    const nc = min(NC, N - jc);
    for (let pc = 0; pc < K; pc += KC) {
      const kc = min(KC, K - pc);
      let blockB = packedB;
      if (wholeB) blockB = packedWhole + (wholeBlockB(jc, pc, nc, K) << 2);
      else packB(packedB, b, brs, bcs, pc, kc, jc, nc);
      const acc = accumulate != 0 || pc > 0;
      for (let ic = 0; ic < M; ic += MC) {
        const mc = min(MC, M - ic);
        let blockA = packedA;
        if (wholeA) blockA = packedWhole + ((<usize>pc * paddedM + <usize>ic * <usize>kc) << 2);
        else packA(packedA, a, ars, acs, ic, mc, pc, kc, 0);
        for (let jr = 0; jr < nc; jr += NR) {
          const nr = min(NR, nc - jr);
          const pb = blockB + ((<usize>jr * <usize>kc) << 2);
          for (let ir = 0; ir < mc; ir += MR) {
            const mr = min(MR, mc - ir);
            const pa = blockA + ((<usize>ir * <usize>kc) << 2);
            microTile(kc, pa, pb, out + (<usize>(ic + ir)) * ldc + ((<usize>(jc + jr)) << 2), ldc, mr, nr, acc, tile);
          }
        }
      }
    }
  }
}

/**
 * Float offset of B's block (columns from jc, depths from pc) in B packed whole: blocks of NC columns one
 * after another, each its depth blocks one after another (every block before is full, so pc floats a column).
 */
// @ts-ignore: decorator
@inline function wholeBlockB(jc: i32, pc: i32, nc: i32, K: i32): usize {
  return <usize>jc * <usize>K + <usize>pc * <usize>((nc + NR - 1) & ~(NR - 1));
}

/** All of B, packed block by block where matmul's loops look for it (wholeBlockB). */
function packWholeB(dst: usize, b: usize, brs: i32, bcs: i32, N: i32, K: i32): void {
  for (let jc = 0; jc < N; jc += NC) {
    const nc = min(NC, N - jc);
    for (let pc = 0; pc < K; pc += KC) packB(dst + (wholeBlockB(jc, pc, nc, K) << 2), b, brs, bcs, pc, min(KC, K - pc), jc, nc);
  }
}

/** All of A, packed by depth blocks, each its blocks of MC rows one after another (pc rows-padded floats a depth). */
function packWholeA(dst: usize, a: usize, ars: i32, acs: i32, M: i32, K: i32): void {
  const paddedM = <usize>((M + MR - 1) & ~(MR - 1));
  for (let pc = 0; pc < K; pc += KC) {
    const kc = min(KC, K - pc);
    for (let ic = 0; ic < M; ic += MC) {
      packA(dst + ((<usize>pc * paddedM + <usize>ic * <usize>kc) << 2), a, ars, acs, ic, min(MC, M - ic), pc, kc, 0);
    }
  }
}

/**
 * out[0, N) (+)= x B for one row x (x(k) = x[k*xs]) and B(k, j) = b[j*bcs + k]: each column of B contiguous.
 * For a single row, packing B (what matmulStrided does) costs as much as the product and the 4-row
 * micro-kernel wastes three quarters of its work; this reads B in place instead, sixteen columns at a time,
 * transposing 4x4 blocks in registers. Each output is summed exactly as the micro-kernel sums it (one
 * multiply-add per k in order, from zero within each depth block of KC, block sums added to the output),
 * so a row computed here has the same bits as the same row computed among others: sampling with the cache
 * reproduces the uncached path.
 */
function rowTimesColumns(out: usize, x: usize, xs: i32, b: usize, bcs: i32, N: i32, K: i32, accumulate: bool): void {
  const cs = <usize>bcs << 2, xstep = <usize>xs << 2;
  let j = 0;
  // Sixteen columns at a time: four independent chains of multiply-adds keep both FMA pipes busy (with
  // fewer, each waits on the latency of the one before).
  for (; j + 16 <= N; j += 16) {
    const col = b + <usize>j * cs;
    for (let pc = 0; pc < K; pc += KC) {
      const kc = min(KC, K - pc);
      let c0 = f32x4.splat(0), c1 = c0, c2 = c0, c3 = c0;
      const r0 = col + ((<usize>pc) << 2);
      let k = 0;
      for (; k + 4 <= kc; k += 4) {
        const o = <usize>k << 2;
        const xk = x + (<usize>(pc + k)) * xstep;
        const v0 = v128.load32_splat(xk), v1 = v128.load32_splat(xk + xstep);
        const v2 = v128.load32_splat(xk + 2 * xstep), v3 = v128.load32_splat(xk + 3 * xstep);
        c0 = quad(r0 + o, cs, v0, v1, v2, v3, c0);
        c1 = quad(r0 + 4 * cs + o, cs, v0, v1, v2, v3, c1);
        c2 = quad(r0 + 8 * cs + o, cs, v0, v1, v2, v3, c2);
        c3 = quad(r0 + 12 * cs + o, cs, v0, v1, v2, v3, c3);
      }
      for (; k < kc; k++) {
        const o = (<usize>(pc + k)) << 2;
        const v = v128.load32_splat(x + (<usize>(pc + k)) * xstep);
        c0 = madd(v, gather4(col + o, cs), c0);
        c1 = madd(v, gather4(col + 4 * cs + o, cs), c1);
        c2 = madd(v, gather4(col + 8 * cs + o, cs), c2);
        c3 = madd(v, gather4(col + 12 * cs + o, cs), c3);
      }
      storeOrAddFour(out + ((<usize>j) << 2), c0, c1, c2, c3, accumulate || pc > 0);
    }
  }
  // The last columns, four at a time and then one lane at a time.
  for (; j < N; j += 4) {
    const cols = min(4, N - j);
    const col = b + <usize>j * cs;
    for (let pc = 0; pc < K; pc += KC) {
      const kc = min(KC, K - pc);
      let c0 = f32x4.splat(0);
      const r0 = col + ((<usize>pc) << 2);
      let k = 0;
      if (cols == 4) {
        for (; k + 4 <= kc; k += 4) {
          const xk = x + (<usize>(pc + k)) * xstep;
          c0 = quad(r0 + ((<usize>k) << 2), cs, v128.load32_splat(xk), v128.load32_splat(xk + xstep),
            v128.load32_splat(xk + 2 * xstep), v128.load32_splat(xk + 3 * xstep), c0);
        }
      }
      for (; k < kc; k++) {
        const o = (<usize>(pc + k)) << 2;
        let w = f32x4.splat(0);
        w = f32x4.replace_lane(w, 0, load<f32>(col + o));
        if (cols > 1) w = f32x4.replace_lane(w, 1, load<f32>(col + cs + o));
        if (cols > 2) w = f32x4.replace_lane(w, 2, load<f32>(col + 2 * cs + o));
        if (cols > 3) w = f32x4.replace_lane(w, 3, load<f32>(col + 3 * cs + o));
        c0 = madd(v128.load32_splat(x + (<usize>(pc + k)) * xstep), w, c0);
      }
      storeLanes(out + ((<usize>j) << 2), c0, cols, accumulate || pc > 0);
    }
  }
}

/**
 * out[0, N) (+)= x B for one row x (x(k) = x[k*xs]) and B(k, j) = b[k*brs + j]: each row of B contiguous, so
 * eight vectors of it meet one broadcast x(k) per step, in eight independent chains (the two FMA pipes'
 * latency times their width). Summed exactly as the micro-kernel sums (see rowTimesColumns).
 */
function rowTimesRows(out: usize, x: usize, xs: i32, b: usize, brs: i32, N: i32, K: i32, accumulate: bool): void {
  const rs = <usize>brs << 2, xstep = <usize>xs << 2;
  let j = 0;
  for (; j + 32 <= N; j += 32) {
    const col = b + ((<usize>j) << 2);
    for (let pc = 0; pc < K; pc += KC) {
      const kc = min(KC, K - pc);
      let c0 = f32x4.splat(0), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0;
      let p = col + <usize>pc * rs, xk = x + <usize>pc * xstep;
      for (let k = 0; k < kc; k++) {
        const v = v128.load32_splat(xk);
        c0 = madd(v, v128.load(p), c0);
        c1 = madd(v, v128.load(p, 16), c1);
        c2 = madd(v, v128.load(p, 32), c2);
        c3 = madd(v, v128.load(p, 48), c3);
        c4 = madd(v, v128.load(p, 64), c4);
        c5 = madd(v, v128.load(p, 80), c5);
        c6 = madd(v, v128.load(p, 96), c6);
        c7 = madd(v, v128.load(p, 112), c7);
        p += rs;
        xk += xstep;
      }
      const dst = out + ((<usize>j) << 2);
      const add = accumulate || pc > 0;
      storeOrAddFour(dst, c0, c1, c2, c3, add);
      storeOrAddFour(dst + 64, c4, c5, c6, c7, add);
    }
  }
  // The last columns, four at a time, then the last one to three lane by lane.
  for (; j < N; j += 4) {
    const cols = min(4, N - j);
    const col = b + ((<usize>j) << 2);
    for (let pc = 0; pc < K; pc += KC) {
      const kc = min(KC, K - pc);
      let c0 = f32x4.splat(0);
      let p = col + <usize>pc * rs, xk = x + <usize>pc * xstep;
      for (let k = 0; k < kc; k++) {
        let w: v128;
        if (cols == 4) w = v128.load(p);
        else {
          w = f32x4.splat(0);
          w = f32x4.replace_lane(w, 0, load<f32>(p));
          if (cols > 1) w = f32x4.replace_lane(w, 1, load<f32>(p, 4));
          if (cols > 2) w = f32x4.replace_lane(w, 2, load<f32>(p, 8));
        }
        c0 = madd(v128.load32_splat(xk), w, c0);
        p += rs;
        xk += xstep;
      }
      storeLanes(out + ((<usize>j) << 2), c0, cols, accumulate || pc > 0);
    }
  }
}

/**
 * acc after four multiply-adds, depths k..k+3 in order, for four columns whose values at those depths start
 * at p, p + cs, p + 2cs, p + 3cs (a 4x4 block transposed in registers); v0..v3 are x at those depths.
 */
// @ts-ignore: decorator
@inline function quad(p: usize, cs: usize, v0: v128, v1: v128, v2: v128, v3: v128, acc: v128): v128 {
  const x0 = v128.load(p), x1 = v128.load(p + cs), x2 = v128.load(p + 2 * cs), x3 = v128.load(p + 3 * cs);
  const a = v128.shuffle<f32>(x0, x1, 0, 4, 1, 5), b = v128.shuffle<f32>(x2, x3, 0, 4, 1, 5);
  const c = v128.shuffle<f32>(x0, x1, 2, 6, 3, 7), d = v128.shuffle<f32>(x2, x3, 2, 6, 3, 7);
  acc = madd(v0, v128.shuffle<f32>(a, b, 0, 1, 4, 5), acc);
  acc = madd(v1, v128.shuffle<f32>(a, b, 2, 3, 6, 7), acc);
  acc = madd(v2, v128.shuffle<f32>(c, d, 0, 1, 4, 5), acc);
  return madd(v3, v128.shuffle<f32>(c, d, 2, 3, 6, 7), acc);
}

/** The values at p, p + cs, p + 2cs, p + 3cs as one vector. */
// @ts-ignore: decorator
@inline function gather4(p: usize, cs: usize): v128 {
  let w = f32x4.splat(load<f32>(p));
  w = f32x4.replace_lane(w, 1, load<f32>(p + cs));
  w = f32x4.replace_lane(w, 2, load<f32>(p + 2 * cs));
  return f32x4.replace_lane(w, 3, load<f32>(p + 3 * cs));
}

/** Four accumulators to dst .. dst + 63 (a row's sixteen columns), written or added (storeOrAdd). */
// @ts-ignore: decorator
@inline function storeOrAddFour(dst: usize, c0: v128, c1: v128, c2: v128, c3: v128, add: bool): void {
  storeOrAdd(dst, c0, add);
  storeOrAdd(dst + 16, c1, add);
  storeOrAdd(dst + 32, c2, add);
  storeOrAdd(dst + 48, c3, add);
}

/** Writes (or adds, when `add`) the first `cols` (1 to 4) lanes of v to dst: a row's last columns. */
// @ts-ignore: decorator
@inline function storeLanes(dst: usize, v: v128, cols: i32, add: bool): void {
  if (cols == 4) {
    storeOrAdd(dst, v, add);
    return;
  }
  for (let c = 0; c < cols; c++) {
    const t = extractLane(v, c);
    const o = dst + ((<usize>c) << 2);
    store<f32>(o, add ? load<f32>(o) + t : t);
  }
}

// @ts-ignore: decorator
@inline function extractLane(v: v128, lane: i32): f32 {
  if (lane == 0) return f32x4.extract_lane(v, 0);
  if (lane == 1) return f32x4.extract_lane(v, 1);
  if (lane == 2) return f32x4.extract_lane(v, 2);
  return f32x4.extract_lane(v, 3);
}
