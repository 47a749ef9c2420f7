/**
 * GPT: token and position embeddings, a stack of transformer blocks, a final LayerNorm and a linear head to
 * the vocabulary. One class, two forms of the same architecture:
 *  - "nanogpt": GELU (exact unless the config says gelu_tanh, GPT-2's), fused qkv projection, lm_head tied to the token embedding, optional biases, scaled init
 *    of the residual projections; names transformer.wte.weight, transformer.h.0.attn.c_attn.weight, ...
 *  - "lecture": the lecture's gpt.py: ReLU (unless the config says otherwise), one module per head, untied lm_head with a bias; names
 *    token_embedding_table.weight, blocks.0.sa.heads.0.key.weight, ...
 * The nanoGPT form takes the options small-model recipes added since (issue 15, modded-nanogpt's speedrun), each
 * off when absent: rotary position embeddings (no transformer.wpe.weight), QK-norm, ReLU squared (activation
 * 'relu2'), zero-initialised residual projections, an untied head (lm_head.weight, no bias), a logit
 * soft-cap and RMSNorm as the blocks' and final norm (norm 'rmsnorm': no ln_1, ln_2 or ln_f weights); none adds
 * other names.
 */
import { add } from '../engine/ops/add.js';
import { crossEntropy } from '../engine/ops/cross_entropy.js';
import { dropout } from '../engine/ops/dropout.js';
import { softcap } from '../engine/ops/activations.js';
import { linear } from '../engine/ops/linear.js';
import { rotaryAngles, type RotaryAngles } from '../engine/ops/qk_transform.js';
import type { Rng } from '../engine/random.js';
import { noGrad } from '../engine/autograd.js';
import { intTensor, tidy, untracked as keepOutside, type Tensor } from '../engine/tensor.js';
import type { AttentionObserver } from '../nn/attention.js';
import { Block, type BlockStyle, type LectureAblation, type ModernBlockOptions } from '../nn/block.js';
import { ACTIVATIONS, type Activation, Embedding, Linear, ModuleList, type Norm, normModule } from '../nn/layers.js';
import { Module } from '../nn/module.js';
import type { Decoder, DecoderOptions, HiddenPoint, PastContext } from './decoder.js';
import { GPTDecoder } from './gpt_decoder.js';
import type { LanguageModel } from './language_model.js';

export interface GPTConfig extends LectureAblation, ModernOptions {
  kind: 'gpt';
  style: BlockStyle;
  vocabSize: number;
  blockSize: number;
  nLayer: number;
  nHead: number;
  nEmbd: number;
  dropout: number;
  /** Biases in Linear layers and LayerNorms (never in the lecture's per-head key/query/value). */
  bias: boolean;
  /**
   * The feed-forward's non-linearity. Absent: the form's own from before the choice existed, ReLU for the
   * lecture and GELU's tanh form for nanoGPT (see activationOf in nn/block.ts), so old run folders load as
   * they were trained. New runs record it.
   */
  activation?: Activation;
}

/** The nanoGPT form's options from after 2017 (issue 15), each off when absent. */
export interface ModernOptions extends ModernBlockOptions {
  /** Rotary position embeddings (RoFormer) in every attention, instead of the learned ones: no transformer.wpe. */
  rotary?: boolean;
  /** An output head of its own, lm_head.weight [vocab, n_embd] without a bias, instead of the token embedding. */
  untiedHead?: boolean;
  /** logits = cap tanh(logits / cap) (Gemma 2, modded-nanogpt's 30); absent or 0: no cap. */
  logitSoftcap?: number;
}

/** The transformer trunk of the nanoGPT form, so names come out as "transformer.wte.weight". */
class Transformer extends Module {
  constructor(
    readonly wte: Embedding,
    readonly wpe: Embedding | null,
    readonly h: ModuleList<Block>,
    readonly ln_f: Norm,
  ) {
    super();
    this.registerModule('wte', wte);
    if (wpe !== null) this.registerModule('wpe', wpe);
    this.registerModule('h', h);
    this.registerModule('ln_f', ln_f);
  }
}

export class GPT extends Module implements LanguageModel {
  readonly tokenEmbedding: Embedding;
  /** The learned position embeddings; null with rotary embeddings, which turn queries and keys instead. */
  readonly positionEmbedding: Embedding | null;
  /** The rotary angle tables for positions 0 .. blockSize - 1, or null. */
  readonly rotary: RotaryAngles | null;
  readonly blocks: ModuleList<Block>;
  readonly lnF: Norm | null;
  /** The output head: its own Linear in the lecture form (and the untied nanoGPT form); else the token embedding, reused. */
  readonly lmHead: Linear | null;
  /** With rotary embeddings, sampling rolls its cache past the block size by default (see PastContext); else it crops. */
  readonly pastContexts: readonly PastContext[];
  private readonly positions = new Map<number, Tensor>();

  constructor(
    readonly config: GPTConfig,
    private readonly rng: Rng,
  ) {
    super();
    validateGPTConfig(config);
    const { style, vocabSize, blockSize, nEmbd, bias, init } = config;
    this.tokenEmbedding = new Embedding(vocabSize, nEmbd, rng, { init });
    this.rotary = config.rotary === true ? keepOutside(() => rotaryAngles(blockSize, nEmbd / config.nHead)) : null;
    this.positionEmbedding = this.rotary === null ? new Embedding(blockSize, nEmbd, rng, { init }) : null;
    this.pastContexts = this.rotary === null ? ['crop'] : ['roll', 'crop'];
    this.blocks = new ModuleList(Array.from({ length: config.nLayer }, () => new Block(config, rng, this.rotary)));
    this.lnF = (config.layerNorm ?? true) ? normModule(config.norm, nEmbd, bias) : null;
    if (style === 'nanogpt') {
      this.registerModule('transformer', new Transformer(this.tokenEmbedding, this.positionEmbedding, this.blocks, this.lnF!));
      this.lmHead = config.untiedHead === true ? this.registerModule('lm_head', new Linear(nEmbd, vocabSize, rng, { bias: false })) : null;
    } else {
      this.registerModule('token_embedding_table', this.tokenEmbedding);
      this.registerModule('position_embedding_table', this.positionEmbedding!);
      this.registerModule('blocks', this.blocks);
      if (this.lnF !== null) this.registerModule('ln_f', this.lnF);
      this.lmHead = this.registerModule('lm_head', new Linear(nEmbd, vocabSize, rng, { bias, init }));
    }
  }

  get vocabSize(): number {
    return this.config.vocabSize;
  }

  get blockSize(): number {
    return this.config.blockSize;
  }

  /**
   * Parameter count as nanoGPT reports it: the position embedding is not counted (it is a lookup, not
   * computation), and the tied lm_head is counted once, as the token embedding.
   */
  numNonEmbeddingParameters(): number {
    return this.numParameters() - (this.positionEmbedding?.weight.size ?? 0);
  }

  /** Calls fn(layer, weights) with every block's attention weights [B, nh, T, T] during forwards; null stops. */
  observeAttention(fn: ((layer: number, weights: Tensor) => void) | null): void {
    this.blocks.items.forEach((block, layer) => {
      const observer: AttentionObserver | null = fn === null ? null : (w) => fn(layer, w);
      block.observer = observer;
    });
  }

  /**
   * The causal attention weights of every layer and head for one sequence of token ids (at most blockSize):
   * maps[layer][head] is a T x T row-major matrix whose row t holds how much position t attends to each
   * position s <= t (rows sum to 1). Runs one forward pass in eval mode, without gradients.
   */
  attentionMaps(ids: ArrayLike<number>): Float32Array[][] {
    const T = ids.length;
    const maps: Float32Array[][] = this.blocks.items.map(() => []);
    const wasTraining = this.training;
    this.eval();
    this.observeAttention((layer, w) => {
      // [B=1, nh, T, T]: the lecture's heads report one at a time (nh = 1), nanoGPT's all at once.
      const [, nh] = w.shape as [number, number, number, number];
      for (let h = 0; h < nh; h++) maps[layer]!.push(w.data.slice(h * T * T, (h + 1) * T * T));
    });
    try {
      tidy(() => noGrad(() => void this.forward(intTensor(ids, [1, T]))));
    } finally {
      this.observeAttention(null);
      this.train(wasTraining);
    }
    return maps;
  }

  forward(idx: Tensor, targets?: Tensor): { logits: Tensor; loss: Tensor | null } {
    const T = this.sequenceLength(idx, 'GPT.forward');
    let x = dropout(this.embed(idx, T), this.config.dropout, this.rng, this.training);
    for (const block of this.blocks.items) x = block.forward(x);
    const logits = this.head(x);
    return { logits, loss: targets === undefined ? null : crossEntropy(logits, targets) };
  }

  /**
   * forward()'s logits in eval mode with the hidden state at `point` (see HiddenPoint) for every position,
   * [B, T, nEmbd]: what a memory stores as keys. The decoder's hidden() is the last position's row of it, bit
   * for bit, so the queries sampling makes meet keys made the same way. Call it without gradients, in a tidy().
   */
  forwardHidden(idx: Tensor, point: HiddenPoint): { logits: Tensor; hidden: Tensor } {
    if (this.training) throw new Error('GPT.forwardHidden runs in eval mode: call model.eval() first');
    const T = this.sequenceLength(idx, 'GPT.forwardHidden');
    let x = this.embed(idx, T);
    let hidden: Tensor | null = null;
    const blocks = this.blocks.items;
    blocks.forEach((block, layer) => {
      const last = layer === blocks.length - 1;
      x = block.forward(x, last && point === 'ffn_input' ? (h) => void (hidden = h) : undefined);
    });
    if (point === 'block_output') hidden = x;
    const normed = this.lnF === null ? x : this.lnF.forward(x);
    if (point === 'head_input') hidden = normed;
    return { logits: this.output(normed), hidden: hidden! };
  }

  /** T of ids [B, T], checked against the block size. */
  private sequenceLength(idx: Tensor, what: string): number {
    const T = idx.shape[idx.shape.length - 1]!;
    if (idx.shape.length !== 2) throw new RangeError(`${what}: ids must be [B, T], got [${idx.shape}]`);
    if (T > this.config.blockSize) {
      throw new RangeError(`cannot forward a sequence of length ${T}: block size is only ${this.config.blockSize}`);
    }
    return T;
  }

  /** Token embeddings [B, T, C] plus the position embeddings of 0 .. T - 1 (broadcast over B), if learned. */
  private embed(idx: Tensor, T: number): Tensor {
    const tokens = this.tokenEmbedding.forward(idx);
    return this.positionEmbedding === null ? tokens : add(tokens, this.positionEmbedding.forward(this.positionIds(T)));
  }

  /** The final LayerNorm and the output head: logits. */
  private head(x: Tensor): Tensor {
    return this.output(this.lnF === null ? x : this.lnF.forward(x));
  }

  /** The output head on the final LayerNorm's output: its own Linear, or the token embedding reused (tied); then the soft-cap, if any. */
  private output(normed: Tensor): Tensor {
    const logits = this.lmHead !== null ? this.lmHead.forward(normed) : linear(normed, this.tokenEmbedding.weight);
    const cap = this.config.logitSoftcap ?? 0;
    return cap > 0 ? softcap(logits, cap) : logits;
  }

  /** A decoder for sampling (see GPTDecoder): the key/value cache, one position a token (with rotary embeddings, past the block size too). */
  decoder(batch: number, opts?: DecoderOptions): Decoder {
    return new GPTDecoder(this, batch, opts);
  }

  /** 0..T-1 as an id tensor, made once per length and kept with the model. */
  private positionIds(T: number): Tensor {
    let ids = this.positions.get(T);
    if (ids === undefined) {
      ids = keepOutside(() => intTensor(Array.from({ length: T }, (_, i) => i)));
      this.positions.set(T, ids);
    }
    return ids;
  }

  override dispose(): void {
    super.dispose();
    for (const ids of this.positions.values()) ids.dispose();
    this.positions.clear();
    this.rotary?.cos.dispose();
    this.rotary?.sin.dispose();
  }
}

/**
 * The heads split the embedding evenly (each gets n_embd / n_head of it): null when they do, else what is
 * wrong, with the two sizes called by `names`, so that a flag, a config file and the constructor each say it
 * in their own words.
 */
export function headSplitProblem(c: { nEmbd: number; nHead: number }, names = { nEmbd: 'n_embd', nHead: 'n_head' }): string | null {
  return c.nEmbd % c.nHead === 0 ? null : `${names.nEmbd} (${c.nEmbd}) must be divisible by ${names.nHead} (${c.nHead})`;
}

export function validateGPTConfig(c: GPTConfig): void {
  const positive = (name: string, v: number) => {
    if (!Number.isSafeInteger(v) || v < 1) throw new RangeError(`${name} must be a positive integer, got ${v}`);
  };
  positive('vocab_size', c.vocabSize);
  positive('block_size', c.blockSize);
  positive('n_layer', c.nLayer);
  positive('n_head', c.nHead);
  positive('n_embd', c.nEmbd);
  const split = headSplitProblem(c);
  if (split !== null) throw new RangeError(split);
  if (!(c.dropout >= 0 && c.dropout < 1)) throw new RangeError(`dropout must be in [0, 1), got ${c.dropout}`);
  if (c.style !== 'lecture' && c.style !== 'nanogpt') throw new RangeError(`unknown GPT style "${String(c.style)}"`);
  if (c.activation !== undefined && !ACTIVATIONS.includes(c.activation)) {
    throw new RangeError(`unknown activation "${String(c.activation)}" (tsgpt has ${ACTIVATIONS.join(', ')})`);
  }
  const ablated =
    c.residual === false ||
    c.layerNorm === false ||
    c.projection === false ||
    (c.feedForward !== undefined && c.feedForward !== 'mlp') ||
    c.init === 'torch';
  const modern =
    (c.activation ?? 'relu') !== 'relu' ||
    c.rotary === true ||
    c.qkNorm === true ||
    c.zeroInitProjections === true ||
    c.untiedHead === true ||
    c.norm !== undefined ||
    (c.logitSoftcap ?? 0) !== 0;
  if (c.style === 'lecture' && modern) {
    throw new RangeError(
      'activation, rotary, qkNorm, zeroInitProjections, untiedHead, logitSoftcap and norm apply to style "nanogpt" only',
    );
  }
  if (c.norm !== undefined && c.norm !== 'rmsnorm')
    throw new RangeError(`unknown norm "${String(c.norm)}" (absent: LayerNorm, or "rmsnorm")`);
  const cap = c.logitSoftcap ?? 0;
  if (!(Number.isFinite(cap) && cap >= 0)) throw new RangeError(`logit_softcap must be 0 (none) or positive, got ${cap}`);
  if (c.rotary === true && (c.nEmbd / c.nHead) % 2 !== 0) {
    throw new RangeError(`rotary embeddings need an even head size; n_embd / n_head is ${c.nEmbd / c.nHead}`);
  }
  if (c.style === 'nanogpt' && ablated) {
    throw new RangeError('the lecture\'s ablations (residual, layerNorm, projection, feedForward, init) apply to style "lecture" only');
  }
}
