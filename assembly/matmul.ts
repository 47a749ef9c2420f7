/**
 * Matrix products, row-major float32, any layout and any block of rows or columns of one: the kernel of the
 * table's `matmul` row (src/engine/kernels/matmul.ts is the reference), `transpose`, and sampling's pair
 * `packPanels` and `rowsTimesPanels`. The product runs gemm.ts's packing and 4x8 micro-kernel over blocks of A
 * and B; one to three rows skip the packing (rowTimesColumns and rowTimesRows), summing in the same order.
 * Sampling multiplies single rows by weights it packed once into panels of columns, again in the same order.
 */
import {
  microTile, packA, packB, packFourRows, KC, MC, MR, NC, NR, TILE_BYTES, rowTimesColumns, storeLanes, storeOrAddFour,
  storeTransposed4x4,
} from './gemm';
import { madd } from './simd';

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
    // A few rows (one to three positions, or their gradients): against B's columns stored contiguously in k
    // (a linear layer's weight) or its rows (a weight transposed: the input gradient dx = dy W of a few rows).
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

/** Columns of a weight panel: eight vectors, the accumulators of rowsTimesPanels' inner loop. */
const PANEL: i32 = 32;

/**
 * Packs a weight w [N, K] (a linear layer's, rows contiguous in k) into panels of PANEL columns of B = w^T:
 * panel p holds B's columns [32p, 32p + 32) at out + p*32*K floats, B(k, 32p + c) at float k*32 + c, and
 * columns past N are zeros. A row times B then reads each panel front to back (rowsTimesPanels): its
 * transposed copy [K, N] had the row walk down columns N floats apart, a stride that maps a whole column
 * strip onto a few sets of the L1 cache, so every load came from L2.
 */
export function packPanels(out: usize, w: usize, N: i32, K: i32): void {
  const rs = <usize>K << 2, step: usize = <usize>PANEL << 2;
  for (let j = 0; j < N; j += PANEL) {
    const panel = out + ((<usize>j * <usize>K) << 2);
    for (let c = 0; c < PANEL; c += 4) {
      const col = j + c, dst = panel + ((<usize>c) << 2);
      if (col + 4 <= N) {
        packFourRows(w + <usize>col * rs, rs, K, dst, step);
        continue;
      }
      for (let k = 0; k < K; k++) {
        const d = dst + <usize>k * step;
        for (let r = 0; r < 4; r++) store<f32>(d + ((<usize>r) << 2), col + r < N ? load<f32>(w + <usize>(col + r) * rs + ((<usize>k) << 2)) : 0);
      }
    }
  }
}

/**
 * out[i, 0..N) = x[i, 0..K) B for M rows of x (rows K apart; out's ldo apart), B packed by packPanels. Within a
 * panel, B's rows are 32 floats apart: rowTimesRows walks it front to back, summing each output exactly as the
 * micro-kernel sums it, so a row here has the bits matmul gives it among many rows (sampling with the cache
 * reproduces forward()).
 */
export function rowsTimesPanels(out: usize, ldo: i32, x: usize, panels: usize, M: i32, N: i32, K: i32): void {
  if (K <= 0) {
    for (let i = 0; i < M; i++) memory.fill(out + ((<usize>i * <usize>ldo) << 2), 0, (<usize>max(N, 0)) << 2);
    return;
  }
  for (let i = 0; i < M; i++) {
    const row = x + ((<usize>i * <usize>K) << 2), o = out + ((<usize>i * <usize>ldo) << 2);
    for (let j = 0; j < N; j += PANEL) {
      rowTimesRows(o + ((<usize>j) << 2), row, 1, panels + ((<usize>j * <usize>K) << 2), PANEL, min(PANEL, N - j), K, false);
    }
  }
}
