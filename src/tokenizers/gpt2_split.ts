/**
 * GPT-2's pre-tokenizer: the regular expression that cuts text into pieces before byte-pair merging, so that no
 * token ever spans a word and the space before it, two words, or a word and its punctuation:
 *
 *     's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 *
 * `gpt2PieceEnd` is that pattern written out by hand as a scanner. It cuts exactly where JavaScript's RegExp
 * with the `u` flag cuts (the reference tokenizers, js-tiktoken among them, run it so; a test compares the two on
 * every piece of a torture text): the same leftmost-first alternatives, the same greedy runs, the same
 * backtracking of `\s+(?!\S)` by one character. It exists because the regular expression, with its Unicode
 * property classes, costs more than all the rest of encoding. Its classes are JavaScript's: `\s` is ECMAScript's
 * white space and line terminators (so U+FEFF is a space and U+0085 is not, where Python's `regex` says the
 * opposite), and a lone surrogate is neither a letter, a number nor a space.
 */

export const GPT2_SPLIT_PATTERN = String.raw`'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`;

/** The four classes the pattern tells apart. 0 in the tables means "not looked up yet". */
const LETTER = 1;
const NUMBER = 2;
const SPACE = 3;
const OTHER = 4;

const APOSTROPHE = 0x27;
const SPACE_CHAR = 0x20;

/**
 * Each code point's class, asked of the engine's own RegExp once and kept: the pattern's meaning is the engine's
 * Unicode tables, and asking them guarantees the scanner agrees with the regular expression on every code point.
 * The basic plane is filled as characters are met; astral code points (rarer) go in a map.
 */
const bmpClasses = new Uint8Array(0x10000);
const astralClasses = new Map<number, number>();
const IS_LETTER = /^\p{L}$/u;
const IS_NUMBER = /^\p{N}$/u;
const IS_SPACE = /^\s$/u;

function classify(codePoint: number): number {
  const ch = String.fromCodePoint(codePoint);
  if (IS_LETTER.test(ch)) return LETTER;
  if (IS_NUMBER.test(ch)) return NUMBER;
  if (IS_SPACE.test(ch)) return SPACE;
  return OTHER;
}

for (let c = 0; c < 0x80; c++) bmpClasses[c] = classify(c);

function bmpClass(unit: number): number {
  const k = bmpClasses[unit]!;
  return k !== 0 ? k : (bmpClasses[unit] = classify(unit));
}

function astralClass(codePoint: number): number {
  let k = astralClasses.get(codePoint);
  if (k === undefined) astralClasses.set(codePoint, (k = classify(codePoint)));
  return k;
}

/**
 * The class of the code point at `i`, times 4, plus its width in UTF-16 units (1 or 2), packed in one small
 * integer so the scanner's inner loops return no objects. A surrogate pair is one astral code point; a surrogate
 * without its partner (or whose partner lies past `end`) is a code point of its own, class OTHER.
 */
function classAndWidth(text: string, i: number, end: number): number {
  const c = text.charCodeAt(i);
  if (c < 0x80) return (bmpClasses[c]! << 2) | 1;
  if ((c & 0xfc00) === 0xd800 && i + 1 < end) {
    const d = text.charCodeAt(i + 1);
    if ((d & 0xfc00) === 0xdc00) return (astralClass(((c - 0xd800) << 10) + (d - 0xdc00) + 0x10000) << 2) | 2;
  }
  return (bmpClass(c) << 2) | 1;
}

/** The end of the run of code points of class `cls` that starts at `i`. */
function runEnd(text: string, i: number, end: number, cls: number): number {
  while (i < end) {
    const c = text.charCodeAt(i);
    if (c < 0x80) {
      if (bmpClasses[c] !== cls) return i;
      i++;
    } else {
      const kw = classAndWidth(text, i, end);
      if (kw >> 2 !== cls) return i;
      i += kw & 3;
    }
  }
  return i;
}

/** The length of the contraction ('s 't 're 've 'm 'll 'd, lower case only) that starts at `i`, or 0. */
function contractionLength(text: string, i: number, end: number): number {
  if (i + 1 >= end) return 0;
  const a = text.charCodeAt(i + 1);
  if (a === 0x73 || a === 0x74 || a === 0x6d || a === 0x64) return 2; // s t m d
  if (i + 2 >= end) return 0;
  const b = text.charCodeAt(i + 2);
  if ((a === 0x72 || a === 0x76) && b === 0x65) return 3; // re ve
  if (a === 0x6c && b === 0x6c) return 3; // ll
  return 0;
}

/**
 * Where the piece that starts at `i` ends; `i < text.length`. (Text between special tokens is cut out and split
 * on its own, as js-tiktoken does, so the end of the text is also where a special token starts.)
 */
export function gpt2PieceEnd(text: string, i: number): number {
  const end = text.length;
  const c = text.charCodeAt(i);
  if (c === APOSTROPHE) {
    const n = contractionLength(text, i, end);
    if (n > 0) return i + n;
  }
  // ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+`: one ordinary space joins the run of the class that follows it.
  if (c === SPACE_CHAR && i + 1 < end) {
    const next = classAndWidth(text, i + 1, end);
    const cls = next >> 2;
    if (cls !== SPACE) return runEnd(text, i + 1 + (next & 3), end, cls);
  }
  const here = classAndWidth(text, i, end);
  const cls = here >> 2;
  if (cls !== SPACE) return runEnd(text, i + (here & 3), end, cls);
  // `\s+(?!\S)` then `\s+`: a run of white space, less its last character when a non-space follows it (that
  // character then starts the next piece, as " word" or "\nword"); a single space before a non-space stays whole.
  // White space is all in the basic plane, one unit a character.
  const j = runEnd(text, i + 1, end, SPACE);
  if (j === end || j - i === 1) return j;
  return j - 1;
}
