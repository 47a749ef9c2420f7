/**
 * Floating-point operations of one training step, counted the way the kernels do the work: every matmul is
 * 2MNK in the forward and twice that in the backward (input and weight gradients); causal attention scores
 * and weighted sums cover the T(T+1)/2 query-key pairs that are computed. Element-wise work is left out:
 * it is a few percent and memory-bound, so it would flatter the figure.
 */
import type { ModelConfig } from '../models/index.js';

export function trainingStepFlops(model: ModelConfig, batchSize: number, blockSize: number): number {
  return 3 * forwardFlops(model, batchSize, blockSize);
}

export function forwardFlops(model: ModelConfig, batchSize: number, T: number): number {
  if (model.kind === 'bigram') return 0;
  const M = batchSize * T,
    C = model.nEmbd,
    V = model.vocabSize,
    L = model.nLayer;
  const ffn = model.feedForward ?? 'mlp';
  const perLayer =
    2 * M * C * 3 * C + // q, k, v projections
    (model.projection === false ? 0 : 2 * M * C * C) + // attention output projection
    (ffn === 'mlp' ? 2 * 2 * M * C * 4 * C : ffn === 'linear' ? 2 * M * C * C : 0) +
    2 * 2 * batchSize * ((T * (T + 1)) / 2) * C; // scores q.k and the weighted sum of v, all heads
  return L * perLayer + 2 * M * C * V; // plus the output head
}
