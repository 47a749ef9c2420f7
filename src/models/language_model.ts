import type { Tensor } from '../engine/tensor.js';
import type { Module } from '../nn/module.js';
import type { Decoder, DecoderOptions, PastContext } from './decoder.js';

/** What training and sampling need from a model: next-token logits for every position, and the loss. */
export interface LanguageModel extends Module {
  readonly vocabSize: number;
  /** The longest context the model was trained on; past it, sampling crops or rolls (pastContexts). */
  readonly blockSize: number;
  /** What its decoders can do past the block size (see PastContext), the default first. */
  readonly pastContexts: readonly PastContext[];
  /**
   * idx: i32 [B, T] token ids, T <= blockSize. Returns logits [B, T, vocabSize] and, when targets (i32 [B, T],
   * -1 = ignore) are given, the mean cross-entropy loss as a one-element tensor.
   */
  forward(idx: Tensor, targets?: Tensor): { logits: Tensor; loss: Tensor | null };
  /**
   * A decoder for sampling `batch` sequences together: the next token's logits of a window at a time, as
   * forward() in eval mode gives them, computed only as far as they need. It may copy weights when it is
   * made: make another after changing them, and dispose() of it when done.
   */
  decoder(batch: number, opts?: DecoderOptions): Decoder;
}
