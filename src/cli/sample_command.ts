/**
 * tsgpt sample: loads a run folder and streams generated text to stdout as it is produced; a closed pipe stops
 * it at the next token (see stdout.ts).
 */
import { Rng } from '../engine/random.js';
import { TsgptError } from '../errors.js';
import { loadRun } from '../node/run_folder.js';
import { readTextBounded } from '../node/read_bounded.js';
import { generate } from '../sample/generate.js';
import { formatFlagHelp, parseFlags, type FlagSpec } from './flags.js';
import { writeStdout } from './stdout.js';
import { encodeOptionsFromFlags, unknownCharacterFlags } from './text_flags.js';
import { MEMORY_SCORING_FLAGS, openMemoryFor, scoringFlagGiven, scoringFromFlags } from './memory_flags.js';
import { memoryMixer } from '../memory/memory_mixer.js';

/** Generation reads at most the last block of the start text, so a longer file is surely a mistake. */
const MAX_START_BYTES = 16 * 1024 * 1024;

export const SAMPLE_FLAGS: FlagSpec[] = [
  { name: 'from', type: 'string', metavar: 'DIR', help: 'run folder written by tsgpt train (required)' },
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

export const SAMPLE_HELP = `Usage: tsgpt sample --from DIR [options]

Generates text from a trained run, streaming it as it is produced. With --memory, the model also reads a
memory of text (tsgpt memory build) by attention at every token.

Options:
${formatFlagHelp(SAMPLE_FLAGS)}`;

export async function sampleCommand(args: readonly string[]): Promise<void> {
  const flags = parseFlags(args, SAMPLE_FLAGS, 'sample');
  const from = flags.get('from') as string | undefined;
  if (from === undefined) throw new TsgptError("tsgpt sample needs --from DIR, a run folder written by 'tsgpt train'");
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
  const run = loadRun(from);
  const { model, tokenizer } = run;
  const memory = memoryDir === undefined ? null : openMemoryFor(memoryDir, from, run);
  const mix = memory === null ? undefined : memoryMixer(memory, scoringFromFlags(flags, memory));
  if (start === undefined) {
    // nanoGPT starts from a newline; a vocabulary without one has no neutral start, so the user must pick it.
    if (!tokenizer.chars.includes('\n')) throw new TsgptError(`the vocabulary of ${from} has no newline to start from; give --start TEXT`);
    start = '\n';
  }
  const prompt = tokenizer.encode(start, encoding);
  if (prompt.length === 0) throw new TsgptError('the start text is empty after removing unknown characters');
  const rng = new Rng((flags.get('seed') as number | undefined) ?? 1337);
  const numSamples = (flags.get('num-samples') as number | undefined) ?? 1;
  for (let s = 0; s < numSamples; s++) {
    writeStdout(tokenizer.decode(prompt));
    for (const id of generate(model, prompt, {
      maxNewTokens: (flags.get('tokens') as number | undefined) ?? 500,
      temperature: (flags.get('temperature') as number | undefined) ?? 0.8,
      topK: (flags.get('top-k') as number | undefined) ?? 200,
      topP: (flags.get('top-p') as number | undefined) ?? 1,
      rng,
      mix,
    })) {
      writeStdout(tokenizer.decode([id]));
    }
    writeStdout('\n---------------\n');
  }
}
