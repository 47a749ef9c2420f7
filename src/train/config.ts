import type { ModernOptions } from '../models/gpt.js';
import type { ModelConfig, ModelKind } from '../models/index.js';
import type { Activation } from '../nn/layers.js';

/**
 * Everything a run is made of, one flat object named after nanoGPT's config (train.py's globals) in
 * camelCase; the CLI's flags are the same names in kebab-case. Presets fill it; flags override fields.
 */
export interface RunConfig {
  /**
   * 'bigram': the lecture's bigram table; 'gpt': a transformer. The same field as ModelConfig's `kind`; the
   * flag is --model, and run folders written before the rename call it `model` in config.json's run section.
   */
  kind: ModelKind;
  /** For model 'gpt': 'nanogpt' (GELU, fused qkv, tied head) or 'lecture' (gpt.py's modules). */
  style: 'nanogpt' | 'lecture';
  /**
   * The feed-forward's non-linearity: 'gelu' (exact, nanoGPT's model.py), 'gelu_tanh' (GPT-2's), 'relu2' (ReLU
   * squared, modded-nanogpt's) or 'relu' (the lecture's, which its form always uses). A run folder written before the choice existed records none: it was trained with its style's
   * old form (gelu_tanh for nanogpt, relu for lecture), which is what reading it gives.
   */
  activation: Activation;
  nLayer: number;
  nHead: number;
  nEmbd: number;
  dropout: number;
  bias: boolean;
  /**
   * Issue 15's options of the nanoGPT form (ModernOptions in models/gpt.ts), off in every preset: rotary position
   * embeddings, QK-norm, zero-initialised residual projections, an untied head, a logit soft-cap (0: none). Run
   * folders from before they existed record none, which means off.
   */
  rotary: boolean;
  qkNorm: boolean;
  zeroInitProjections: boolean;
  untiedHead: boolean;
  logitSoftcap: number;
  /**
   * The blocks' and the final norm (ln_1, ln_2, ln_f): 'layernorm' (nanoGPT's, with gains and optional biases) or
   * 'rmsnorm' (modded-nanogpt's F.rms_norm: no gain, no bias, float32's epsilon; nanogpt form only). Run folders
   * from before the choice record none, which means LayerNorm.
   */
  norm: NormKind;
  blockSize: number;
  batchSize: number;
  maxIters: number;
  evalInterval: number;
  evalIters: number;
  learningRate: number;
  /** Cosine decay with warm-up when true; a constant learning rate when false (the lecture). */
  decayLr: boolean;
  minLr: number;
  warmupIters: number;
  lrDecayIters: number;
  weightDecay: number;
  beta1: number;
  beta2: number;
  /** Clip the global gradient norm to this; 0 turns clipping off. */
  gradClip: number;
  /**
   * 'adamw': AdamW on every parameter (nanoGPT). 'muon': Muon on the blocks' 2-D hidden weights (attention's and
   * the MLP's matrices), AdamW on the rest (embeddings, head, gains, biases), as modded-nanogpt's speedrun splits
   * them; see optimizerGroups in optimizer_groups.ts. Run folders from before the choice record none: AdamW.
   */
  optimizer: OptimizerKind;
  /**
   * Muon's peak learning rate, scaled by the schedule exactly as learningRate is (the same factor each step).
   * 0.02 and momentum 0.95 are the defaults of Keller Jordan's Muon package (github.com/KellerJordan/Muon), which
   * its README gives for the hidden matrices of a GPT beside AdamW at a nanoGPT-like rate; Muon's update has a
   * spectral norm near lr whatever the gradient's size, so the rate does not need retuning with the width.
   */
  muonLr: number;
  muonMomentum: number;
  gradientAccumulationSteps: number;
  seed: number;
}

export type OptimizerKind = 'adamw' | 'muon';
export const OPTIMIZER_KINDS: readonly OptimizerKind[] = ['adamw', 'muon'];
export type NormKind = 'layernorm' | 'rmsnorm';
export const NORM_KINDS: readonly NormKind[] = ['layernorm', 'rmsnorm'];

const common = {
  rotary: false,
  qkNorm: false,
  zeroInitProjections: false,
  untiedHead: false,
  logitSoftcap: 0,
  norm: 'layernorm' as NormKind,
  optimizer: 'adamw' as OptimizerKind,
  muonLr: 0.02,
  muonMomentum: 0.95,
  beta1: 0.9,
  seed: 1337,
  gradientAccumulationSteps: 1,
};

/** nanoGPT's CPU run of train_shakespeare_char.py (its README's command line); `fast` starts from it too. */
const BABY: RunConfig = {
  ...common,
  kind: 'gpt',
  style: 'nanogpt',
  // nanoGPT's model.py: nn.GELU(), the exact form (tsgpt's baby runs used the tanh form before: --activation gelu_tanh).
  activation: 'gelu',
  nLayer: 4,
  nHead: 4,
  nEmbd: 128,
  dropout: 0,
  bias: false,
  blockSize: 64,
  batchSize: 12,
  maxIters: 2000,
  evalInterval: 250,
  evalIters: 20,
  learningRate: 1e-3,
  decayLr: true,
  minLr: 1e-4,
  warmupIters: 100,
  lrDecayIters: 2000,
  weightDecay: 0.1,
  beta2: 0.99,
  gradClip: 1,
};

/**
 * bigram: the lecture's bigram.py. baby: nanoGPT's CPU run of train_shakespeare_char.py (its README's
 * command line). lecture: the lecture's final gpt.py. The lecture's scripts use torch.optim.AdamW's defaults
 * (weight decay 0.01, beta2 0.999), a constant learning rate and no clipping.
 */
export const PRESETS: Record<'bigram' | 'baby' | 'fast' | 'lecture' | 'finetune', RunConfig> = {
  bigram: {
    ...common,
    kind: 'bigram',
    style: 'lecture',
    activation: 'relu',
    nLayer: 0,
    nHead: 0,
    nEmbd: 0,
    dropout: 0,
    bias: true,
    blockSize: 8,
    batchSize: 32,
    maxIters: 3000,
    evalInterval: 300,
    evalIters: 200,
    learningRate: 1e-2,
    decayLr: false,
    minLr: 1e-2,
    warmupIters: 0,
    lrDecayIters: 3000,
    weightDecay: 0.01,
    beta2: 0.999,
    gradClip: 0,
  },
  baby: BABY,
  // baby's model and batch with today's small-GPT recipe (issue 15), tuned to reach validation loss 1.88 soonest
  // on a CPU: rotary embeddings, ReLU squared, QK-norm, zero-initialised projections, and Muon for the blocks'
  // matrices (AdamW at 2e-3 for the rest), over a schedule of 400 steps. Chosen by validation loss against steps at
  // seed 1337, evaluations every 100 steps (README, "The fast preset"): with these, 1000 steps of AdamW reached
  // 1.827 where baby's 1000 reached 2.098; AdamW at 4e-3 did worse (1.840), an untied head too (1.850 at 4e-3);
  // 700 steps of AdamW at 2e-3 ended at 1.899, Muon's at 1.767 (1.881 at step 400); Muon over 400 steps ends at
  // 1.848, past 1.88 at step 300. Muon's Newton-Schulz steps add about 38% to a step's arithmetic at this width,
  // which its faster descent repays. The untied head and the soft-cap are left out: at this scale they did not help.
  fast: {
    ...BABY,
    activation: 'relu2',
    rotary: true,
    qkNorm: true,
    zeroInitProjections: true,
    optimizer: 'muon',
    maxIters: 400,
    evalInterval: 100,
    learningRate: 2e-3,
    warmupIters: 50,
    lrDecayIters: 400,
  },
  // The lecture's batch of 64 runs as 2 micro-batches of 32: the same 64 windows (batches are drawn one after
  // another) and the same gradient of their mean loss, in half the memory. 64 windows of 256 at width 384
  // keep about 4.7 GB of activations alive at once, beyond WebAssembly's 4 GB address space.
  lecture: {
    ...common,
    kind: 'gpt',
    style: 'lecture',
    activation: 'relu',
    nLayer: 6,
    nHead: 6,
    nEmbd: 384,
    dropout: 0.2,
    bias: true,
    blockSize: 256,
    batchSize: 32,
    gradientAccumulationSteps: 2,
    maxIters: 5000,
    evalInterval: 500,
    evalIters: 200,
    learningRate: 3e-4,
    decayLr: false,
    minLr: 3e-4,
    warmupIters: 0,
    lrDecayIters: 5000,
    weightDecay: 0.01,
    beta2: 0.999,
    gradClip: 0,
  },
  // nanoGPT's config/finetune_shakespeare.py over train.py's defaults, from gpt2 rather than its gpt2-xl (which
  // cannot fit here): 32,768 tokens a step, 20 steps at a constant 3e-5, an evaluation every 5 steps over 40
  // batches, weight decay 0.1, beta2 0.95, clipping at 1. Its windows of 1024 tokens do not fit: gpt2's weights,
  // gradients and AdamW's moments take 2 GB of the 4 GB WebAssembly arena, and a window of 1024 keeps about 4 GB
  // of activations for the backward pass. So the context is cropped to 256 (as nanoGPT's crop_block_size
  // does when block_size is smaller) and 128 windows are accumulated instead of 32: the same tokens a step.
  // The model fields are gpt2's; --init-from replaces them with the checkpoint's own, and the preset trains
  // nothing without it.
  finetune: {
    ...common,
    kind: 'gpt',
    style: 'nanogpt',
    activation: 'gelu_tanh',
    nLayer: 12,
    nHead: 12,
    nEmbd: 768,
    dropout: 0,
    bias: true,
    blockSize: 256,
    batchSize: 1,
    gradientAccumulationSteps: 128,
    maxIters: 20,
    evalInterval: 5,
    evalIters: 40,
    learningRate: 3e-5,
    decayLr: false,
    minLr: 3e-5,
    warmupIters: 0,
    lrDecayIters: 20,
    weightDecay: 0.1,
    beta2: 0.95,
    gradClip: 1,
  },
};

export type PresetName = keyof typeof PRESETS;

export function isPresetName(name: string): name is PresetName {
  return Object.hasOwn(PRESETS, name);
}

/** The model a run config describes, for a vocabulary of the given size. */
export function modelConfigFor(config: RunConfig, vocabSize: number): ModelConfig {
  if (config.kind === 'bigram') return { kind: 'bigram', vocabSize, blockSize: config.blockSize };
  const { style, blockSize, nLayer, nHead, nEmbd, dropout, bias } = config;
  // The lecture's form is ReLU whatever the field says (a config spread from the baby preset names a GELU).
  const activation = style === 'lecture' ? 'relu' : config.activation;
  return { kind: 'gpt', style, activation, vocabSize, blockSize, nLayer, nHead, nEmbd, dropout, bias, ...modernOptionsOf(config) };
}

/** The activation each GPT form has when none is named: the lecture's ReLU, nanoGPT's model.py's exact GELU. */
export function ownActivation(style: 'nanogpt' | 'lecture'): Activation {
  return style === 'nanogpt' ? 'gelu' : 'relu';
}

/**
 * The options of issue 15 that a run turns on, and only those, so a model without any is described as before.
 * Of the activations only ReLU squared counts: GELU in either form is nanoGPT's and GPT-2's own.
 */
export function modernOptionsOf(config: RunConfig): ModernOptions {
  const on: ModernOptions = {};
  if (config.rotary) on.rotary = true;
  if (config.qkNorm) on.qkNorm = true;
  if (config.style === 'nanogpt' && config.activation === 'relu2') on.activation = 'relu2';
  if (config.zeroInitProjections) on.zeroInitProjections = true;
  if (config.untiedHead) on.untiedHead = true;
  if (config.logitSoftcap > 0) on.logitSoftcap = config.logitSoftcap;
  if (config.norm === 'rmsnorm') on.norm = 'rmsnorm';
  return on;
}
