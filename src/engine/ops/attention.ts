import { gradIfNeeded, gradToWrite, needsGrad, record } from '../autograd.js';
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
  return causalAttention(
    [q, k, v],
    B,
    T,
    C,
    C,
    nHead,
    opts,
    () => [q.data, k.data, v.data],
    () => ({ grads: [gradIfNeeded(q), gradIfNeeded(k), gradIfNeeded(v)], accumulate: true }),
  );
}

/**
 * The same attention reading q, k and v straight out of a fused projection's output qkv [B, T, 3C] (q, k, v
 * side by side in each row, nanoGPT's c_attn), with no copy into separate tensors; the backward writes their
 * gradients into qkv's gradient in place.
 */
export function attentionQKV(qkv: Tensor, nHead: number, opts: AttentionOptions = {}): Tensor {
  if (qkv.shape.length !== 3 || qkv.shape[2]! % 3 !== 0) {
    throw new RangeError(`attentionQKV: qkv [${qkv.shape}] must be [B, T, 3C]`);
  }
  const [B, T, C3] = qkv.shape as [number, number, number];
  const C = C3 / 3;
  const thirds = (d: Float32Array): [Float32Array, Float32Array, Float32Array] => [d, d.subarray(C), d.subarray(2 * C)];
  return causalAttention(
    [qkv],
    B,
    T,
    C,
    C3,
    nHead,
    opts,
    () => thirds(qkv.data),
    () => {
      // One gradient buffer for all three: the kernel writes every element of it, so a fresh one is overwritten.
      const g = gradToWrite(qkv);
      return g === null ? { grads: [null, null, null], accumulate: true } : { grads: thirds(g.data), accumulate: !g.overwrite };
    },
  );
}

/**
 * Both forms: `views()` gives q, k, v (rows ld floats apart), `grads()` their gradients, read when needed, and
 * whether the kernel adds to them or overwrites them.
 */
function causalAttention(
  inputs: Tensor[],
  B: number,
  T: number,
  C: number,
  ld: number,
  nHead: number,
  opts: AttentionOptions,
  views: () => [Float32Array, Float32Array, Float32Array],
  grads: () => { grads: [Float32Array | null, Float32Array | null, Float32Array | null]; accumulate: boolean },
): Tensor {
  if (C % nHead !== 0) throw new RangeError(`attention: width ${C} is not divisible by ${nHead} heads`);
  const hs = C / nHead,
    scale = 1 / Math.sqrt(hs);
  const p = opts.dropout ?? 0;
  const keep = opts.training && p > 0 ? dropoutMask([B, nHead, T, T], p, opts.rng!) : null;
  const out = new Tensor([B, T, C]);
  const att = new Tensor([B, nHead, T, T]);
  const kern = kernels();
  const [q, k, v] = views();
  kern.attentionForward(out.data, att.data, q, k, v, keep?.data ?? null, B, T, nHead, hs, scale, ld, 0, nHead);
  opts.onWeights?.(att);
  if (needsGrad(...inputs)) {
    record('attention', out, inputs, () => {
      const {
        grads: [dq, dk, dv],
        accumulate,
      } = grads();
      const [q, k, v] = views();
      kern.attentionBackward(dq, dk, dv, out.grad!.data, q, k, v, att.data, keep?.data ?? null, B, T, nHead, hs, scale, ld, accumulate);
      // The weights and the mask are the largest things a forward keeps ([B, nh, T, T] each): free them now.
      att.dispose();
      keep?.dispose();
    });
  }
  return out;
}
