/**
 * Text as bytes, for byte-level tokenizers: where a string stops being valid Unicode, and how to show a token's
 * bytes to a person when they are only part of a character (GPT-2 cuts rare characters into byte tokens).
 */
import { utf8SequenceLength } from '../io/utf8.js';
import { showChar } from './char.js';

/** The index of the first unpaired UTF-16 surrogate in `text`, or -1. With the `u` flag a pair is one code point. */
export function findLoneSurrogate(text: string): number {
  return text.search(/[\ud800-\udfff]/u);
}

/**
 * A token's bytes as text: the characters they hold, and each byte that is not part of a whole UTF-8 character
 * as \xNN ("\xe2\x80" is the first two bytes of a three-byte character). Trained tokenizer files show each
 * token so.
 */
export function bytesAsText(bytes: Uint8Array): string {
  return renderBytes(bytes, (run) => run);
}

/** The same as a quoted string for a terminal, with invisible or confusable characters escaped as showChar does. */
export function showBytes(bytes: Uint8Array): string {
  return `"${renderBytes(bytes, (run) => showChar(run).slice(1, -1))}"`;
}

const UTF8 = new TextDecoder();

function renderBytes(bytes: Uint8Array, showRun: (run: string) => string): string {
  let out = '';
  let runStart = 0;
  const endRun = (at: number) => {
    if (at > runStart) out += showRun(UTF8.decode(bytes.subarray(runStart, at)));
  };
  for (let i = 0; i < bytes.length; ) {
    const n = utf8SequenceLength(bytes, i);
    if (n > 0) {
      i += n;
    } else {
      endRun(i);
      out += `\\x${bytes[i]!.toString(16).padStart(2, '0')}`;
      runStart = ++i;
    }
  }
  endRun(bytes.length);
  return out;
}
