/**
 * tsgpt sample: loads a run folder, or GPT-2 (a released model by name, or a Hugging Face folder), and streams
 * generated text to stdout as it is produced; a closed pipe stops it at the next token (see stdout.ts).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseRunFile } from '../checkpoint/run_config.js';
import { PARALLEL_MIN_MACS } from '../engine/kernel_table.js';
import { Rng } from '../engine/random.js';
import { TsgptError } from '../errors.js';
import { GPT2_MODEL_NAMES, type LoadedGpt2, loadPretrainedGpt2 } from '../node/hf_folder.js';
import { CONFIG_FILE, type LoadedRun, loadRun, MAX_CONFIG_BYTES } from '../node/run_folder.js';
import { readTextBounded } from '../node/read_bounded.js';
import { generate } from '../sample/generate.js';
import { type LanguageModel, largestRowProduct } from '../models/index.js';
import { CharTokenizer } from '../tokenizers/char.js';
import type { Tokenizer } from '../tokenizers/tokenizer.js';
import { tokenStream } from '../tokenizers/token_stream.js';
import { downloadProgress } from './progress.js';
import { formatFlagHelp, parseFlags, type FlagSpec } from './flags.js';
import { writeStdout } from './stdout.js';
import { encodeOptionsFromFlags, unknownCharacterFlags } from './text_flags.js';
import { MEMORY_SCORING_FLAGS, openMemoryFor, scoringFlagGiven, scoringFromFlags } from './memory_flags.js';
import { memoryMixer } from '../memory/memory_mixer.js';
import { PAST_CONTEXTS, type PastContext } from '../models/decoder.js';

/** Generation reads at most the last block of the start text, so a longer file is surely a mistake. */
const MAX_START_BYTES = 16 * 1024 * 1024;

export const SAMPLE_FLAGS: FlagSpec[] = [
  {
    name: 'from',
    type: 'string',
    metavar: 'DIR|NAME',
    help: `a run folder written by tsgpt train, a Hugging Face GPT-2 folder, or ${GPT2_MODEL_NAMES.join(', ')} (required)`,
  },
  { name: 'start', type: 'string', metavar: 'TEXT', help: 'text to continue', defaultText: 'a newline' },
  { name: 'start-file', type: 'string', metavar: 'PATH', help: 'read the start text from a file instead' },
  { name: 'num-samples', type: 'int', min: 1, max: 10000, help: 'how many samples', defaultText: '1' },
  { name: 'tokens', type: 'int', min: 0, max: 1e7, help: 'new tokens per sample', defaultText: '500' },
  {
    name: 'temperature',
    type: 'float',
    min: 0,
    max: 100,
    help: 'sharpen (<1) or flatten (>1) the distribution; 0 is greedy',
    defaultText: '0.8',
  },
  { name: 'top-k', type: 'int', min: 0, max: 1e9, help: 'sample from the k most likely tokens only (0: all)', defaultText: '200' },
  {
    name: 'top-p',
    type: 'float',
    min: 0,
    max: 1,
    help: 'sample from the smallest set of tokens with this much probability (1: all)',
    defaultText: '1',
  },
  { name: 'seed', type: 'int', min: 0, max: 4294967295, help: 'random seed', defaultText: '1337' },
  {
    name: 'past-context',
    type: 'string',
    choices: PAST_CONTEXTS,
    help: 'past the block size: roll the key/value cache (rotary models) or crop and recompute the window, as nanoGPT',
    defaultText: 'roll with rotary embeddings, else crop',
  },
  ...unknownCharacterFlags('the start text'),
  {
    name: 'memory',
    type: 'string',
    metavar: 'MEM',
    help: 'a memory built for this run (tsgpt memory build): the model reads it by attention',
  },
  ...MEMORY_SCORING_FLAGS,
  { name: 'help', type: 'bool', help: 'show this help' },
];

export const SAMPLE_HELP = `Usage: tsgpt sample --from DIR|NAME [options]

Generates text from a trained run, streaming it as it is produced. With --memory, the model also reads a
memory of text (tsgpt memory build) by attention at every token. Past the block size a model with rotary
embeddings rolls its key/value cache (each token attends to the last block of keys as they were made, one
position's work a token); --past-context crop re-encodes the last block at every token instead, as nanoGPT
does and as models with learned positions must.

--from takes a run folder; a folder laid out as a Hugging Face GPT-2 repository (config.json, model.safetensors,
vocab.json, merges.txt); or the name of one of OpenAI's released GPT-2s (gpt2: 124M parameters, gpt2-medium:
355M), whose weights are downloaded once (gpt2: 548 MB) into $TSGPT_CACHE/hf, or ~/.cache/tsgpt/hf, and
checked against their SHA-256. A name always means the released model: give ./gpt2 for a folder named so.
gpt2-large and gpt2-xl do not fit tsgpt's 4 GB WebAssembly memory.

Options:
${formatFlagHelp(SAMPLE_FLAGS)}`;

/**
 * The threads `tsgpt sample` computes on when --threads is not given: one when the run's model is too small
 * for the kernels to split any of its products (PARALLEL_MIN_MACS), since helper threads then only cost
 * (starting them competed with compiling the sampling code: fast's 300 tokens took 0.22 to 0.28 s on 2 threads,
 * 0.16 to 0.24 s on 1); undefined (every core) otherwise, or when --from is not a run folder this can read.
 * The command itself reports any problem with the flags or the folder.
 */
export function samplingThreads(args: readonly string[]): number | undefined {
  try {
    const from = parseFlags(args, SAMPLE_FLAGS, 'sample').get('from') as string | undefined;
    if (from === undefined || (GPT2_MODEL_NAMES as readonly string[]).includes(from)) return undefined;
    const path = join(from, CONFIG_FILE);
    const gpt2Vocabulary = (): never => {
      throw new Error("GPT-2's vocabulary: products big enough to split");
    };
    const { file } = parseRunFile(readTextBounded(path, MAX_CONFIG_BYTES), path, gpt2Vocabulary);
    return largestRowProduct(file.model) < PARALLEL_MIN_MACS ? 1 : undefined;
  } catch {
    return undefined;
  }
}

export async function sampleCommand(args: readonly string[]): Promise<void> {
  const flags = parseFlags(args, SAMPLE_FLAGS, 'sample');
  const from = flags.get('from') as string | undefined;
  if (from === undefined) {
    throw new TsgptError("tsgpt sample needs --from DIR|NAME: a run folder written by 'tsgpt train', a Hugging Face GPT-2 folder, or gpt2");
  }
  if (flags.has('start') && flags.has('start-file')) throw new TsgptError('give --start or --start-file, not both');
  const encoding = encodeOptionsFromFlags(flags, flags.has('start-file') ? `start file ${flags.get('start-file')}` : 'start text');
  let start = flags.get('start') as string | undefined;
  const startFile = flags.get('start-file') as string | undefined;
  if (startFile !== undefined) {
    start = readTextBounded(startFile, MAX_START_BYTES, `start file ${startFile}`);
    if (start === '') throw new TsgptError(`start file ${startFile} is empty`);
  }
  const memoryDir = flags.get('memory') as string | undefined;
  const scoringFlag = scoringFlagGiven(flags);
  if (memoryDir === undefined && scoringFlag !== undefined) throw new TsgptError(`--${scoringFlag} needs --memory MEM`);
  const { model, tokenizer, run } = await openModel(from);
  const pastContext = flags.get('past-context') as PastContext | undefined;
  if (pastContext !== undefined && !model.pastContexts.includes(pastContext)) {
    throw new TsgptError(
      `--past-context ${pastContext} needs rotary embeddings (a run trained with --rotary); ${from} can only ${model.pastContexts.join(' or ')}`,
    );
  }
  if (memoryDir !== undefined && run === null) throw new TsgptError('--memory needs a run folder written by tsgpt train, not GPT-2');
  const memory = memoryDir === undefined || run === null ? null : openMemoryFor(memoryDir, from, run);
  const mix = memory === null ? undefined : memoryMixer(memory, scoringFromFlags(flags, memory));
  if (start === undefined) {
    // nanoGPT starts from a newline; a vocabulary without one has no neutral start, so the user must pick it.
    if (tokenizer instanceof CharTokenizer && !tokenizer.chars.includes('\n')) {
      throw new TsgptError(`the vocabulary of ${from} has no newline to start from; give --start TEXT`);
    }
    start = '\n';
  }
  // nanoGPT's sample.py allows <|endoftext|> in the start text, as the special token.
  const prompt = tokenizer.encode(start, { ...encoding, special: 'allow' });
  if (prompt.length === 0) throw new TsgptError('the start text is empty after removing unknown characters');
  const rng = new Rng((flags.get('seed') as number | undefined) ?? 1337);
  const numSamples = (flags.get('num-samples') as number | undefined) ?? 1;
  for (let s = 0; s < numSamples; s++) {
    writeStdout(tokenizer.decode(prompt));
    const text = tokenStream(tokenizer);
    for (const id of generate(model, prompt, {
      maxNewTokens: (flags.get('tokens') as number | undefined) ?? 500,
      temperature: (flags.get('temperature') as number | undefined) ?? 0.8,
      topK: (flags.get('top-k') as number | undefined) ?? 200,
      topP: (flags.get('top-p') as number | undefined) ?? 1,
      rng,
      mix,
      pastContext,
    })) {
      writeStdout(text.push(id));
    }
    writeStdout(`${text.end()}\n---------------\n`);
  }
}

/** What --from names: a released GPT-2 (downloaded once), a Hugging Face GPT-2 folder, or a run folder. */
async function openModel(from: string): Promise<{ model: LanguageModel; tokenizer: Tokenizer; run: LoadedRun | null }> {
  const { progress, done } = downloadProgress();
  let gpt2: LoadedGpt2 | null;
  try {
    gpt2 = await loadPretrainedGpt2(from, { progress, weightsProgress: progress });
  } finally {
    done();
  }
  if (gpt2 !== null) return { model: gpt2.model, tokenizer: gpt2.tokenizer, run: null };
  if (!existsSync(from) && !/[/\\]/.test(from)) {
    throw new TsgptError(`no run folder at ${from}, and no GPT-2 is called so (the released ones: ${GPT2_MODEL_NAMES.join(', ')})`);
  }
  const run = loadRun(from);
  return { model: run.model, tokenizer: run.tokenizer, run };
}
