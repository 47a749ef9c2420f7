/**
 * What the rest of tsgpt needs from a tokenizer, so that a BPE tokenizer can replace the character one without
 * the model, trainer or sampler knowing which they hold. Implementations must stay free of Node-only APIs:
 * they also run in a browser tab.
 */

/**
 * How `encode` treats text the vocabulary cannot represent: for the character tokenizer, characters it has not
 * seen; for byte-level ones (GPT-2's, trained BPE), unpaired UTF-16 surrogates, which have no UTF-8 bytes.
 */
export type UnknownPolicy = 'error' | 'skip' | 'replace';

/**
 * What the name of a special token (GPT-2's <|endoftext|>) means when it occurs in the text: 'error' (the
 * default, as tiktoken's): refuse, since either reading may be what the user meant; 'allow': the special token's
 * id; 'ordinary': its characters, encoded like any other text (tiktoken's encode_ordinary).
 */
export type SpecialPolicy = 'error' | 'allow' | 'ordinary';

export interface EncodeOptions {
  /** Default 'error': silently dropping or altering a user's text should be something they ask for. */
  unknown?: UnknownPolicy;
  /**
   * With `unknown: 'replace'`, what stands in for each unknown character: a vocabulary entry for the character
   * tokenizer; any text for byte-level ones (default U+FFFD, as TextEncoder and tiktoken do).
   */
  replacement?: string;
  /** Tokenizers without special tokens ignore it. */
  special?: SpecialPolicy;
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
