/**
 * What sampling asks of a model: one object, made by model.decoder(batch), that turns the context of each
 * sequence into the next token's logits. It owns whatever makes that fast (a key/value cache, packed
 * copies of the weights, buffers) and hides how it computes: its logits are always the last position's row
 * of the model's forward() over the same window, in eval mode, bit for bit; past the block size, a rolling
 * decoder's are the sliding window's of PastContext, which no single forward() computes.
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

/**
 * What a decoder does with a context longer than the block size (the README's "Sampling past the block size"):
 *  - 'crop': nanoGPT's way. The window is the context's last blockSize tokens, encoded afresh at positions
 *    0 .. blockSize - 1 as if the text began there: every layer's keys and values of the kept tokens are
 *    computed again from a context that no longer holds the dropped ones, so each step past the block size
 *    runs a whole window.
 *  - 'roll': a rolling key/value cache (Mistral's rolling buffer), for rotary models only. Token t attends to
 *    tokens t - blockSize + 1 .. t (its own key included), each key and value as it was computed when its
 *    token was new: rotated at its absolute position, in every layer from that token's own window. Scores
 *    depend on relative positions only, and those stay within 0 .. blockSize - 1, the distances the model was
 *    trained on; through the layers a token still feels tokens up to nLayer (blockSize - 1) back. Each step
 *    is one position's work, however long the context. Within the block size the two are the same, and both
 *    give forward()'s logits bit for bit.
 */
export type PastContext = 'crop' | 'roll';

export const PAST_CONTEXTS: readonly PastContext[] = ['crop', 'roll'];

/** The longest context a rolling decoder follows: rotary angles of later positions would lose float32 bits (see rotaryAngleRow). */
export const MAX_ROLLING_POSITIONS = 2 ** 24;

export interface DecoderOptions {
  /** Keep the hidden state at this point for hidden() (default: none is kept, at no cost). */
  hidden?: HiddenPoint;
  /**
   * Reuse the keys and values of positions an earlier step has seen (default true). Off, every step runs its
   * whole window, as nanoGPT's generate does: the same logits, for comparing speeds.
   */
  cache?: boolean;
  /**
   * Past the block size: roll the cache or crop the window (see PastContext). Default: the model's first
   * choice (model.pastContexts[0]; 'roll' for a rotary GPT), 'crop' without the cache. Rolling needs the cache
   * and rotary embeddings: asked of another model, the decoder refuses to be made.
   */
  pastContext?: PastContext;
}

export interface Decoder {
  /** How many sequences each step takes. */
  readonly batch: number;
  readonly vocabSize: number;
  /** The width of hidden()'s rows. */
  readonly hiddenSize: number;
  /** What it does past the block size. */
  readonly pastContext: PastContext;
  /**
   * The longest window step() takes: the block size when it crops (crop longer contexts to their end first),
   * MAX_ROLLING_POSITIONS when it rolls (give it the whole context).
   */
  readonly maxContext: number;
  /**
   * The next-token logits [batch, vocabSize] after each sequence's window: windows[b] holds sequence b's last
   * tokens, all of one length from 1 to maxContext (when cropping, crop longer contexts to their end, as
   * nanoGPT's generate does; when rolling, the window is the whole context). Positions an earlier step has
   * seen (the same tokens from the start of the window) are not computed again. The array is the decoder's,
   * overwritten by the next step.
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
export function windowLength(
  windows: readonly ArrayLike<number>[],
  batch: number,
  maxLength: number,
  vocabSize: number,
  limit = 'the block size',
): number {
  if (windows.length !== batch) throw new RangeError(`decoder: ${windows.length} windows for a batch of ${batch}`);
  const T = windows[0]!.length;
  if (T < 1 || T > maxLength) throw new RangeError(`decoder: a window of ${T} tokens; it takes 1 to ${maxLength} (${limit})`);
  for (const w of windows) {
    if (w.length !== T) throw new RangeError(`decoder: windows of ${T} and ${w.length} tokens; they must be of one length`);
    for (let t = 0; t < T; t++) {
      const id = w[t]!;
      if (!(Number.isInteger(id) && id >= 0 && id < vocabSize)) throw new RangeError(`decoder: token id ${id} outside [0, ${vocabSize})`);
    }
  }
  return T;
}

/**
 * The PastContext of a decoder made with opts for a model that offers `offered` (its own choice first):
 * what was asked for, or the model's choice, or 'crop' without the cache. Refuses what the model cannot do.
 */
export function choosePastContext(opts: DecoderOptions, offered: readonly PastContext[]): PastContext {
  const cache = opts.cache ?? true,
    asked = opts.pastContext;
  if (asked === undefined) return cache ? offered[0]! : 'crop';
  if (!offered.includes(asked)) {
    throw new RangeError(`decoder: this model can only ${offered.join(' or ')} past the block size (rolling needs rotary embeddings)`);
  }
  if (asked === 'roll' && !cache) throw new RangeError('decoder: a rolling window is a cache; it cannot roll with cache: false');
  return asked;
}

/** hidden() of a decoder made without asking for one. */
export function noHiddenState(): never {
  throw new Error('decoder: no hidden state kept; make the decoder with { hidden: point }');
}
