/**
 * Element-wise kernels: zeroing, copies, sums (same shape, or the second operand repeating: a bias over rows,
 * position embeddings over the batch), products with a mask; the twins of src/engine/kernels/elementwise.ts.
 * Pointers are byte offsets; 0 stands for a null (absent) gradient. Every loop runs f32x4 over the body and
 * scalars over the tail.
 */
import { accN, addN } from './simd';

/** out[0..n) = 0. */
export function fillZero(out: usize, n: i32): void {
  memory.fill(out, 0, (<usize>n) << 2);
}

/** out[0..n) = x[0..n). */
export function copy(out: usize, x: usize, n: i32): void {
  memory.copy(out, x, (<usize>n) << 2);
}

/** out = a + b over n floats (out may be a: y += x). */
export function add(out: usize, a: usize, b: usize, n: i32): void {
  addN(out, a, b, n);
}

/** out = a + b, b repeating every `period` floats. */
export function addBroadcast(out: usize, a: usize, b: usize, n: i32, period: i32): void {
  for (let base = 0; base < n; base += period) {
    const o = (<usize>base) << 2;
    addN(out + o, a + o, b, period);
  }
}

/** da += dout; db += dout summed over b's repeats. */
export function addBroadcastBackward(da: usize, db: usize, dout: usize, n: i32, period: i32): void {
  if (da != 0) accN(da, dout, n);
  if (db != 0 && period > 0) colSums(db, dout, n / period, period);
}

/**
 * dst[N] += src[M,N] summed over rows. Columns go in blocks of 4 vectors with the sums in registers, so dst is
 * read and written once.
 */
function colSums(dst: usize, src: usize, M: i32, N: i32): void {
  const ld = (<usize>N) << 2, nb = ld;
  let o: usize = 0;
  for (; o + 64 <= nb; o += 64) {
    let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0;
    let p = src + o;
    for (let i = 0; i < M; i++) {
      a0 = f32x4.add(a0, v128.load(p));
      a1 = f32x4.add(a1, v128.load(p, 16));
      a2 = f32x4.add(a2, v128.load(p, 32));
      a3 = f32x4.add(a3, v128.load(p, 48));
      p += ld;
    }
    const d = dst + o;
    v128.store(d, f32x4.add(v128.load(d), a0));
    v128.store(d, f32x4.add(v128.load(d, 16), a1), 16);
    v128.store(d, f32x4.add(v128.load(d, 32), a2), 32);
    v128.store(d, f32x4.add(v128.load(d, 48), a3), 48);
  }
  for (; o + 16 <= nb; o += 16) {
    let a0 = f32x4.splat(0);
    let p = src + o;
    for (let i = 0; i < M; i++) {
      a0 = f32x4.add(a0, v128.load(p));
      p += ld;
    }
    v128.store(dst + o, f32x4.add(v128.load(dst + o), a0));
  }
  for (; o < nb; o += 4) {
    let a: f32 = 0;
    let p = src + o;
    for (let i = 0; i < M; i++) {
      a += load<f32>(p);
      p += ld;
    }
    store<f32>(dst + o, load<f32>(dst + o) + a);
  }
}

export function mulForward(out: usize, x: usize, mask: usize, n: i32): void {
  const nv = (<usize>(n & ~3)) << 2, nb = (<usize>n) << 2;
  let o: usize = 0;
  for (; o < nv; o += 16) v128.store(out + o, f32x4.mul(v128.load(x + o), v128.load(mask + o)));
  for (; o < nb; o += 4) store<f32>(out + o, load<f32>(x + o) * load<f32>(mask + o));
}

export function mulBackward(dx: usize, dout: usize, mask: usize, n: i32): void {
  const nv = (<usize>(n & ~3)) << 2, nb = (<usize>n) << 2;
  let o: usize = 0;
  for (; o < nv; o += 16) {
    v128.store(dx + o, f32x4.add(v128.load(dx + o), f32x4.mul(v128.load(dout + o), v128.load(mask + o))));
  }
  for (; o < nb; o += 4) store<f32>(dx + o, load<f32>(dx + o) + load<f32>(dout + o) * load<f32>(mask + o));
}

export function biasForward(out: usize, bias: usize, M: i32, N: i32): void {
  const ld = (<usize>N) << 2;
  for (let i = 0; i < M; i++) {
    const row = out + (<usize>i) * ld;
    addN(row, row, bias, N);
  }
}

export function biasBackward(dbias: usize, dout: usize, M: i32, N: i32): void {
  colSums(dbias, dout, M, N);
}

/** out = alpha x + beta y over n floats; out may be x or y. */
export function axpby(out: usize, x: usize, y: usize, n: i32, alpha: f64, beta: f64): void {
  const a = <f32>alpha, b = <f32>beta;
  const va = f32x4.splat(a), vb = f32x4.splat(b);
  const nv = (<usize>(n & ~3)) << 2, nb = (<usize>n) << 2;
  let o: usize = 0;
  for (; o < nv; o += 16) v128.store(out + o, f32x4.add(f32x4.mul(va, v128.load(x + o)), f32x4.mul(vb, v128.load(y + o))));
  for (; o < nb; o += 4) store<f32>(out + o, a * load<f32>(x + o) + b * load<f32>(y + o));
}

/** out[r ldOut + c] (+)= x[r ldX + c] for r < rows, c < cols. */
export function copyStrided(out: usize, ldOut: i32, x: usize, ldX: i32, rows: i32, cols: i32, accumulate: bool): void {
  const ob = (<usize>ldOut) << 2, xb = (<usize>ldX) << 2, cb = (<usize>cols) << 2;
  for (let r = 0; r < rows; r++) {
    const op = out + (<usize>r) * ob, xp = x + (<usize>r) * xb;
    if (accumulate) accN(op, xp, cols);
    else memory.copy(op, xp, cb);
  }
}
