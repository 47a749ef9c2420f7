/**
 * The lecture's ladder: each stage adds one idea to the model and the validation loss drops. Every stage is
 * the library's own modules, configured (GPT in the lecture form with parts of the block switched off), and
 * trained with the lecture's settings for that chapter: batch 32, context 8, width 32, AdamW at 1e-3 for
 * 5000 steps (the bigram: 1e-2 for 3000), evaluated over 200 batches every 500 steps. Early chapters run
 * with PyTorch's default initialisation, as the lecture's code did then.
 */
import type { ModelConfig } from '../models/index.js';
import type { GPTConfig } from '../models/gpt.js';
import { PRESETS, type RunConfig } from './config.js';

export interface LadderStage {
  name: string;
  /** What this stage adds over the one before. */
  adds: string;
  run: RunConfig;
  model(vocabSize: number): ModelConfig;
}

/** The chapter's training settings (the lecture's v2.py at the top of the file). */
const CHAPTER: RunConfig = {
  ...PRESETS.lecture,
  nLayer: 1,
  nHead: 1,
  nEmbd: 32,
  dropout: 0,
  bias: true,
  blockSize: 8,
  batchSize: 32,
  gradientAccumulationSteps: 1,
  maxIters: 5000,
  evalInterval: 500,
  evalIters: 200,
  learningRate: 1e-3,
  decayLr: false,
  minLr: 1e-3,
  warmupIters: 0,
  lrDecayIters: 5000,
  weightDecay: 0.01,
  beta2: 0.999,
  gradClip: 0,
};

function gpt(run: RunConfig, vocabSize: number, parts: Partial<GPTConfig>): GPTConfig {
  return {
    kind: 'gpt',
    style: 'lecture',
    vocabSize,
    blockSize: run.blockSize,
    nLayer: run.nLayer,
    nHead: run.nHead,
    nEmbd: run.nEmbd,
    dropout: run.dropout,
    bias: run.bias,
    init: 'torch',
    ...parts,
  };
}

/** A single attention layer straight into the output head: no residual, no LayerNorm, no projection. */
const bare = { residual: false, layerNorm: false, projection: false, feedForward: 'none' } as const;

export const LADDER: readonly LadderStage[] = [
  {
    name: 'bigram',
    adds: 'next-character logits read off a table',
    run: { ...CHAPTER, kind: 'bigram', learningRate: 1e-2, minLr: 1e-2, maxIters: 3000, lrDecayIters: 3000 },
    model: (vocabSize) => ({ kind: 'bigram', vocabSize, blockSize: 8 }),
  },
  {
    name: 'one_head',
    adds: 'one self-attention head (size 32), position embeddings',
    run: CHAPTER,
    model(vocabSize) {
      return gpt(this.run, vocabSize, bare);
    },
  },
  {
    name: 'four_heads',
    adds: 'four heads of size 8, concatenated',
    run: { ...CHAPTER, nHead: 4 },
    model(vocabSize) {
      return gpt(this.run, vocabSize, bare);
    },
  },
  {
    name: 'feed_forward',
    adds: 'a feed-forward layer (Linear + ReLU) after attention',
    run: { ...CHAPTER, nHead: 4 },
    model(vocabSize) {
      return gpt(this.run, vocabSize, { ...bare, feedForward: 'linear' });
    },
  },
  {
    name: 'residual_blocks',
    adds: '3 residual blocks, attention projection, 4x feed-forward',
    run: { ...CHAPTER, nHead: 4, nLayer: 3 },
    model(vocabSize) {
      return gpt(this.run, vocabSize, { layerNorm: false });
    },
  },
  {
    name: 'layer_norm',
    adds: 'pre-norm LayerNorm in each block and before the head',
    run: { ...CHAPTER, nHead: 4, nLayer: 3 },
    model(vocabSize) {
      return gpt(this.run, vocabSize, {});
    },
  },
];

/** The last rung, the lecture's final model (hours on a CPU): only on request. */
export const LECTURE_STAGE: LadderStage = {
  name: 'lecture',
  adds: 'scaled up: 6 layers, 6 heads, width 384, context 256, dropout 0.2',
  run: PRESETS.lecture,
  model: (vocabSize) => {
    const r = PRESETS.lecture;
    return {
      kind: 'gpt',
      style: 'lecture',
      vocabSize,
      blockSize: r.blockSize,
      nLayer: r.nLayer,
      nHead: r.nHead,
      nEmbd: r.nEmbd,
      dropout: r.dropout,
      bias: r.bias,
    };
  },
};
