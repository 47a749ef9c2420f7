/**
 * Self-attention in the two forms tsgpt speaks:
 *  - the lecture's: a Head is one query/key/value triple of width headSize; MultiHeadAttention runs nHead of
 *    them side by side, concatenates and projects;
 *  - nanoGPT's CausalSelfAttention: one fused projection c_attn makes q, k and v for all heads at once.
 * Both compute the same function; the fused form does it with one matmul instead of 3 * nHead.
 */
import { attention, attentionQKV } from '../engine/ops/attention.js';
import { dropout } from '../engine/ops/dropout.js';
import { transformQK, type RotaryAngles } from '../engine/ops/qk_transform.js';
import { concat } from '../engine/ops/split_concat.js';
import type { Rng } from '../engine/random.js';
import type { Tensor } from '../engine/tensor.js';
import { Linear, ModuleList, type Init } from './layers.js';
import { Module } from './module.js';

/** Receives the attention weights [B, nh, T, T] of one attention call: for attention maps and retrieval. */
export type AttentionObserver = (weights: Tensor) => void;

/** One head of causal self-attention (the lecture's Head): key, query, value, no biases. */
export class Head extends Module {
  readonly key: Linear;
  readonly query: Linear;
  readonly value: Linear;
  observer: AttentionObserver | null = null;

  constructor(
    nEmbd: number,
    readonly headSize: number,
    readonly dropoutP: number,
    private readonly rng: Rng,
    init?: Init,
  ) {
    super();
    // Registered in the lecture's order, so parameter lists line up with gpt.py's state dict.
    this.key = this.registerModule('key', new Linear(nEmbd, headSize, rng, { bias: false, init }));
    this.query = this.registerModule('query', new Linear(nEmbd, headSize, rng, { bias: false, init }));
    this.value = this.registerModule('value', new Linear(nEmbd, headSize, rng, { bias: false, init }));
  }

  /** x [B, T, nEmbd] -> [B, T, headSize] */
  forward(x: Tensor): Tensor {
    const k = this.key.forward(x),
      q = this.query.forward(x),
      v = this.value.forward(x);
    return attention(q, k, v, 1, this.attentionOptions());
  }

  private attentionOptions() {
    return { dropout: this.dropoutP, rng: this.rng, training: this.training, onWeights: this.observer ?? undefined };
  }
}

/**
 * The lecture's MultiHeadAttention: heads in parallel, concatenated, projected, dropout. The lecture first
 * builds it without the projection (projection: false, for its ladder).
 */
export class MultiHeadAttention extends Module {
  readonly heads: ModuleList<Head>;
  readonly proj: Linear | null;

  constructor(
    nEmbd: number,
    nHead: number,
    readonly dropoutP: number,
    private readonly rng: Rng,
    opts: { bias?: boolean; projection?: boolean; init?: Init } = {},
  ) {
    super();
    const headSize = nEmbd / nHead;
    this.heads = this.registerModule(
      'heads',
      new ModuleList(Array.from({ length: nHead }, () => new Head(nEmbd, headSize, dropoutP, rng, opts.init))),
    );
    this.proj =
      (opts.projection ?? true)
        ? this.registerModule('proj', new Linear(nEmbd, nEmbd, rng, { bias: opts.bias ?? true, init: opts.init }))
        : null;
  }

  /** Observes every head: the callback gets [B, 1, T, T] per head, in head order. */
  set observer(fn: AttentionObserver | null) {
    for (const h of this.heads.items) h.observer = fn;
  }

  forward(x: Tensor): Tensor {
    return this.combine(this.heads.items.map((h) => h.forward(x)));
  }

  private combine(heads: Tensor[]): Tensor {
    const out = heads.length === 1 ? heads[0]! : concat(heads);
    if (this.proj === null) return out;
    return dropout(this.proj.forward(out), this.dropoutP, this.rng, this.training);
  }
}

/**
 * nanoGPT's CausalSelfAttention: fused qkv projection c_attn, output projection c_proj. Optionally (modded-nanogpt's
 * attention) each head's query and key are RMS-normalised (qkNorm) and turned by their positions' rotary angles;
 * neither adds a parameter.
 */
export class CausalSelfAttention extends Module {
  readonly c_attn: Linear;
  readonly c_proj: Linear;
  readonly qkNorm: boolean;
  /** The rotary angle tables (the model's, for its block size), or null: positions come from elsewhere. */
  readonly rotary: RotaryAngles | null;
  observer: AttentionObserver | null = null;

  constructor(
    readonly nEmbd: number,
    readonly nHead: number,
    readonly dropoutP: number,
    private readonly rng: Rng,
    opts: { bias: boolean; projStd: number; qkNorm?: boolean; rotary?: RotaryAngles | null },
  ) {
    super();
    this.c_attn = this.registerModule('c_attn', new Linear(nEmbd, 3 * nEmbd, rng, { bias: opts.bias }));
    this.c_proj = this.registerModule('c_proj', new Linear(nEmbd, nEmbd, rng, { bias: opts.bias, std: opts.projStd }));
    this.qkNorm = opts.qkNorm ?? false;
    this.rotary = opts.rotary ?? null;
  }

  forward(x: Tensor): Tensor {
    let qkv = this.c_attn.forward(x);
    if (this.qkNorm || this.rotary !== null) qkv = transformQK(qkv, this.nHead, { norm: this.qkNorm, rotary: this.rotary });
    const y = attentionQKV(qkv, this.nHead, {
      dropout: this.dropoutP,
      rng: this.rng,
      training: this.training,
      onWeights: this.observer ?? undefined,
    });
    return dropout(this.c_proj.forward(y), this.dropoutP, this.rng, this.training);
  }
}
