/**
 * A text written to break tokenizers: every corner of GPT-2's split pattern (runs of spaces, tabs and newlines
 * of every length and mix, before words, digits, symbols and the end; contractions in both cases and where they
 * are not contractions), scripts with their own letters, marks and digits, emoji built from several code points,
 * unpaired surrogates, control characters, and random bytes read as Latin-1. Part of it is fixed and part is drawn
 * from a seeded generator, so it is the same text on every run.
 */
import { Rng } from '../../src/engine/random.js';

const FIXED = [
  // Contractions where the pattern takes them, and where it does not (upper case, inside quotes, doubled).
  "I'm sure you'll say he'd've done it; they're here, we've gone, it's John's, don't, can't, won't.",
  "I'M SURE YOU'LL SAY HE'D'VE DONE IT; THEY'RE HERE, WE'VE GONE, IT'S JOHN'S, DON'T. 'S 'T 'Re 'rE 'LL 'lL",
  "'s's 't't ''s '''re 'x 'sss 're're ' s ' 're rock'n'roll O'Neill 'tis 'twas l'homme d'Artagnan",
  // White space of every kind, alone and in runs, before every class and at line ends.
  'a b  c   d    e\te\t\tf \tg\t h \n i\n\nj \n\n k\r\nl\r\n\r\n m\u000bn\u000co\u00a0p\u2003q\u3000r\ufeffs\u2028t\u2029u\u0085v',
  '    leading spaces, trailing spaces    \n\t\ttabs\t\t\n  \n  \n\n\n   \t \n',
  '1 22  333   4444\t55555\n666666 007 3.14159 -42 +7 1,000,000 1e-9 0x1F ½ ¾ ² ³ Ⅻ ⅷ ٣٤٥ ३४५ 𝟘𝟙𝟚 ① ⑳',
  'Punctuation!!! ... ??? --- ___ *** ### @@@ $$$ %%% ^^^ &&& ((())) [[]] {{}} <<>> /// \\\\\\ ||| ~~~ ``` """',
  ' !x ?y .z ,w ;v :u -t _s +r =q |p \\o /n `m ~l @k #j $i %h ^g &f *e (d )c [b ]a {Z }Y <X >W "V',
  // Scripts: Cyrillic, Greek, Arabic, Hebrew, Devanagari (with combining marks), Thai, CJK, Hangul, Japanese kana.
  'Съешь же ещё этих мягких французских булок, да выпей чаю. Ёжик в тумане — 1975 г.',
  'Ξεσκεπάζω την ψυχοφθόρα βδελυγμία. نص حكيم له سر قاطع وذو شأن عظيم. עטלף אבק נס דרך מזגן שהתפוצץ',
  'नमस्ते दुनिया, क्षत्रिय ज्ञान। สวัสดีชาวโลก ภาษาไทย',
  '我能吞下玻璃而不伤身体。日本語のテキスト、カタカナとひらがな。한국어 텍스트입니다. 中文，标点！？',
  // Letters of other kinds: title case, modifiers, decomposed accents, astral letters, fullwidth forms.
  'ǅungla ʰʲʷ ﬁne e\u0301te\u0301 n\u0303 a\u0308\u0304 𝐀𝐁𝐂 𝔄𝔅 𐐷𐐸 ＡＢＣ１２３ ｱｲｳ',
  // Emoji: single, with skin tones, ZWJ families and professions, flags, keycaps, variation selectors.
  'Emoji 😀😃😄 👍 👍🏻👍🏼👍🏽👍🏾👍🏿 👨‍👩‍👧‍👦 👩🏽‍💻 🧑‍🤝‍🧑 🏳️‍🌈 🇫🇷🇯🇵 1️⃣ #️⃣ ❤️ ☺︎ 🫠 ',
  // Control characters, C0 and C1, and the separators Python and JavaScript disagree on.
  'ctrl:\u0000\u0001\u0002\u0007\u0008\u001b[0m\u001c\u001d\u001e\u001f\u007f\u0080\u0081\u009f end',
  // Unpaired surrogates: high, low, reversed, at the ends of words and between spaces.
  'lone \ud800 high, \udc00 low, \udfff\ud800 reversed, x\ud83dy, \ud83d\ud83d, 😀\ude00, end\ud800',
  // Code, URLs, markup.
  'function f(x) { return x ** 2; } // comment\n<div class="a">&amp;</div> https://example.com/a?b=c&d=e#f',
  // The names of special tokens, which ordinary encoding treats as text.
  'before <|endoftext|> after <|endoftext|><|endoftext|> <|endoftext',
].join('\n');

/** The fixed part, then `segments` random ones of the kinds above. */
export function tortureText(segments = 400, seed = 13): string {
  const rng = new Rng(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rng.uniform() * items.length)]!;
  const spaces = [' ', '\t', '\n', '\r', '\u00a0', '\u3000', '\u000b', '\u0085'];
  const words = ['the', "don't", "IT'S", 'ёжик', '中文', '42', '3.5', '!!', '😀', '👍🏽', '👨‍👩‍👧', 'e\u0301', '\ud800', 'x'];
  const parts: string[] = [FIXED];
  for (let s = 0; s < segments; s++) {
    const kind = Math.floor(rng.uniform() * 5);
    let part = '';
    if (kind === 0) {
      // A run of white space of random length and mix, then something to stop it (or nothing).
      const n = 1 + Math.floor(rng.uniform() * 12);
      for (let i = 0; i < n; i++) part += pick(spaces);
      part += pick(['', 'word', '7', '.', '\n']);
    } else if (kind === 1) {
      // Random bytes read as Latin-1: every code point from U+0000 to U+00FF.
      const n = 1 + Math.floor(rng.uniform() * 40);
      for (let i = 0; i < n; i++) part += String.fromCharCode(Math.floor(rng.uniform() * 256));
    } else if (kind === 2) {
      const n = 1 + Math.floor(rng.uniform() * 8);
      for (let i = 0; i < n; i++) part += pick(words) + pick(['', ' ', '  ', "'", "'s", '\n']);
    } else if (kind === 3) {
      // Random code points from the whole range (surrogates included, paired or not).
      const n = 1 + Math.floor(rng.uniform() * 10);
      for (let i = 0; i < n; i++) {
        const cp = Math.floor(rng.uniform() * 0x110000);
        part += cp > 0xffff ? String.fromCodePoint(cp) : String.fromCharCode(cp);
      }
    } else {
      part = pick(FIXED.split('\n'));
    }
    parts.push(part);
  }
  // Long pieces, for the merge's heap: runs of one character, a long word, a long line of symbols.
  parts.push(' '.repeat(3000), '\n'.repeat(500), 'a'.repeat(2000), 'ab'.repeat(1500), '=-'.repeat(800), '😀'.repeat(300));
  parts.push(Array.from({ length: 400 }, () => String.fromCharCode(0x61 + Math.floor(rng.uniform() * 26))).join(''));
  return parts.join('');
}
