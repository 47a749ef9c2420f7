import { gradIfNeeded, gradToWrite, isGradEnabled, needsGrad, record } from '../autograd.js';
import { kernels } from '../backend.js';
import { matmulNN, matmulNT, matmulTN } from '../matmul_layouts.js';
import { Tensor, untracked } from '../tensor.js';
import { leadingSize, sameShape } from './shapes.js';

/**
 * y = x W^T + b, PyTorch's layout: x [..., K], weight [N, K] (out by in), bias [N] or null; y [..., N].
 * Backward: dx += dy W,  dW += dy^T x,  db += dy summed over rows.
 */
export function linear(x: Tensor, weight: Tensor, bias: Tensor | null = null): Tensor {
  const K = x.shape[x.shape.length - 1]!;
  const [N, Kw] = weight.shape as [number, number];
  if (weight.shape.length !== 2 || Kw !== K) {
    throw new RangeError(`linear: input [${x.shape}] does not match weight [${weight.shape}]`);
  }
  if (bias !== null && !sameShape(bias.shape, [N])) throw new RangeError(`linear: bias [${bias.shape}] is not [${N}]`);
  const M = leadingSize(x.shape);
  const y = new Tensor([...x.shape.slice(0, -1), N]);
  const k = kernels();
  linearInto(y.data, x.data, weight, bias, M);
  if (needsGrad(x, weight, bias)) {
    record('linear', y, [x, weight, bias], () => {
      // Views are taken afresh for each kernel call: a kernel may take scratch memory and so grow the arena,
      // which detaches views made before the call.
      const dx = gradToWrite(x);
      if (dx !== null) matmulNN(k, dx.data, y.grad!.data, weight.data, M, K, N, !dx.overwrite);
      if (weight.requiresGrad) matmulTN(k, gradIfNeeded(weight)!, y.grad!.data, x.data, N, K, M, true);
      if (bias?.requiresGrad) k.biasBackward(gradIfNeeded(bias)!, y.grad!.data, M, N);
    });
  }
  return y;
}

/**
 * y[M, N] = x[M, K] W^T + b into existing arrays, no gradient: linear()'s forward, which sampling's decoder
 * also runs on buffers it keeps (src/models/gpt_decoder.ts), so both compute the same bits.
 */
export function linearInto(y: Float32Array, x: Float32Array, weight: Tensor, bias: Tensor | null, M: number): void {
  const [N, K] = weight.shape as [number, number];
  const k = kernels();
  const wt = M < SMALL_M && transposes !== null && !isGradEnabled() ? transposes.get(weight) : undefined;
  if (wt !== undefined) matmulNN(k, y, x, wt.data, M, N, K, false);
  else matmulNT(k, y, x, weight.data, M, N, K, false);
  if (bias !== null) k.biasForward(y, bias.data, M, N);
}

/** Below this many rows a product reads a transposed weight faster (rows contiguous) when one is registered. */
const SMALL_M = 4;
let transposes: ReadonlyMap<Tensor, Tensor> | null = null;

/**
 * Runs fn with `map` (weight -> its transpose, from transposeWeights) in force: linear() of one to three
 * rows, without gradients, reads the transposed copy instead, which the kernels multiply by a row with no
 * repacking: sampling one token at a time. The result is the same bit for bit (the kernels sum every output
 * in the same order in both layouts). The copies must match the weights: make them when the weights stop
 * changing (a generation does, at its start) and dispose of them after.
 */
export function withTransposedWeights<T>(map: ReadonlyMap<Tensor, Tensor>, fn: () => T): T {
  const saved = transposes;
  transposes = map;
  try {
    return fn();
  } finally {
    transposes = saved;
  }
}

/** [K, N] copies of the given [N, K] weights, outside every scope (dispose them when done). */
export function transposeWeights(weights: readonly Tensor[]): Map<Tensor, Tensor> {
  const map = new Map<Tensor, Tensor>();
  for (const w of weights) {
    if (w.shape.length !== 2 || w.dtype !== 'f32') continue;
    const [N, K] = w.shape as [number, number];
    const t = untracked(() => new Tensor([K, N]));
    kernels().transpose(t.data, w.data, N, K, K, N);
    map.set(w, t);
  }
  return map;
}
