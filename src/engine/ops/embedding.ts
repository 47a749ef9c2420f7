import { gradIfNeeded, needsGrad, record } from '../autograd.js';
import { kernels } from '../backend.js';
import { Tensor } from '../tensor.js';

/** Rows of weight [V, C] picked by the int32 ids idx [...]: out [..., C]. Backward adds into the picked rows. */
export function embedding(weight: Tensor, idx: Tensor): Tensor {
  if (idx.dtype !== 'i32') throw new TypeError('embedding: ids must be an i32 tensor');
  const [V, C] = weight.shape as [number, number];
  const ids = idx.ints;
  for (let i = 0; i < ids.length; i++) {
    if (!(ids[i]! >= 0 && ids[i]! < V)) throw new RangeError(`embedding: id ${ids[i]} outside [0, ${V})`);
  }
  const out = new Tensor([...idx.shape, C]);
  const k = kernels();
  // Views are taken after the allocation: growing the arena detaches views made before it.
  k.embeddingForward(out.data, weight.data, idx.ints, idx.size, C);
  if (needsGrad(weight)) {
    record('embedding', out, [weight], () => {
      k.embeddingBackward(gradIfNeeded(weight)!, out.grad!.data, idx.ints, idx.size, C);
    });
  }
  return out;
}
