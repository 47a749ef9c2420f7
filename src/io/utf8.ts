/**
 * UTF-8 well-formedness, byte by byte: TextDecoder only says that a decode failed, and a byte-level tokenizer
 * must show bytes that are part of a character. Browser-safe.
 */
import { TsgptError } from '../errors.js';

/** The length of the well-formed UTF-8 sequence that starts at `i` (1 to 4), or 0 if the bytes there are not one. */
export function utf8SequenceLength(bytes: Uint8Array, i: number): number {
  const lead = bytes[i]!;
  if (lead < 0x80) return 1;
  let n: number;
  // The second byte's range is narrower after some leads: that is what excludes overlong forms, UTF-16
  // surrogates (ED A0..BF) and code points above U+10FFFF.
  let lo = 0x80;
  let hi = 0xbf;
  if (lead >= 0xc2 && lead <= 0xdf) n = 2;
  else if (lead >= 0xe0 && lead <= 0xef) n = 3;
  else if (lead >= 0xf0 && lead <= 0xf4) n = 4;
  else return 0;
  if (lead === 0xe0) lo = 0xa0;
  else if (lead === 0xed) hi = 0x9f;
  else if (lead === 0xf0) lo = 0x90;
  else if (lead === 0xf4) hi = 0x8f;
  if (i + n > bytes.length) return 0;
  const second = bytes[i + 1]!;
  if (second < lo || second > hi) return 0;
  for (let k = 2; k < n; k++) if ((bytes[i + k]! & 0xc0) !== 0x80) return 0;
  return n;
}

/**
 * Where the first malformed UTF-8 sequence starts, or -1. Pointing at the byte lets the user find a stray
 * Latin-1 character or a binary file they picked by mistake.
 */
export function invalidUtf8Offset(bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length; ) {
    const n = utf8SequenceLength(bytes, i);
    if (n === 0) return i;
    i += n;
  }
  return -1;
}

/** `bytes` as text; invalid UTF-8 is refused in one line naming `label`, rather than silently replaced with U+FFFD. */
export function decodeUtf8Text(bytes: Uint8Array, label: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new TsgptError(`${label} is not valid UTF-8 text`);
  }
}
