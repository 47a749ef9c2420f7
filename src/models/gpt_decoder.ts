/**
 * Sampling's inner loop for nanoGPT-style GPTs: one new token per sequence through every layer, with the
 * key/value cache, on buffers made once. GPT.forwardCached does the same through the ops, which make a
 * dozen tensors per layer per token and record scopes for them; for a one-position step that bookkeeping
 * costs as much as the arithmetic. This runs the very same kernels in the very same order on the same
 * inputs, so its logits are GPT.forwardCached's, bit for bit (the sampling tests check the tokens against
 * the uncached path).
 */
import { kernels } from '../engine/backend.js';
import { linearInto } from '../engine/ops/linear.js';
import { Tensor, untracked } from '../engine/tensor.js';
import { CausalSelfAttention } from '../nn/attention.js';
import { MLP } from '../nn/feedforward.js';
import type { KVCache } from '../nn/kv_cache.js';
import type { LayerNorm, Linear } from '../nn/layers.js';
import type { GPT } from './gpt.js';

interface Layer {
  ln1: LayerNorm;
  attn: CausalSelfAttention;
  ln2: LayerNorm;
  fc: Linear;
  proj: Linear;
}

export class GPTDecoder {
  private readonly layers: Layer[];
  private readonly buffers: Tensor[] = [];
  private readonly ids: Tensor;
  private readonly C: number;
  /** The reference attention kernel's row of scores (the WebAssembly one brings its own). */

  /** Whether this model has the shape the decoder runs: nanoGPT's blocks, whole. */
  static supports(model: GPT): boolean {
    return (
      model.config.style === 'nanogpt' &&
      model.lnF !== null &&
      model.blocks.items.every(
        (b) => b.residual && b.ln1 !== null && b.ln2 !== null && b.attn instanceof CausalSelfAttention && b.mlp instanceof MLP,
      )
    );
  }

  constructor(
    private readonly model: GPT,
    private readonly cache: KVCache,
  ) {
    if (!GPTDecoder.supports(model)) throw new Error('GPTDecoder runs nanoGPT-style GPTs only');
    this.layers = model.blocks.items.map((b) => ({
      ln1: b.ln1!,
      attn: b.attn as CausalSelfAttention,
      ln2: b.ln2!,
      fc: (b.mlp as MLP).c_fc,
      proj: (b.mlp as MLP).c_proj,
    }));
    const B = cache.batch,
      C = (this.C = model.config.nEmbd),
      V = model.vocabSize;
    const make = (n: number) => {
      const t = untracked(() => new Tensor([n]));
      this.buffers.push(t);
      return t;
    };
    this.ids = untracked(() => new Tensor([B], 'i32'));
    this.buffers.push(this.ids);
    // x, tok, h, mean, rstd, qkv, q, att, a, x2, f, g, m, logits: see step().
    for (const n of [B * C, B * C, B * C, B, B, 3 * B * C, B * C, B * C, B * C, B * C, 4 * B * C, 4 * B * C, B * C, B * V]) make(n);
  }

  /** Logits [B, V] for the tokens `next` (one per sequence) at position cache.length; advances the cache. */
  step(next: ArrayLike<number>): Float32Array {
    const k = kernels();
    const { model, cache } = this;
    const B = cache.batch,
      C = this.C,
      offset = cache.length,
      V = model.vocabSize;
    if (offset >= cache.maxLength) throw new RangeError(`GPTDecoder: position ${offset} beyond the cache's ${cache.maxLength}`);
    const ids = this.ids.ints;
    for (let b = 0; b < B; b++) {
      if (!(next[b]! >= 0 && next[b]! < V)) throw new RangeError(`embedding: id ${next[b]} outside [0, ${V})`);
      ids[b] = next[b]!;
    }
    // Views are taken each step: the arena may have grown since the last one.
    const [x, tok, h, mean, rstd, qkv, q, att, a, x2, f, g, m, logits] = this.buffers.slice(1).map((t) => t.data) as Float32Array[];
    // Token embedding plus the position's row (the position embedding's lookup copies that row exactly).
    const wpe = model.positionEmbedding.weight.data;
    k.embeddingForward(tok!, model.tokenEmbedding.weight.data, ids, B, C);
    k.addBroadcast(x!, tok!, wpe.subarray(offset * C, (offset + 1) * C), B * C, C);
    const nh = model.config.nHead,
      hs = C / nh,
      Tmax = cache.maxLength;
    this.layers.forEach((layer, i) => {
      const slot = cache.slots[i]![0]!;
      k.layernormForward(h!, mean!, rstd!, x!, layer.ln1.weight.data, layer.ln1.bias?.data ?? null, B, C, layer.ln1.eps);
      linearInto(qkv!, h!, layer.attn.c_attn.weight, layer.attn.c_attn.bias, B);
      // Split each row [q | k | v]: q to its own rows, k and v into the cache at this position.
      const kc = slot.k.data,
        vc = slot.v.data;
      for (let b = 0; b < B; b++) {
        const row = b * 3 * C,
          at = (b * Tmax + offset) * C;
        q!.set(qkv!.subarray(row, row + C), b * C);
        kc.set(qkv!.subarray(row + C, row + 2 * C), at);
        vc.set(qkv!.subarray(row + 2 * C, row + 3 * C), at);
      }
      k.attentionCachedForward(att!, q!, kc, vc, B, 1, Tmax, offset, nh, hs, 1 / Math.sqrt(hs));
      linearInto(a!, att!, layer.attn.c_proj.weight, layer.attn.c_proj.bias, B);
      k.add(x2!, x!, a!, B * C);
      k.layernormForward(h!, mean!, rstd!, x2!, layer.ln2.weight.data, layer.ln2.bias?.data ?? null, B, C, layer.ln2.eps);
      linearInto(f!, h!, layer.fc.weight, layer.fc.bias, B);
      k.geluForward(g!, f!, null, 4 * B * C);
      linearInto(m!, g!, layer.proj.weight, layer.proj.bias, B);
      k.add(x!, x2!, m!, B * C);
    });
    const lnF = model.lnF!;
    k.layernormForward(h!, mean!, rstd!, x!, lnF.weight.data, lnF.bias?.data ?? null, B, C, lnF.eps);
    if (model.lmHead !== null) linearInto(logits!, h!, model.lmHead.weight, model.lmHead.bias, B);
    else linearInto(logits!, h!, model.tokenEmbedding.weight, null, B);
    cache.length++;
    return logits!;
  }

  dispose(): void {
    for (const t of this.buffers) t.dispose();
  }
}
