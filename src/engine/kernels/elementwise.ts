/**
 * Element-wise kernels: sums with the broadcasting a GPT uses (same shape, or the second operand repeating
 * every `period` elements: a bias over rows, position embeddings over the batch), and products with a mask.
 * Backward kernels accumulate into their gradient buffers.
 */
/**
 * out[0..n) = 0: fresh gradient buffers, which backward kernels accumulate into. A kernel rather than
 * Float32Array.fill because fill on a shared memory takes a slow path in V8 (4x here), and because threads
 * zeroing the parts they will then accumulate into keep those cache lines on their own core.
 */
export function fillZero(out: Float32Array, n: number): void {
  out.fill(0, 0, n);
}

/** out[0..n) = x[0..n): a gradient that passes through unchanged (the second operand of a residual add). */
export function copy(out: Float32Array, x: Float32Array, n: number): void {
  out.set(x.subarray(0, n));
}

/** out = a + b over n floats; out may be a. */
export function add(out: Float32Array, a: Float32Array, b: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) out[i] = a[i]! + b[i]!;
}

/** out = a + b, where b repeats every `period` elements of a. */
export function addBroadcast(out: Float32Array, a: Float32Array, b: Float32Array, n: number, period: number): void {
  for (let base = 0; base < n; base += period) {
    for (let j = 0; j < period; j++) out[base + j] = a[base + j]! + b[j]!;
  }
}

/** da += dout; db += dout summed over the repeats of b. Either may be null when it needs no gradient. */
export function addBroadcastBackward(
  da: Float32Array | null,
  db: Float32Array | null,
  dout: Float32Array,
  n: number,
  period: number,
): void {
  if (da !== null) for (let i = 0; i < n; i++) da[i] += dout[i]!;
  if (db !== null) {
    for (let base = 0; base < n; base += period) {
      for (let j = 0; j < period; j++) db[j] += dout[base + j]!;
    }
  }
}

/** out = x * mask (dropout: mask holds 0 or 1/(1-p)). */
export function mulForward(out: Float32Array, x: Float32Array, mask: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) out[i] = x[i]! * mask[i]!;
}

/** dx += dout * mask */
export function mulBackward(dx: Float32Array, dout: Float32Array, mask: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) dx[i] += dout[i]! * mask[i]!;
}

/** dbias[N] += dout[M,N] summed over rows. */
export function biasBackward(dbias: Float32Array, dout: Float32Array, M: number, N: number): void {
  for (let i = 0; i < M; i++) {
    const o = i * N;
    for (let j = 0; j < N; j++) dbias[j] += dout[o + j]!;
  }
}

/** out[M,N] += bias[N] on every row. */
export function biasForward(out: Float32Array, bias: Float32Array, M: number, N: number): void {
  for (let i = 0; i < M; i++) {
    const o = i * N;
    for (let j = 0; j < N; j++) out[o + j] += bias[j]!;
  }
}

/** out = alpha x + beta y over n floats; out may be x or y (Muon's momentum and Newton-Schulz combinations). */
export function axpby(out: Float32Array, x: Float32Array, y: Float32Array, n: number, alpha: number, beta: number): void {
  for (let i = 0; i < n; i++) out[i] = alpha * x[i]! + beta * y[i]!;
}

/**
 * out[r ldOut + c] (+)= x[r ldX + c] for r < rows, c < cols: columns of one row-major matrix into another (the
 * values of a fused qkv projection, passed on beside the rotated queries and keys). Overwrites unless `accumulate`.
 */
export function copyStrided(
  out: Float32Array,
  ldOut: number,
  x: Float32Array,
  ldX: number,
  rows: number,
  cols: number,
  accumulate: boolean,
): void {
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const v = x[r * ldX + c]!;
      out[r * ldOut + c] = accumulate ? out[r * ldOut + c]! + v : v;
    }
  }
}
