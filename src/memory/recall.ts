/**
 * Recall beyond the context window, measured: documents in which a made-up name is stated once and asked for
 * thousands of characters later, far past what the model can see. The model alone can only guess; with the
 * document before the question as its memory, it should complete the question with the name.
 *
 * A document is filler text (any text the caller gives: Tiny Shakespeare's validation split, say) with the
 * fact sentence put in near the start, then the question at the end. The name is drawn from the vocabulary's
 * own letters (made-up syllables), so a character model can spell it but never has seen it.
 */
import { Rng } from '../engine/random.js';
import { TsgptError } from '../errors.js';
import type { GPT } from '../models/gpt.js';
import { generate } from '../sample/generate.js';
import type { Tokenizer } from '../tokenizers/tokenizer.js';
import { buildMemory } from './build_memory.js';
import type { MemoryScoring } from './memory_config.js';
import { memoryMixer } from './memory_mixer.js';

export interface RecallDocument {
  /** Everything before the question: the memory is built from it. */
  document: string;
  question: string;
  answer: string;
  /** Characters between the end of the fact and the question. */
  distance: number;
}

const CONSONANTS = 'bcdfghklmnprstvz';
const VOWELS = 'aeiou';

/**
 * `count` documents of about `length` characters of filler each, the fact ("The secret name is Zorblax.")
 * `factAt` characters in (give or take a few hundred), the question ("The secret name is ") at the end.
 */
export function recallDocuments(
  filler: string,
  count: number,
  opts: { length?: number; factAt?: number; seed?: number } = {},
): RecallDocument[] {
  const length = opts.length ?? 3000,
    factAt = opts.factAt ?? 300;
  if (filler.length < length + 1) throw new TsgptError(`the filler text has ${filler.length} characters; documents of ${length} need more`);
  const rng = new Rng(opts.seed ?? 2024);
  const docs: RecallDocument[] = [];
  for (let i = 0; i < count; i++) {
    let name = '';
    const syllables = 2 + rng.int(2);
    for (let s = 0; s < syllables; s++) name += CONSONANTS[rng.int(CONSONANTS.length)]! + VOWELS[rng.int(VOWELS.length)]!;
    name = name[0]!.toUpperCase() + name.slice(1);
    const start = rng.int(filler.length - length);
    const text = filler.slice(start, start + length);
    const cut = Math.max(0, factAt - 100 + rng.int(200));
    const fact = `\nThe secret name is ${name}.\n`;
    docs.push({
      document: text.slice(0, cut) + fact + text.slice(cut),
      question: '\nThe secret name is ',
      answer: name,
      distance: text.length - cut,
    });
  }
  return docs;
}

export interface RecallResult {
  documents: number;
  /** Greedy completions equal to the name, by the model alone and with the document as its memory. */
  alone: number;
  withMemory: number;
  /** A few completions, for a person to look at: [answer, alone, with memory]. */
  examples: [string, string, string][];
}

/** Builds each document's memory, completes its question greedily with and without it, and counts exact names. */
export function measureRecall(
  model: GPT,
  tokenizer: Tokenizer,
  docs: readonly RecallDocument[],
  opts: { scoring?: Partial<MemoryScoring>; weightsSha256?: string; onDocument?: (done: number) => void } = {},
): RecallResult {
  const result: RecallResult = { documents: docs.length, alone: 0, withMemory: 0, examples: [] };
  const sha = opts.weightsSha256 ?? '0'.repeat(64);
  docs.forEach((doc, i) => {
    const memoryTokens = tokenizer.encode(doc.document);
    const prompt = tokenizer.encode(doc.document + doc.question);
    const memory = buildMemory(model, memoryTokens, { tokenizer, source: `document ${i}`, textSha256: '0'.repeat(64), weightsSha256: sha });
    try {
      const complete = (withMemory: boolean) => {
        const mix = withMemory ? memoryMixer(memory, { ...memory.config.scoring, ...opts.scoring }) : undefined;
        const ids = [...generate(model, prompt, { maxNewTokens: doc.answer.length, temperature: 0, rng: new Rng(1), mix })];
        return tokenizer.decode(ids);
      };
      const alone = complete(false),
        recalled = complete(true);
      if (alone === doc.answer) result.alone++;
      if (recalled === doc.answer) result.withMemory++;
      if (result.examples.length < 5) result.examples.push([doc.answer, alone, recalled]);
    } finally {
      memory.dispose();
    }
    opts.onDocument?.(i + 1);
  });
  return result;
}
