/**
 * The pieces every product here is built from, in GotoBLAS's manner: packing a block of A (MC x KC) into panels
 * of MR = 4 rows laid out k-major, a block of B (KC x NC) into panels of NR = 8 columns, and a 4x8 micro-kernel
 * (eight f32x4 accumulators: more spill registers in V8) that runs over a pair of panels. Packing is where
 * operand layouts differ; it costs O(MK + KN) against a product's O(MNK). matmul.ts, attention.ts and search.ts
 * drive them. One row against columns stored contiguously in k (rowTimesColumns) skips the packing and sums as
 * the micro-kernel does.
 * A helper file, not a kernel file: nothing here is a kernel of the table.
 */
import { madd, storeOrAdd } from './simd';

export const MR: i32 = 4;
export const NR: i32 = 8;
/** Depth of a block: an A panel (4 KB) and a B panel (8 KB) of this depth stay in L1 together. */
export const KC: i32 = 256;
/** Rows of A packed at once (128 KB: L2). */
export const MC: i32 = 128;
/** Columns of B packed at once (512 KB at full depth: L2). */
export const NC: i32 = 512;

/** Bytes of an edge tile (4 rows of 8 floats): callers keep one in their scratch, so threads never share one. */
export const TILE_BYTES: i32 = MR * NR * 4;


/**
 * C[4,8] (+)= Apanel[kc,4]^T Bpanel[kc,8]: the inner loop of every product. `ldc` is C's row stride in bytes.
 * Each lane sums its kc products in order, one multiply-add at a time. The loop runs on the B pointer against
 * its end (one induction variable fewer than a counter), tested at the bottom. In V8 on x64 this is about 30
 * instructions per step of k (6 loads, 8 mul + 8 add, loop and stack-check overhead): ~38 GFLOPS at 3 GHz,
 * bound by instruction issue; with relaxed_madd, 8 FMAs on the two FMA pipes: ~49 GFLOPS. Unrolling k by two
 * is slower: V8 hoists all the loads and spills accumulators.
 */
export function micro(kc: i32, pa: usize, pb: usize, c: usize, ldc: usize, accumulate: bool): void {
  let c00 = f32x4.splat(0), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
  if (kc > 0) {
    const end = pb + ((<usize>kc) << 5);
    do {
      const b0 = v128.load(pb), b1 = v128.load(pb, 16);
      let a = v128.load32_splat(pa);
      c00 = madd(a, b0, c00);
      c01 = madd(a, b1, c01);
      a = v128.load32_splat(pa, 4);
      c10 = madd(a, b0, c10);
      c11 = madd(a, b1, c11);
      a = v128.load32_splat(pa, 8);
      c20 = madd(a, b0, c20);
      c21 = madd(a, b1, c21);
      a = v128.load32_splat(pa, 12);
      c30 = madd(a, b0, c30);
      c31 = madd(a, b1, c31);
      pa += 16;
      pb += 32;
    } while (pb < end);
  }
  const c1 = c + ldc, c2 = c1 + ldc, c3 = c2 + ldc;
  if (accumulate) {
    c00 = f32x4.add(c00, v128.load(c));
    c01 = f32x4.add(c01, v128.load(c, 16));
    c10 = f32x4.add(c10, v128.load(c1));
    c11 = f32x4.add(c11, v128.load(c1, 16));
    c20 = f32x4.add(c20, v128.load(c2));
    c21 = f32x4.add(c21, v128.load(c2, 16));
    c30 = f32x4.add(c30, v128.load(c3));
    c31 = f32x4.add(c31, v128.load(c3, 16));
  }
  v128.store(c, c00);
  v128.store(c, c01, 16);
  v128.store(c1, c10);
  v128.store(c1, c11, 16);
  v128.store(c2, c20);
  v128.store(c2, c21, 16);
  v128.store(c3, c30);
  v128.store(c3, c31, 16);
}


/**
 * Reads 4 floats from each of 4 rows and stores them transposed: the 4 values of column c (one from each row)
 * as 4 consecutive floats at dst + c * step. Both packers use it: A panels are 4 floats a k (step 16), B
 * panels 8 (step 32, each half a call).
 */
// @ts-ignore: decorator
@inline export function storeTransposed4x4(r0: usize, r1: usize, r2: usize, r3: usize, dst: usize, step: usize): void {
  const x0 = v128.load(r0), x1 = v128.load(r1), x2 = v128.load(r2), x3 = v128.load(r3);
  const t0 = v128.shuffle<f32>(x0, x1, 0, 4, 1, 5);
  const t1 = v128.shuffle<f32>(x2, x3, 0, 4, 1, 5);
  const t2 = v128.shuffle<f32>(x0, x1, 2, 6, 3, 7);
  const t3 = v128.shuffle<f32>(x2, x3, 2, 6, 3, 7);
  v128.store(dst, v128.shuffle<f32>(t0, t1, 0, 1, 4, 5));
  v128.store(dst + step, v128.shuffle<f32>(t0, t1, 2, 3, 6, 7));
  v128.store(dst + 2 * step, v128.shuffle<f32>(t2, t3, 0, 1, 4, 5));
  v128.store(dst + 3 * step, v128.shuffle<f32>(t2, t3, 2, 3, 6, 7));
}
/**
 * Four rows (r0, r0 + rs, ...) contiguous in k, depths 0..kc-1, stored transposed: the 4 values of depth k at
 * dst + k * step. An A panel is 4 floats a depth (step 16); a B panel 8, so each half of it is one call (step 32).
 */
// @ts-ignore: decorator
@inline export function packFourRows(r0: usize, rs: usize, kc: i32, dst: usize, step: usize): void {
  const r1 = r0 + rs, r2 = r1 + rs, r3 = r2 + rs;
  let k = 0;
  for (; k + 4 <= kc; k += 4) {
    const o = <usize>k << 2;
    storeTransposed4x4(r0 + o, r1 + o, r2 + o, r3 + o, dst + <usize>k * step, step);
  }
  for (; k < kc; k++) {
    const o = <usize>k << 2;
    const dk = dst + <usize>k * step;
    store<f32>(dk, load<f32>(r0 + o));
    store<f32>(dk, load<f32>(r1 + o), 4);
    store<f32>(dk, load<f32>(r2 + o), 8);
    store<f32>(dk, load<f32>(r3 + o), 12);
  }
}

/**
 * Packs rows [i0, i0+mc) x depth [k0, k0+kc) of A, where A(i, k) = a[i*ars + k*acs] (element strides), into
 * panels of 4 rows: panel p at dst + p*kc*16 bytes, A(i0 + 4p + r, k0 + k) at float (k*4 + r). Rows past mc
 * are zeros. If `mul` is not 0, each element is multiplied by the element of `mul` at the same strides (the
 * attention's dropout mask applied on the way).
 */
export function packA(dst: usize, a: usize, ars: i32, acs: i32, i0: i32, mc: i32, k0: i32, kc: i32, mul: usize): void {
  if (mul != 0) {
    packAScaled(dst, a, mul, ars, acs, i0, mc, k0, kc);
    return;
  }
  const rs = <usize>ars << 2, cs = <usize>acs << 2;
  for (let p = 0; p < mc; p += MR) {
    const rows = min(MR, mc - p);
    const d = dst + ((<usize>p * <usize>kc) << 2);
    const src = a + (<usize>(i0 + p)) * rs + (<usize>k0) * cs;
    if (rows == MR && acs == 1) {
      // Rows contiguous in k: transpose 4x4 blocks.
      packFourRows(src, rs, kc, d, 16);
    } else if (rows == MR && ars == 1) {
      // Rows adjacent (A stored transposed): four consecutive floats per k.
      for (let k = 0; k < kc; k++) v128.store(d + ((<usize>k) << 4), v128.load(src + (<usize>k) * cs));
    } else {
      for (let k = 0; k < kc; k++) {
        const dk = d + ((<usize>k) << 4);
        const sk = src + (<usize>k) * cs;
        for (let r = 0; r < MR; r++) {
          store<f32>(dk + ((<usize>r) << 2), r < rows ? load<f32>(sk + (<usize>r) * rs) : 0);
        }
      }
    }
  }
}

/** packA with every element multiplied by mul's (same strides): the attention's dropout mask. */
function packAScaled(dst: usize, a: usize, mul: usize, ars: i32, acs: i32, i0: i32, mc: i32, k0: i32, kc: i32): void {
  const rs = <usize>ars << 2, cs = <usize>acs << 2;
  for (let p = 0; p < mc; p += MR) {
    const rows = min(MR, mc - p);
    const d = dst + ((<usize>p * <usize>kc) << 2);
    const off = (<usize>(i0 + p)) * rs + (<usize>k0) * cs;
    if (rows == MR && acs == 1) {
      const r0 = off, r1 = r0 + rs, r2 = r1 + rs, r3 = r2 + rs;
      let k = 0;
      for (; k + 4 <= kc; k += 4) {
        const o = <usize>k << 2;
        const x0 = f32x4.mul(v128.load(a + r0 + o), v128.load(mul + r0 + o));
        const x1 = f32x4.mul(v128.load(a + r1 + o), v128.load(mul + r1 + o));
        const x2 = f32x4.mul(v128.load(a + r2 + o), v128.load(mul + r2 + o));
        const x3 = f32x4.mul(v128.load(a + r3 + o), v128.load(mul + r3 + o));
        const t0 = v128.shuffle<f32>(x0, x1, 0, 4, 1, 5);
        const t1 = v128.shuffle<f32>(x2, x3, 0, 4, 1, 5);
        const t2 = v128.shuffle<f32>(x0, x1, 2, 6, 3, 7);
        const t3 = v128.shuffle<f32>(x2, x3, 2, 6, 3, 7);
        const dk = d + (o << 2);
        v128.store(dk, v128.shuffle<f32>(t0, t1, 0, 1, 4, 5));
        v128.store(dk, v128.shuffle<f32>(t0, t1, 2, 3, 6, 7), 16);
        v128.store(dk, v128.shuffle<f32>(t2, t3, 0, 1, 4, 5), 32);
        v128.store(dk, v128.shuffle<f32>(t2, t3, 2, 3, 6, 7), 48);
      }
      for (; k < kc; k++) {
        const o = <usize>k << 2;
        const dk = d + (o << 2);
        store<f32>(dk, load<f32>(a + r0 + o) * load<f32>(mul + r0 + o));
        store<f32>(dk, load<f32>(a + r1 + o) * load<f32>(mul + r1 + o), 4);
        store<f32>(dk, load<f32>(a + r2 + o) * load<f32>(mul + r2 + o), 8);
        store<f32>(dk, load<f32>(a + r3 + o) * load<f32>(mul + r3 + o), 12);
      }
    } else if (rows == MR && ars == 1) {
      for (let k = 0; k < kc; k++) {
        const o = off + (<usize>k) * cs;
        v128.store(d + ((<usize>k) << 4), f32x4.mul(v128.load(a + o), v128.load(mul + o)));
      }
    } else {
      for (let k = 0; k < kc; k++) {
        const dk = d + ((<usize>k) << 4);
        const sk = off + (<usize>k) * cs;
        for (let r = 0; r < MR; r++) {
          const o = sk + (<usize>r) * rs;
          store<f32>(dk + ((<usize>r) << 2), r < rows ? load<f32>(a + o) * load<f32>(mul + o) : 0);
        }
      }
    }
  }
}

/**
 * C[mr, nr] (+)= Apanel Bpanel over kc (mr <= 4, nr <= 8): whole tiles go straight to C, edge tiles through
 * `tile` (TILE_BYTES of scratch). kc may be 0 (then C is zeroed, or left alone when accumulating).
 */
// @ts-ignore: decorator
@inline export function microTile(
  kc: i32, pa: usize, pb: usize, c: usize, ldc: usize, mr: i32, nr: i32, accumulate: bool, tile: usize,
): void {
  if (mr == MR && nr == NR) {
    micro(kc, pa, pb, c, ldc, accumulate);
  } else {
    micro(kc, pa, pb, tile, NR * 4, false);
    for (let r = 0; r < mr; r++) {
      const cr = c + (<usize>r) * ldc, tr = tile + ((<usize>(r * NR)) << 2);
      for (let j = 0; j < nr; j++) {
        const o = <usize>j << 2;
        const t = load<f32>(tr + o);
        store<f32>(cr + o, accumulate ? load<f32>(cr + o) + t : t);
      }
    }
  }
}

/**
 * Packs depth [k0, k0+kc) x columns [j0, j0+nc) of B, where B(k, j) = b[k*brs + j*bcs], into panels of 8
 * columns: panel q at dst + q*kc*32 bytes, B(k0 + k, j0 + 8q + c) at float (k*8 + c). Columns past nc are zeros.
 */
export function packB(dst: usize, b: usize, brs: i32, bcs: i32, k0: i32, kc: i32, j0: i32, nc: i32): void {
  const rs = <usize>brs << 2, cs = <usize>bcs << 2;
  for (let q = 0; q < nc; q += NR) {
    const cols = min(NR, nc - q);
    const d = dst + ((<usize>q * <usize>kc) << 2);
    const src = b + (<usize>k0) * rs + (<usize>(j0 + q)) * cs;
    if (cols == NR && bcs == 1) {
      // B row-major [K, N]: each k is 8 consecutive floats.
      for (let k = 0; k < kc; k++) {
        const s = src + (<usize>k) * rs, dk = d + ((<usize>k) << 5);
        v128.store(dk, v128.load(s));
        v128.store(dk, v128.load(s, 16), 16);
      }
    } else if (cols == NR && brs == 1) {
      // B given as [N, K] (the NT layout): 8 rows contiguous in k, transposed in 4x4 blocks.
      packFourRows(src, cs, kc, d, 32);
      packFourRows(src + 4 * cs, cs, kc, d + 16, 32);
    } else {
      for (let k = 0; k < kc; k++) {
        const dk = d + ((<usize>k) << 5);
        const sk = src + (<usize>k) * rs;
        for (let c = 0; c < NR; c++) {
          store<f32>(dk + ((<usize>c) << 2), c < cols ? load<f32>(sk + (<usize>c) * cs) : 0);
        }
      }
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
export function rowTimesColumns(out: usize, x: usize, xs: i32, b: usize, bcs: i32, N: i32, K: i32, accumulate: bool): void {
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
 * acc after four multiply-adds, depths k..k+3 in order, for four columns whose values at those depths start
 * at p, p + cs, p + 2cs, p + 3cs (a 4x4 block transposed in registers); v0..v3 are x at those depths.
 */
// @ts-ignore: decorator
@inline export function quad(p: usize, cs: usize, v0: v128, v1: v128, v2: v128, v3: v128, acc: v128): v128 {
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
@inline export function gather4(p: usize, cs: usize): v128 {
  let w = f32x4.splat(load<f32>(p));
  w = f32x4.replace_lane(w, 1, load<f32>(p + cs));
  w = f32x4.replace_lane(w, 2, load<f32>(p + 2 * cs));
  return f32x4.replace_lane(w, 3, load<f32>(p + 3 * cs));
}

/** Four accumulators to dst .. dst + 63 (a row's sixteen columns), written or added (storeOrAdd). */
// @ts-ignore: decorator
@inline export function storeOrAddFour(dst: usize, c0: v128, c1: v128, c2: v128, c3: v128, add: bool): void {
  storeOrAdd(dst, c0, add);
  storeOrAdd(dst + 16, c1, add);
  storeOrAdd(dst + 32, c2, add);
  storeOrAdd(dst + 48, c3, add);
}

/** Writes (or adds, when `add`) the first `cols` (1 to 4) lanes of v to dst: a row's last columns. */
// @ts-ignore: decorator
@inline export function storeLanes(dst: usize, v: v128, cols: i32, add: bool): void {
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
@inline export function extractLane(v: v128, lane: i32): f32 {
  if (lane == 0) return f32x4.extract_lane(v, 0);
  if (lane == 1) return f32x4.extract_lane(v, 1);
  if (lane == 2) return f32x4.extract_lane(v, 2);
  return f32x4.extract_lane(v, 3);
}
