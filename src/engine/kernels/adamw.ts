/**
 * One AdamW update of n parameters, in place, as torch.optim.AdamW computes it:
 *   p -= lr * wd * p                                   (decoupled weight decay, before the moment update)
 *   m = beta1 m + (1 - beta1) g;   v = beta2 v + (1 - beta2) g^2
 *   p -= (lr / bc1) * m / (sqrt(v) / bc2Sqrt + eps)   with bc1 = 1 - beta1^t, bc2Sqrt = sqrt(1 - beta2^t)
 * The bias corrections come from the optimizer, which knows the step t (PyTorch's step function computes them
 * there too); every backend then starts from the same float64 values.
 * `gradScale` multiplies g on the fly: gradient clipping without a separate pass over the gradients.
 * With `zeroGrad`, g is set to zero as it is read: the next step's gradients start from zero without a pass
 * of their own (the trainer's zero_grad).
 */
export function adamwStep(
  p: Float32Array,
  g: Float32Array,
  m: Float32Array,
  v: Float32Array,
  n: number,
  lr: number,
  beta1: number,
  beta2: number,
  eps: number,
  weightDecay: number,
  bc1: number,
  bc2Sqrt: number,
  gradScale: number,
  zeroGrad: boolean,
): void {
  const stepSize = lr / bc1;
  const decay = 1 - lr * weightDecay;
  for (let i = 0; i < n; i++) {
    const gi = g[i]! * gradScale;
    if (zeroGrad) g[i] = 0;
    const mi = beta1 * m[i]! + (1 - beta1) * gi;
    const vi = beta2 * v[i]! + (1 - beta2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] = p[i]! * decay - (stepSize * mi) / (Math.sqrt(vi) / bc2Sqrt + eps);
  }
}

/** Sum of squares of n values: the global gradient norm is the square root of its total over all parameters. */
export function sumOfSquares(x: Float32Array, n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += x[i]! * x[i]!;
  return s;
}
