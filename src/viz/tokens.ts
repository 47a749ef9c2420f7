/**
 * Characters as axis labels. A space or a newline is invisible as a label, yet attention to them is a big
 * part of what a character model learns, so each whitespace or control character gets a visible stand-in.
 */

const VISIBLE: Record<string, string> = {
  ' ': '␣',
  '\n': '⏎',
  '\r': '␍',
  '\t': '⇥',
  '\u00a0': '⍽',
  '\u007f': '␡',
};

/** A visible label for one token's text (for a character tokenizer, one character). */
export function visibleToken(token: string): string {
  if (token === '') return '∅';
  let out = '';
  for (const ch of token) {
    const cp = ch.codePointAt(0)!;
    // C0 controls have their own "symbol for" pictures at U+2400 + code.
    out += VISIBLE[ch] ?? (cp < 0x20 ? String.fromCodePoint(0x2400 + cp) : ch);
  }
  return out;
}

/** The same stand-ins applied to a whole text, for showing a prompt as the model saw it. */
export function visibleText(text: string): string {
  return [...text].map(visibleToken).join('');
}
