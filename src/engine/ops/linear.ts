import { gradIfNeeded, gradToWrite, needsGrad, record } from '../autograd.js';
import { kernels } from '../backend.js';
import { matmulNN, matmulNT, matmulTN } from '../matmul_layouts.js';
import { Tensor } from '../tensor.js';
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
  matmulNT(k, y.data, x.data, weight.data, M, N, K, false);
  if (bias !== null) k.biasForward(y.data, bias.data, M, N);
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
