import { gradIfNeeded, needsGrad, record } from '../autograd.js';
import { kernels } from '../backend.js';
import type { Rng } from '../random.js';
import { Tensor } from '../tensor.js';
import { dropoutMask } from './dropout.js';
import { sameShape } from './shapes.js';

export interface AttentionOptions {
  /** Dropout on the attention weights after the softmax (nanoGPT's attn_dropout, the lecture's Head dropout). */
  dropout?: number;
  rng?: Rng;
  training?: boolean;
  /**
   * Receives the attention weights [B, nh, T, T] during the forward, for inspection (attention maps,
   * retrieval scores). The tensor is released by the backward pass (or the enclosing tidy): copy what you keep.
   */
  onWeights?: (att: Tensor) => void;
}

/**
 * Causal scaled-dot-product attention with nHead heads: q, k, v [B, T, C], C = nHead * headSize, head h
 * reading columns h*headSize..(h+1)*headSize; scores scaled by 1/sqrt(headSize); out [B, T, C] with the heads
 * side by side, ready for the output projection.
 */
export function attention(q: Tensor, k: Tensor, v: Tensor, nHead: number, opts: AttentionOptions = {}): Tensor {
  if (q.shape.length !== 3 || !sameShape(q.shape, k.shape) || !sameShape(q.shape, v.shape)) {
    throw new RangeError(`attention: q [${q.shape}], k [${k.shape}], v [${v.shape}] must all be [B, T, C]`);
  }
  const [B, T, C] = q.shape as [number, number, number];
  if (C % nHead !== 0) throw new RangeError(`attention: width ${C} is not divisible by ${nHead} heads`);
  const hs = C / nHead, scale = 1 / Math.sqrt(hs);
  const p = opts.dropout ?? 0;
  const keep = opts.training && p > 0 ? dropoutMask([B, nHead, T, T], p, opts.rng!) : null;
  const out = new Tensor([B, T, C]);
  const att = new Tensor([B, nHead, T, T]);
  const kern = kernels();
  kern.attentionForward(out.data, att.data, q.data, k.data, v.data, keep?.data ?? null, B, T, nHead, hs, scale);
  opts.onWeights?.(att);
  if (needsGrad(q, k, v)) {
    record('attention', out, [q, k, v], () => {
      kern.attentionBackward(
        gradIfNeeded(q), gradIfNeeded(k), gradIfNeeded(v), out.grad!.data,
        q.data, k.data, v.data, att.data, keep?.data ?? null, B, T, nHead, hs, scale,
      );
      // The weights and the mask are the largest things a forward keeps ([B, nh, T, T] each): free them now.
      att.dispose();
      keep?.dispose();
    });
  }
  return out;
}
