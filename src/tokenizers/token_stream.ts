/**
 * Text of tokens as they come, one at a time, for streaming a sample. A byte-level tokenizer's token may hold
 * part of a character (GPT-2 cuts an emoji into several tokens): decoding each token alone would print U+FFFD
 * for every piece, so the bytes go through one streaming UTF-8 decoder, which holds a partial character back
 * until the token that completes it arrives.
 */
import { ByteLevelBpe } from './byte_level_bpe.js';
import type { Tokenizer } from './tokenizer.js';

export interface TokenStream {
  /** The text this token completes (possibly empty, while a character is still partial). */
  push(id: number): string;
  /** Whatever is still held back, as U+FFFD: the stream ended inside a character. */
  end(): string;
}

export function tokenStream(tokenizer: Tokenizer): TokenStream {
  if (!(tokenizer instanceof ByteLevelBpe)) return { push: (id) => tokenizer.decode([id]), end: () => '' };
  const utf8 = new TextDecoder('utf-8');
  return {
    push: (id) => utf8.decode(tokenizer.tokenBytes(id), { stream: true }),
    end: () => utf8.decode(),
  };
}
