import { gradIfNeeded, needsGrad, record } from '../autograd.js';
import { kernels } from '../backend.js';
import type { Rng } from '../random.js';
import { Tensor } from '../tensor.js';

/**
 * A dropout multiplier: each element is 0 with probability p, else 1/(1-p) ("inverted" dropout, so that the
 * expected activation is unchanged and evaluation needs no rescaling). Drawn from the seeded generator.
 */
export function dropoutMask(shape: readonly number[], p: number, rng: Rng): Tensor {
  const mask = new Tensor(shape);
  kernels().dropoutMask(mask.data, mask.size, p, rng.stateWords());
  return mask;
}

/** Inverted dropout; the identity (the same tensor, no copy) when p is 0 or not training. */
export function dropout(x: Tensor, p: number, rng: Rng, training: boolean): Tensor {
  if (!training || p === 0) return x;
  if (!(p > 0 && p < 1)) throw new RangeError(`dropout probability must be in [0, 1), got ${p}`);
  const mask = dropoutMask(x.shape, p, rng);
  const out = new Tensor(x.shape);
  const k = kernels();
  k.mulForward(out.data, x.data, mask.data, x.size);
  if (needsGrad(x)) {
    record('dropout', out, [x], () => {
      k.mulBackward(gradIfNeeded(x)!, out.grad!.data, mask.data, x.size);
      mask.dispose();
    });
  }
  return out;
}
