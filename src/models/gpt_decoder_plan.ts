/**
 * What a GPT decoder runs for each block, read off the block's modules once: the products as DecoderLinears
 * (with their copies packed for one-row products), the LayerNorms, and which of the lecture's parts are
 * there. Both GPT forms and every stage of the lecture's ladder map onto it; a module it does not know is
 * refused when the decoder is made, not met half-way through a step.
 */
import type { RotaryAngles } from '../engine/ops/qk_transform.js';
import { CausalSelfAttention } from '../nn/attention.js';
import type { Block } from '../nn/block.js';
import { MLP } from '../nn/feedforward.js';
import { type Activation, Dropout, GELU, Linear, type Norm, ReLU, ReLU2 } from '../nn/layers.js';
import { DecoderLinear } from './decoder_linear.js';

/**
 * nanoGPT's fused attention: one product makes q, k and v of every head, side by side in each row; then, as
 * the module does, QK-norm and rotary embeddings of the queries and keys, if it has them.
 */
export interface FusedAttention {
  kind: 'fused';
  c_attn: DecoderLinear;
  nHead: number;
  qkNorm: boolean;
  rotary: RotaryAngles | null;
}

/** The lecture's heads: each its own key, query and value products, attending on its own. */
export interface SeparateHeads {
  kind: 'heads';
  heads: { key: DecoderLinear; query: DecoderLinear; value: DecoderLinear }[];
}

/** Linear, activation, and (but in the lecture's one-layer form) a projection back to the width. */
export interface FeedForwardPlan {
  fc: DecoderLinear;
  activation: Activation;
  proj: DecoderLinear | null;
}

export interface LayerPlan {
  ln1: Norm | null;
  attention: FusedAttention | SeparateHeads;
  /** The output projection after the heads (none in the lecture's ladder before it adds one). */
  proj: DecoderLinear | null;
  ln2: Norm | null;
  feedForward: FeedForwardPlan | null;
  residual: boolean;
}

/** The plans of a GPT's blocks; `fewRows` as DecoderLinear's. Every block is checked before any copy is made. */
export function layerPlans(blocks: readonly Block[], fewRows: boolean): LayerPlan[] {
  const feedForwards = blocks.map(feedForwardParts);
  return blocks.map((block, i) => layerPlan(block, feedForwards[i]!, fewRows));
}

function layerPlan(block: Block, ff: FeedForwardParts | null, fewRows: boolean): LayerPlan {
  const linear = (m: Linear) => new DecoderLinear(m.weight, m.bias, fewRows);
  const attn = block.attn;
  const fused = attn instanceof CausalSelfAttention;
  return {
    ln1: block.ln1,
    attention: fused
      ? { kind: 'fused', c_attn: linear(attn.c_attn), nHead: attn.nHead, qkNorm: attn.qkNorm, rotary: attn.rotary }
      : { kind: 'heads', heads: attn.heads.items.map((h) => ({ key: linear(h.key), query: linear(h.query), value: linear(h.value) })) },
    proj: fused ? linear(attn.c_proj) : attn.proj === null ? null : linear(attn.proj),
    ln2: block.ln2,
    feedForward: ff === null ? null : { fc: linear(ff.fc), activation: ff.activation, proj: ff.proj === null ? null : linear(ff.proj) },
    residual: block.residual,
  };
}

interface FeedForwardParts {
  fc: Linear;
  activation: Activation;
  proj: Linear | null;
}

/** The feed-forward's modules, checked. */
function feedForwardParts(block: Block): FeedForwardParts | null {
  const mlp = block.mlp;
  if (mlp === null) return null;
  if (mlp instanceof MLP) return { fc: mlp.c_fc, activation: activationName(mlp.activation), proj: mlp.c_proj };
  // The lecture's Sequential: Linear, ReLU, then Linear and Dropout (the identity when sampling), or neither.
  const [fc, activation, proj, ...rest] = mlp.net.layers.filter((l) => !(l instanceof Dropout));
  const known =
    fc instanceof Linear && (activation instanceof ReLU || activation instanceof GELU) && (proj === undefined || proj instanceof Linear);
  if (!known || rest.length > 0) throw new Error('GPT decoder: a feed-forward other than Linear, ReLU or GELU, optional Linear');
  return { fc, activation: activationName(activation as ReLU | GELU), proj: (proj as Linear | undefined) ?? null };
}

function activationName(m: ReLU | GELU | ReLU2): Activation {
  return m instanceof ReLU ? 'relu' : m instanceof ReLU2 ? 'relu2' : m.approximate === 'tanh' ? 'gelu_tanh' : 'gelu';
}

/** Every DecoderLinear of a plan, to dispose of their copies. */
export function planLinears(plan: LayerPlan): DecoderLinear[] {
  const a = plan.attention;
  const attention = a.kind === 'fused' ? [a.c_attn] : a.heads.flatMap((h) => [h.key, h.query, h.value]);
  const ff = plan.feedForward;
  return [...attention, plan.proj, ff?.fc ?? null, ff?.proj ?? null].filter((l): l is DecoderLinear => l !== null);
}
