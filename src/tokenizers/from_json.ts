/**
 * A tokenizer back from its JSON form (toJSON's), whichever kind it is: the `type` field says which class
 * rebuilds it. GPT-2's records only its name; its vocabulary comes from files (tsgpt/node's loadGpt2Tokenizer).
 */
import { TsgptError } from '../errors.js';
import { describe } from '../validate.js';
import { BpeTokenizer } from './bpe.js';
import { CharTokenizer } from './char.js';
import type { Tokenizer } from './tokenizer.js';

/** `source` (a path) names the JSON in errors. */
export function tokenizerFromJSON(json: unknown, source = 'tokenizer JSON'): Tokenizer {
  const type = typeof json === 'object' && json !== null && !Array.isArray(json) ? (json as { type?: unknown }).type : undefined;
  if (type === 'char') return CharTokenizer.fromJSON(json, source);
  if (type === 'bpe') return BpeTokenizer.fromJSON(json, source);
  if (type === 'gpt2') throw new TsgptError(`${source} names GPT-2's tokenizer, whose vocabulary is loaded from its files, not from JSON`);
  throw new TsgptError(`${source}: not a tokenizer (its "type" is ${describe(type)}; tsgpt's are "char", "bpe" and "gpt2")`);
}
