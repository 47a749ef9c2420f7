/**
 * What the rest of tsgpt needs from a tokenizer, so that a BPE tokenizer can replace the character one without
 * the model, trainer or sampler knowing which they hold. Implementations must stay free of Node-only APIs:
 * they also run in a browser tab.
 */

/** How `encode` treats text the vocabulary cannot represent. */
export type UnknownPolicy = 'error' | 'skip' | 'replace';

export interface EncodeOptions {
  /** Default 'error': silently dropping or altering a user's text should be something they ask for. */
  unknown?: UnknownPolicy;
  /** With `unknown: 'replace'`, the vocabulary entry that stands in for each unknown character. */
  replacement?: string;
  /** Names the text in error messages, e.g. 'start text' gives "start text has characters outside ...". */
  label?: string;
}

/** The serialisable form of a tokenizer; `type` tells readers which class to rebuild. */
export interface TokenizerJSON {
  readonly type: string;
}

export interface Tokenizer {
  readonly vocabSize: number;
  encode(text: string, options?: EncodeOptions): Int32Array;
  decode(ids: ArrayLike<number>): string;
  toJSON(): TokenizerJSON;
}
