/**
 * The transformer block, pre-norm with residual connections, in either naming:
 *   x = x + attention(ln1(x));  x = x + feedforward(ln2(x))
 * lecture: ln1, sa (MultiHeadAttention), ln2, ffwd (FeedForward)
 * nanoGPT: ln_1, attn (CausalSelfAttention), ln_2, mlp (MLP)
 */
import { add } from '../engine/ops/add.js';
import type { Rng } from '../engine/random.js';
import type { Tensor } from '../engine/tensor.js';
import { CausalSelfAttention, MultiHeadAttention, type AttentionObserver } from './attention.js';
import { FeedForward, MLP } from './feedforward.js';
import { LayerNorm } from './layers.js';
import { Module } from './module.js';

export type BlockStyle = 'lecture' | 'nanogpt';

export interface BlockConfig {
  style: BlockStyle;
  nEmbd: number;
  nHead: number;
  nLayer: number;
  dropout: number;
  bias: boolean;
}

export class Block extends Module {
  readonly ln1: LayerNorm;
  readonly attn: MultiHeadAttention | CausalSelfAttention;
  readonly ln2: LayerNorm;
  readonly mlp: FeedForward | MLP;

  constructor(cfg: BlockConfig, rng: Rng) {
    super();
    const { nEmbd, nHead, dropout, bias } = cfg;
    if (cfg.style === 'lecture') {
      // Registration order follows gpt.py's Block.__init__ (sa, ffwd, ln1, ln2): the state dict's order.
      this.attn = this.registerModule('sa', new MultiHeadAttention(nEmbd, nHead, dropout, rng, bias));
      this.mlp = this.registerModule('ffwd', new FeedForward(nEmbd, dropout, rng, bias));
      this.ln1 = this.registerModule('ln1', new LayerNorm(nEmbd, { bias }));
      this.ln2 = this.registerModule('ln2', new LayerNorm(nEmbd, { bias }));
    } else {
      // GPT-2's scaled init: each residual branch's last projection gets std 0.02/sqrt(2 n_layer), so the
      // residual stream's variance does not grow with depth.
      const projStd = 0.02 / Math.sqrt(2 * cfg.nLayer);
      this.ln1 = this.registerModule('ln_1', new LayerNorm(nEmbd, { bias }));
      this.attn = this.registerModule('attn', new CausalSelfAttention(nEmbd, nHead, dropout, rng, { bias, projStd }));
      this.ln2 = this.registerModule('ln_2', new LayerNorm(nEmbd, { bias }));
      this.mlp = this.registerModule('mlp', new MLP(nEmbd, dropout, rng, { bias, projStd }));
    }
  }

  set observer(fn: AttentionObserver | null) {
    this.attn.observer = fn;
  }

  forward(x: Tensor): Tensor {
    x = add(x, this.attn.forward(this.ln1.forward(x)));
    return add(x, this.mlp.forward(this.ln2.forward(x)));
  }
}
