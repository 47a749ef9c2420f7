/** Small corpora that tests make themselves, so they need no files. */
import { Rng } from '../../src/engine/random.js';

/**
 * Text with learnable structure: words from a small vocabulary in a fixed order with random repeats, so a
 * model that learns which word follows which gets a much lower loss than one that guesses characters.
 */
export function makeCorpus(length: number, seed = 7): string {
  const words = ['to be', 'or not', 'that is', 'the question', 'whether', 'tis nobler', 'in the mind', 'to suffer'];
  const rng = new Rng(seed);
  let text = '',
    i = 0;
  while (text.length < length) {
    text += words[i % words.length] + (rng.uniform() < 0.2 ? ',\n' : ' ');
    i += rng.uniform() < 0.9 ? 1 : 2;
  }
  return text.slice(0, length);
}
