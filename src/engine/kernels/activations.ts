/**
 * Point-wise non-linearities. ReLU is the lecture's; ReLU squared and the logit soft-cap modded-nanogpt's. GELU
 * comes in two forms:
 *  - geluForward / geluBackward: the tanh approximation GPT-2 uses (Hugging Face's "gelu_new"),
 *    0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)));
 *  - geluErfForward / geluErfBackward: the exact x Phi(x) = 0.5 x (1 + erf(x / sqrt(2))), PyTorch's nn.GELU(),
 *    which nanoGPT's model.py has used since 2023. Phi comes from a float64 erfc (../normal_cdf.ts), accurate
 *    in both tails, so this reference is float32-exact but for the final rounding.
 * Backward kernels accumulate into dx (GELU's may instead overwrite it, when nothing is there yet).
 */
import { normalCdf, normalPdf } from '../normal_cdf.js';

export function reluForward(out: Float32Array, x: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) {
    const v = x[i]!;
    out[i] = v > 0 ? v : 0;
  }
}

export function reluBackward(dx: Float32Array, x: Float32Array, dout: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) if (x[i]! > 0) dx[i] += dout[i]!;
}

/** max(0, x)^2, ReLU squared (So et al. 2021, "Primer"; modded-nanogpt's MLP). */
export function relu2Forward(out: Float32Array, x: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) {
    const v = x[i]!;
    out[i] = v > 0 ? v * v : 0;
  }
}

/** dx (+)= 2 max(0, x) dout; overwrites unless `accumulate`. */
export function relu2Backward(dx: Float32Array, x: Float32Array, dout: Float32Array, n: number, accumulate: boolean): void {
  for (let i = 0; i < n; i++) {
    const v = x[i]!;
    const d = v > 0 ? 2 * v * dout[i]! : 0;
    dx[i] = accumulate ? dx[i]! + d : d;
  }
}

/**
 * The logit soft-cap, cap tanh(x / cap) (Gemma 2; modded-nanogpt's head): about x for |x| well below cap, never
 * beyond +-cap.
 */
export function softcapForward(out: Float32Array, x: Float32Array, n: number, cap: number): void {
  for (let i = 0; i < n; i++) out[i] = cap * Math.tanh(x[i]! / cap);
}

/** dx (+)= dout (1 - (out / cap)^2), from the forward's output; overwrites unless `accumulate`. */
export function softcapBackward(
  dx: Float32Array,
  out: Float32Array,
  dout: Float32Array,
  n: number,
  cap: number,
  accumulate: boolean,
): void {
  for (let i = 0; i < n; i++) {
    const t = out[i]! / cap;
    const d = dout[i]! * (1 - t * t);
    dx[i] = accumulate ? dx[i]! + d : d;
  }
}

const GELU_SCALE = Math.sqrt(2 / Math.PI);
const GELU_CUBE = 0.044715;

/**
 * out = gelu(x). With `saved`, also e = exp(-2u) there (0.5 (1 + tanh u) = 1 / (1 + e)): a backend's backward
 * may read it rather than compute the exponential again; this reference computes everything afresh.
 */
export function geluForward(out: Float32Array, x: Float32Array, saved: Float32Array | null, n: number): void {
  for (let i = 0; i < n; i++) {
    const v = x[i]!;
    const u = GELU_SCALE * (v + GELU_CUBE * v * v * v);
    out[i] = 0.5 * v * (1 + Math.tanh(u));
    if (saved !== null) saved[i] = Math.exp(-2 * u);
  }
}

/**
 * d/dx of the forward: 0.5 (1 + tanh u) + 0.5 x (1 - tanh^2 u) du/dx, with u = sqrt(2/pi)(x + 0.044715 x^3).
 * `saved` is what geluForward saved (this reference does not need it).
 */
export function geluBackward(
  dx: Float32Array,
  x: Float32Array,
  dout: Float32Array,
  _saved: Float32Array | null,
  n: number,
  accumulate: boolean,
): void {
  if (!accumulate) dx.fill(0, 0, n);
  for (let i = 0; i < n; i++) {
    const v = x[i]!;
    const th = Math.tanh(GELU_SCALE * (v + GELU_CUBE * v * v * v));
    const du = GELU_SCALE * (1 + 3 * GELU_CUBE * v * v);
    dx[i] += dout[i]! * (0.5 * (1 + th) + 0.5 * v * (1 - th * th) * du);
  }
}

/** out = x Phi(x), the exact GELU. */
export function geluErfForward(out: Float32Array, x: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) {
    const v = x[i]!;
    out[i] = v * normalCdf(v);
  }
}

/** dx (+)= dout (Phi(x) + x phi(x)): the exact GELU's derivative; overwrites unless `accumulate`. */
export function geluErfBackward(dx: Float32Array, x: Float32Array, dout: Float32Array, n: number, accumulate: boolean): void {
  if (!accumulate) dx.fill(0, 0, n);
  for (let i = 0; i < n; i++) {
    const v = x[i]!;
    dx[i] += dout[i]! * (normalCdf(v) + v * normalPdf(v));
  }
}
