/**
 * What sampling asks of a model: one object, made by model.decoder(batch), that turns the context of each
 * sequence into the next token's logits. It owns whatever makes that fast (a key/value cache, transposed
 * weights, buffers) and hides how it computes: its logits are always the last position's row of the model's
 * forward() over the same window, in eval mode, bit for bit.
 */

/**
 * Where a decoder reads the hidden state it hands out (decoder.hidden()), at the last position of the last
 * block, for a mixer that queries a memory with it:
 *  - 'ffn_input': what the last block's feed-forward reads, the output of its ln_2 (kNN-LM's choice);
 *  - 'block_output': the last block's output, the residual stream before the final LayerNorm;
 *  - 'head_input': the final LayerNorm's output, which the output head turns into logits.
 * A part a model leaves out (a block without ln_2, a GPT without ln_f) reads what would have gone through it.
 */
export type HiddenPoint = 'ffn_input' | 'block_output' | 'head_input';

export interface DecoderOptions {
  /** Keep the hidden state at this point for hidden() (default: none is kept, at no cost). */
  hidden?: HiddenPoint;
  /**
   * Reuse the keys and values of positions an earlier step has seen (default true). Off, every step runs its
   * whole window, as nanoGPT's generate does: the same logits, for comparing speeds.
   */
  cache?: boolean;
}

export interface Decoder {
  /** How many sequences each step takes. */
  readonly batch: number;
  readonly vocabSize: number;
  /** The width of hidden()'s rows. */
  readonly hiddenSize: number;
  /**
   * The next-token logits [batch, vocabSize] after each sequence's window: windows[b] holds sequence b's last
   * tokens, all of one length from 1 to the model's block size (crop longer contexts to their end, as
   * nanoGPT's generate does). Positions an earlier step has seen (the same tokens from the start of the
   * window) are not computed again. The array is the decoder's, overwritten by the next step.
   */
  step(windows: readonly ArrayLike<number>[]): Float32Array;
  /** The hidden state [batch, hiddenSize] at the last position of the last step, at the point asked for. */
  hidden(): Float32Array;
  /** Forgets every position seen: the next step computes its whole window. */
  reset(): void;
  /** Frees the decoder's memory (its cache, buffers and weight copies); it cannot step afterwards. */
  dispose(): void;
}

/** Checks a step's windows against a decoder's shape; returns their common length. */
export function windowLength(windows: readonly ArrayLike<number>[], batch: number, blockSize: number, vocabSize: number): number {
  if (windows.length !== batch) throw new RangeError(`decoder: ${windows.length} windows for a batch of ${batch}`);
  const T = windows[0]!.length;
  if (T < 1 || T > blockSize) throw new RangeError(`decoder: a window of ${T} tokens; it takes 1 to ${blockSize} (the block size)`);
  for (const w of windows) {
    if (w.length !== T) throw new RangeError(`decoder: windows of ${T} and ${w.length} tokens; they must be of one length`);
    for (let t = 0; t < T; t++) {
      const id = w[t]!;
      if (!(Number.isInteger(id) && id >= 0 && id < vocabSize)) throw new RangeError(`decoder: token id ${id} outside [0, ${vocabSize})`);
    }
  }
  return T;
}

/** hidden() of a decoder made without asking for one. */
export function noHiddenState(): never {
  throw new Error('decoder: no hidden state kept; make the decoder with { hidden: point }');
}
