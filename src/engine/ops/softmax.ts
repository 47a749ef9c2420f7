import { gradIfNeeded, needsGrad, record } from '../autograd.js';
import { kernels } from '../backend.js';
import { Tensor } from '../tensor.js';
import { lastDim, leadingSize } from './shapes.js';

/** Softmax over the last dimension. */
export function softmax(x: Tensor): Tensor {
  const C = lastDim(x.shape),
    N = leadingSize(x.shape);
  const out = new Tensor(x.shape);
  const k = kernels();
  k.softmaxForward(out.data, x.data, N, C);
  if (needsGrad(x)) {
    record('softmax', out, [x], () => k.softmaxBackward(gradIfNeeded(x)!, out.data, out.grad!.data, N, C));
  }
  return out;
}
