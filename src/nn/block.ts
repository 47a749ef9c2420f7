/**
 * The transformer block, pre-norm with residual connections, in either naming:
 *   x = x + attention(ln1(x));  x = x + feedforward(ln2(x))
 * lecture: ln1, sa (MultiHeadAttention), ln2, ffwd (FeedForward)
 * nanoGPT: ln_1, attn (CausalSelfAttention), ln_2, mlp (MLP)
 * The lecture form can also be built as the lecture builds it up, chapter by chapter (its "ladder"): without
 * residual connections, LayerNorm, the attention projection, or with a smaller feed-forward, or none.
 */
import { add } from '../engine/ops/add.js';
import type { RotaryAngles } from '../engine/ops/qk_transform.js';
import type { Rng } from '../engine/random.js';
import type { Tensor } from '../engine/tensor.js';
import { CausalSelfAttention, MultiHeadAttention, type AttentionObserver } from './attention.js';
import { FeedForward, MLP } from './feedforward.js';
import { type Activation, LayerNorm, type Init, type Norm, normModule } from './layers.js';
import { Module } from './module.js';

export type BlockStyle = 'lecture' | 'nanogpt';

/** The parts of the lecture's block that its earlier chapters leave out. Every field defaults to the full block. */
export interface LectureAblation {
  /** x + f(x) (true) or just f(x). */
  residual?: boolean;
  /** Pre-norm LayerNorms in the blocks and before the output head. */
  layerNorm?: boolean;
  /** The output projection after the heads are concatenated. */
  projection?: boolean;
  /** 'mlp': 4x wider with a projection back; 'linear': Linear(C, C) + ReLU; 'none': no feed-forward at all. */
  feedForward?: 'mlp' | 'linear' | 'none';
  /** 'gpt' (normal, std 0.02) or 'torch' (PyTorch's defaults, as the lecture's early chapters). */
  init?: Init;
}

/**
 * Options of the nanoGPT form from after 2017 (issue 15, modded-nanogpt's records), each off when absent. They add
 * no parameter to a block, so its state-dict names stay nanoGPT's.
 */
export interface ModernBlockOptions {
  /** The MLP's non-linearity; absent: the form's own from before the choice existed (see activationOf). */
  activation?: Activation;
  /** Each head's query and key divided by its RMS before scoring (QK-norm, no gain). */
  qkNorm?: boolean;
  /** The residual branches' last projections (attn.c_proj, mlp.c_proj) start at zero: each block starts as the identity. */
  zeroInitProjections?: boolean;
  /**
   * 'rmsnorm': ln_1, ln_2 (and the model's ln_f) are RMSNorms without a gain (see RMSNorm), so their weights and
   * biases leave the state dict; absent: nanoGPT's LayerNorms.
   */
  norm?: 'rmsnorm';
}

export interface BlockConfig extends LectureAblation, ModernBlockOptions {
  style: BlockStyle;
  nEmbd: number;
  nHead: number;
  nLayer: number;
  dropout: number;
  bias: boolean;
}

/**
 * A block's activation: the config's, or when it names none the one each form always had, so configs (and run
 * folders) from before the choice keep meaning what they were trained as: ReLU for the lecture, GELU's tanh
 * form for nanoGPT's (tsgpt's nanoGPT form used it until the exact form became the default of new runs).
 */
export function activationOf(cfg: { style: BlockStyle; activation?: Activation }): Activation {
  return cfg.activation ?? (cfg.style === 'nanogpt' ? 'gelu_tanh' : 'relu');
}

export class Block extends Module {
  readonly ln1: Norm | null;
  readonly attn: MultiHeadAttention | CausalSelfAttention;
  readonly ln2: Norm | null;
  readonly mlp: FeedForward | MLP | null;
  readonly residual: boolean;

  /** `rotary`: the model's rotary angle tables when it uses rotary position embeddings (nanoGPT form only). */
  constructor(cfg: BlockConfig, rng: Rng, rotary: RotaryAngles | null = null) {
    super();
    const { nEmbd, nHead, dropout, bias } = cfg;
    this.residual = cfg.residual ?? true;
    if (cfg.style === 'lecture') {
      const { init } = cfg,
        kind = cfg.feedForward ?? 'mlp',
        norms = cfg.layerNorm ?? true;
      // Registration order follows gpt.py's Block.__init__ (sa, ffwd, ln1, ln2): the state dict's order.
      this.attn = this.registerModule('sa', new MultiHeadAttention(nEmbd, nHead, dropout, rng, { bias, init, projection: cfg.projection }));
      this.mlp =
        kind === 'none'
          ? null
          : this.registerModule('ffwd', new FeedForward(nEmbd, dropout, rng, { bias, init, kind, activation: activationOf(cfg) }));
      this.ln1 = norms ? this.registerModule('ln1', new LayerNorm(nEmbd, { bias })) : null;
      this.ln2 = norms ? this.registerModule('ln2', new LayerNorm(nEmbd, { bias })) : null;
    } else {
      // GPT-2's scaled init: each residual branch's last projection gets std 0.02/sqrt(2 n_layer), so the
      // residual stream's variance does not grow with depth.
      const projStd = 0.02 / Math.sqrt(2 * cfg.nLayer);
      this.ln1 = this.registerModule('ln_1', normModule(cfg.norm, nEmbd, bias));
      const attn = new CausalSelfAttention(nEmbd, nHead, dropout, rng, { bias, projStd, qkNorm: cfg.qkNorm ?? false, rotary });
      this.attn = this.registerModule('attn', attn);
      this.ln2 = this.registerModule('ln_2', normModule(cfg.norm, nEmbd, bias));
      const mlp = new MLP(nEmbd, dropout, rng, { bias, projStd, activation: activationOf(cfg) });
      this.mlp = this.registerModule('mlp', mlp);
      // Zero-initialised projections (modded-nanogpt): drawn as usual, then cleared, so every other weight is the
      // one the default init gives.
      if (cfg.zeroInitProjections === true) for (const proj of [attn.c_proj, mlp.c_proj]) proj.weight.data.fill(0);
    }
  }

  set observer(fn: AttentionObserver | null) {
    this.attn.observer = fn;
  }

  /**
   * The block. `seeFfnInput`, when given, is handed what the feed-forward reads, ln_2 of the residual stream
   * (kNN-LM's key), made even in a block without a feed-forward (a lecture stage) so it can be seen.
   */
  forward(x: Tensor, seeFfnInput?: (h: Tensor) => void): Tensor {
    const a = this.attn.forward(this.ln1 === null ? x : this.ln1.forward(x));
    x = this.residual ? add(x, a) : a;
    if (this.mlp === null && seeFfnInput === undefined) return x;
    const h = this.ln2 === null ? x : this.ln2.forward(x);
    seeFfnInput?.(h);
    if (this.mlp === null) return x;
    const f = this.mlp.forward(h);
    return this.residual ? add(x, f) : f;
  }
}
