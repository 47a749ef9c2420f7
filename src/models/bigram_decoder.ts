/**
 * The bigram model's decoder: the next token's logits are the table's row of the window's last token, which
 * is all forward() computes for that position, so there is nothing to cache. Its hidden state is that row
 * too, whatever the point asked for: the model has no other.
 */
import type { Tensor } from '../engine/tensor.js';
import { choosePastContext, type Decoder, type DecoderOptions, noHiddenState, type PastContext, windowLength } from './decoder.js';

export class BigramDecoder implements Decoder {
  readonly vocabSize: number;
  readonly hiddenSize: number;
  readonly pastContext: PastContext;
  readonly maxContext: number;
  private readonly logits: Float32Array;
  private readonly keepHidden: boolean;

  constructor(
    private readonly table: Tensor,
    readonly batch: number,
    private readonly blockSize: number,
    opts: DecoderOptions = {},
  ) {
    if (!Number.isSafeInteger(batch) || batch < 1) throw new RangeError(`decoder: batch must be a positive integer, got ${batch}`);
    this.vocabSize = this.hiddenSize = table.shape[0]!;
    this.logits = new Float32Array(batch * this.vocabSize);
    this.keepHidden = opts.hidden !== undefined;
    this.pastContext = choosePastContext(opts, ['crop']);
    this.maxContext = blockSize;
  }

  step(windows: readonly ArrayLike<number>[]): Float32Array {
    const T = windowLength(windows, this.batch, this.blockSize, this.vocabSize),
      V = this.vocabSize,
      rows = this.table.data;
    windows.forEach((w, b) => this.logits.set(rows.subarray(w[T - 1]! * V, (w[T - 1]! + 1) * V), b * V));
    return this.logits;
  }

  hidden(): Float32Array {
    return this.keepHidden ? this.logits : noHiddenState();
  }

  reset(): void {}

  dispose(): void {}
}
