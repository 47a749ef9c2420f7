import type { Tensor } from '../engine/tensor.js';
import type { KVCache } from '../nn/kv_cache.js';
import type { Module } from '../nn/module.js';

/** What training and sampling need from a model: next-token logits for every position, and the loss. */
export interface LanguageModel extends Module {
  readonly vocabSize: number;
  /** The longest context the model reads; sampling crops to it. */
  readonly blockSize: number;
  /**
   * idx: i32 [B, T] token ids, T <= blockSize. Returns logits [B, T, vocabSize] and, when targets (i32 [B, T],
   * -1 = ignore) are given, the mean cross-entropy loss as a one-element tensor.
   */
  forward(idx: Tensor, targets?: Tensor): { logits: Tensor; loss: Tensor | null };
}

/** A model that can sample with a key/value cache (GPT; the bigram model has nothing to cache). */
export interface CachedLanguageModel extends LanguageModel {
  createKVCache(batch: number): KVCache;
  forwardCached(idx: Tensor, cache: KVCache): Tensor;
}

export function supportsKVCache(model: LanguageModel): model is CachedLanguageModel {
  const m = model as unknown as Record<string, unknown>;
  return typeof m.createKVCache === 'function' && typeof m.forwardCached === 'function';
}
