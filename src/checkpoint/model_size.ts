/**
 * How big a model config is, worked out from the config alone, before a single tensor is allocated: a
 * config.json from a stranger (or a typo in a flag) can name a model of many gigabytes, and building it first
 * and checking afterwards would already have run the process out of memory.
 *
 * Bounds rather than exact counts, so they stay true for every form of the GPT (nanoGPT's, the lecture's, the
 * lecture's ablated ladder) without repeating each module's layout here; the exact check is name by name and
 * shape by shape when weights are loaded into the built model.
 */
import type { ModelConfig } from '../models/index.js';

/**
 * The tensor arena is one WebAssembly.Memory of at most 4 GiB. Training holds four floats per parameter (the
 * value, its gradient and AdamW's two moments) besides the activations, so no trainable model can have more.
 */
export const ARENA_BYTES = 4 * 1024 ** 3;
export const MAX_PARAMETERS = Math.floor(ARENA_BYTES / 16);
/** How far trainingBytesEstimate can run above the truth (see there). */
export const TRAINING_ESTIMATE_SLACK = 1.4;

/** No form of the model has fewer parameters than this. */
export function parameterLowerBound(c: ModelConfig): number {
  if (c.kind === 'bigram') return c.vocabSize * c.vocabSize;
  const C = c.nEmbd;
  // Token and position embeddings, and in every block the query, key and value projections (3 C x C, whether
  // fused into one matrix or split into heads).
  return c.vocabSize * C + c.blockSize * C + c.nLayer * 3 * C * C;
}

/** No form of the model has more parameters than this. */
export function parameterUpperBound(c: ModelConfig): number {
  if (c.kind === 'bigram') return c.vocabSize * c.vocabSize;
  const C = c.nEmbd,
    V = c.vocabSize;
  // Embeddings, an untied head with its bias, a final LayerNorm; per block at most attention (4 C^2 + 4 C),
  // a 4x MLP (8 C^2 + 5 C) and two LayerNorms (4 C), rounded up.
  return 2 * V * C + V + c.blockSize * C + 2 * C + c.nLayer * (12 * C * C + 16 * C);
}

/**
 * A rough estimate of the arena bytes one training step needs: parameters with gradients and moments, plus
 * the activations the backward pass keeps (and their gradients) for a batch of B sequences of T tokens.
 * Measured against the arena after real steps it is 1.1 to 1.4 times too high (TRAINING_ESTIMATE_SLACK), so
 * a configuration is refused only when even the estimate divided by that does not fit.
 */
export function trainingBytesEstimate(c: ModelConfig, batchSize: number): number {
  const params = parameterUpperBound(c);
  const tokens = batchSize * c.blockSize;
  let perToken: number;
  if (c.kind === 'bigram') {
    perToken = 4 * c.vocabSize;
  } else {
    // Per block: about 24 vectors of width C (norms, q/k/v, projections, the 4x MLP and its activation,
    // residuals, dropout masks) and, per head, a row of T attention weights before and after dropout.
    perToken = c.nLayer * (24 * c.nEmbd + 2 * c.nHead * c.blockSize) + 4 * c.vocabSize + 4 * c.nEmbd;
  }
  // Forward values and their gradients.
  return 4 * (4 * params + 2 * tokens * perToken);
}
