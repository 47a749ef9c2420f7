/**
 * The key/value cache of one attention module: keys and values [B, Tmax, width] of every position seen so
 * far. The lecture's heads each keep their own (width = head size); nanoGPT's fused attention keeps one for
 * all heads (width = n_embd). Lives outside every tidy scope until disposed.
 */
import { untracked, zeros, type Tensor } from '../engine/tensor.js';

export class KVSlot {
  readonly k: Tensor;
  readonly v: Tensor;

  constructor(batch: number, maxLength: number, width: number) {
    [this.k, this.v] = untracked(() => [zeros([batch, maxLength, width]), zeros([batch, maxLength, width])]);
  }

  dispose(): void {
    this.k.dispose();
    this.v.dispose();
  }
}

/** A model's cache: one slot per attention module, in forward order, and how many positions it holds. */
export class KVCache {
  /** Positions filled: the next token goes at this position. */
  length = 0;

  constructor(
    readonly batch: number,
    readonly maxLength: number,
    readonly slots: KVSlot[][],
  ) {}

  dispose(): void {
    for (const layer of this.slots) for (const s of layer) s.dispose();
  }
}
