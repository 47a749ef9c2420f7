/**
 * A tokenizer back from its JSON form (toJSON's), whichever kind it is: the `type` field says which class
 * rebuilds it. GPT-2's records only its name; its vocabulary comes from files (tsgpt/node's loadGpt2Tokenizer).
 */
import { TsgptError } from '../errors.js';
import { describe } from '../validate.js';
import { BpeTokenizer } from './bpe.js';
import { CharTokenizer } from './char.js';
import type { Tokenizer } from './tokenizer.js';

/**
 * `source` (a path) names the JSON in errors. GPT-2's JSON is only its name, `{"type": "gpt2"}`: `gpt2` supplies
 * its vocabulary (on Node, from the cached files); without it, that JSON is refused.
 */
export function tokenizerFromJSON(json: unknown, source = 'tokenizer JSON', gpt2?: () => Tokenizer): Tokenizer {
  const type = typeof json === 'object' && json !== null && !Array.isArray(json) ? (json as { type?: unknown }).type : undefined;
  if (type === 'char') return CharTokenizer.fromJSON(json, source);
  if (type === 'bpe') return BpeTokenizer.fromJSON(json, source);
  if (type === 'gpt2') {
    const extra = Object.keys(json as object).find((k) => k !== 'type');
    if (extra !== undefined)
      throw new TsgptError(`${source}: GPT-2's tokenizer is recorded as {"type": "gpt2"} alone, not with ${describe(extra)}`);
    if (gpt2 === undefined)
      throw new TsgptError(`${source} names GPT-2's tokenizer, whose vocabulary is loaded from its files, not from JSON`);
    return gpt2();
  }
  throw new TsgptError(`${source}: not a tokenizer (its "type" is ${describe(type)}; tsgpt's are "char", "bpe" and "gpt2")`);
}
