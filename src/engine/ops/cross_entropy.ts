import { gradIfNeeded, needsGrad, record } from '../autograd.js';
import { kernels } from '../backend.js';
import { Tensor } from '../tensor.js';
import { lastDim, leadingSize } from './shapes.js';

/**
 * Mean cross-entropy of logits [..., V] against int32 targets [...] (-1 = ignore), fused with log-softmax.
 * Returns a one-element tensor.
 */
export function crossEntropy(logits: Tensor, targets: Tensor): Tensor {
  if (targets.dtype !== 'i32') throw new TypeError('crossEntropy: targets must be an i32 tensor');
  const V = lastDim(logits.shape),
    N = leadingSize(logits.shape);
  if (targets.size !== N) {
    throw new RangeError(`crossEntropy: logits [${logits.shape}] and targets [${targets.shape}] disagree`);
  }
  const t = targets.ints;
  for (let i = 0; i < N; i++) {
    if (!(t[i]! >= -1 && t[i]! < V)) throw new RangeError(`crossEntropy: target ${t[i]} outside [0, ${V})`);
  }
  const lse = new Tensor([N]);
  const k = kernels();
  const out = new Tensor([1]);
  // Views are taken after the allocations: growing the arena detaches views made before it.
  const total = k.crossEntropyForward(lse.data, logits.data, targets.ints, N, V);
  let count = 0;
  for (let i = 0; i < N; i++) if (t[i]! >= 0) count++;
  out.data[0] = count === 0 ? NaN : total / count;
  if (needsGrad(logits)) {
    record('crossEntropy', out, [logits], () => {
      k.crossEntropyBackward(gradIfNeeded(logits)!, logits.data, lse.data, targets.ints, N, V, count, out.grad!.data[0]!);
    });
  }
  return out;
}
