/**
 * Point-wise non-linearities. ReLU is the lecture's; GELU is the tanh approximation GPT-2 (and so nanoGPT)
 * uses: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). Backward kernels accumulate into dx (GELU's may
 * instead overwrite it, when nothing is there yet).
 */

export function reluForward(out: Float32Array, x: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) {
    const v = x[i]!;
    out[i] = v > 0 ? v : 0;
  }
}

export function reluBackward(dx: Float32Array, x: Float32Array, dout: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) if (x[i]! > 0) dx[i] += dout[i]!;
}

const GELU_SCALE = Math.sqrt(2 / Math.PI);
const GELU_CUBE = 0.044715;

export function geluForward(out: Float32Array, x: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) {
    const v = x[i]!;
    out[i] = 0.5 * v * (1 + Math.tanh(GELU_SCALE * (v + GELU_CUBE * v * v * v)));
  }
}

/** d/dx of the forward: 0.5 (1 + tanh u) + 0.5 x (1 - tanh^2 u) du/dx, with u = sqrt(2/pi)(x + 0.044715 x^3). */
export function geluBackward(dx: Float32Array, x: Float32Array, dout: Float32Array, n: number, accumulate = true): void {
  if (!accumulate) dx.fill(0, 0, n);
  for (let i = 0; i < n; i++) {
    const v = x[i]!;
    const th = Math.tanh(GELU_SCALE * (v + GELU_CUBE * v * v * v));
    const du = GELU_SCALE * (1 + 3 * GELU_CUBE * v * v);
    dx[i] += dout[i]! * (0.5 * (1 + th) + 0.5 * v * (1 - th * th) * du);
  }
}
