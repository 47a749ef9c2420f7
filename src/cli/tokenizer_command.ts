/**
 * tsgpt tokenizer train: learns a byte-level BPE vocabulary from a text, as Karpathy's minbpe does, and writes
 * it as a small JSON file (one merge a line, with the token it makes) that `tsgpt tokenize --tokenizer FILE`
 * reads.
 */
import { TsgptError } from '../errors.js';
import { loadCorpus } from '../node/corpus.js';
import { writeTokenizerFile } from '../node/tokenizer_file.js';
import { MAX_BPE_VOCAB_SIZE } from '../tokenizers/bpe.js';
import { trainBpe } from '../tokenizers/bpe_train.js';
import { showBytes } from '../tokenizers/byte_text.js';
import { SPLIT_PATTERN_NAMES, type SplitPatternName } from '../tokenizers/split_patterns.js';
import { formatFlagHelp, parseFlags, type FlagSpec } from './flags.js';

export const TOKENIZER_TRAIN_FLAGS: FlagSpec[] = [
  {
    name: 'vocab-size',
    type: 'int',
    min: 256,
    max: MAX_BPE_VOCAB_SIZE,
    metavar: 'N',
    help: 'tokens in all: 256 bytes, the merges, the special tokens (required)',
  },
  { name: 'out', type: 'string', metavar: 'FILE', help: 'the tokenizer file to write (required)' },
  {
    name: 'data',
    type: 'string',
    metavar: 'PATH',
    help: 'UTF-8 text to learn from',
    defaultText: '$TSGPT_DATA, else Tiny Shakespeare (downloaded once)',
  },
  {
    name: 'pattern',
    type: 'string',
    choices: SPLIT_PATTERN_NAMES,
    help: "how the text is cut before merging: GPT-2's pattern, GPT-4's, or not at all",
    defaultText: 'gpt2',
  },
  {
    name: 'special',
    type: 'string',
    metavar: 'TOKENS',
    help: 'special tokens, separated by spaces (e.g. "<|endoftext|>"); they take the last ids',
    defaultText: 'none',
  },
  { name: 'verbose', type: 'bool', help: 'print every merge as it is learnt' },
  { name: 'help', type: 'bool', help: 'show this help' },
];

export const TOKENIZER_HELP = `Usage: tsgpt tokenizer train --vocab-size N --out FILE [options]

Learns a byte-level BPE tokenizer from a text, as Karpathy's minbpe does: starting from the 256 bytes, it
merges the most frequent pair of adjacent tokens into a new token, again and again, until the vocabulary
has N tokens. The split pattern keeps merges inside words, numbers and runs of punctuation. The file it
writes is JSON, one merge a line; 'tsgpt tokenize --tokenizer FILE TEXT' uses it.

Options:
${formatFlagHelp(TOKENIZER_TRAIN_FLAGS)}

Example:
  tsgpt tokenizer train --vocab-size 512 --data input.txt --out shakespeare.tok.json`;

export async function tokenizerCommand(args: readonly string[]): Promise<void> {
  const [sub, ...rest] = args;
  if (sub !== 'train') {
    const got = sub === undefined ? 'nothing' : `"${sub}"`;
    throw new TsgptError(`tsgpt tokenizer has one subcommand, train (got ${got}); see 'tsgpt tokenizer --help'`);
  }
  const flags = parseFlags(rest, TOKENIZER_TRAIN_FLAGS, 'tokenizer train');
  const vocabSize = flags.get('vocab-size') as number | undefined;
  const out = flags.get('out') as string | undefined;
  if (vocabSize === undefined) throw new TsgptError("tsgpt tokenizer train needs --vocab-size N, e.g. '--vocab-size 512'");
  if (out === undefined) throw new TsgptError('tsgpt tokenizer train needs --out FILE, the tokenizer file to write');
  const pattern = (flags.get('pattern') as SplitPatternName | undefined) ?? 'gpt2';
  const specialTokens = ((flags.get('special') as string | undefined) ?? '').split(/\s+/).filter((s) => s !== '');
  const verbose = flags.get('verbose') === true;

  const log = (line: string) => void process.stderr.write(`${line}\n`);
  const corpus = await loadCorpus({ path: flags.get('data') as string | undefined, log });
  const started = performance.now();
  const tokenizer = trainBpe(corpus.text, {
    vocabSize,
    pattern,
    specialTokens,
    label: corpus.source,
    onMerge: verbose
      ? (m) =>
          log(`merge ${m.index + 1}: ${m.left} + ${m.right} -> ${m.id} ${showBytes(m.bytes)} (${m.count.toLocaleString('en-US')} times)`)
      : undefined,
  });
  const seconds = (performance.now() - started) / 1000;
  writeTokenizerFile(out, tokenizer);
  // The summary comes after the file is written, so that a failure is the only line printed.
  const tokens = tokenizer.encode(corpus.text, { special: 'allow' }).length;
  const bytes = new TextEncoder().encode(corpus.text).length;
  log(`data: ${corpus.source} (${corpus.text.length.toLocaleString('en-US')} characters, ${bytes.toLocaleString('en-US')} bytes)`);
  log(
    `learnt ${tokenizer.merges.length / 2} merges in ${seconds.toFixed(1)} s (pattern ${pattern}); the text is ` +
      `${tokens.toLocaleString('en-US')} tokens, ${(bytes / tokens).toFixed(2)} bytes a token`,
  );
  log(`wrote ${out} (vocabulary ${tokenizer.vocabSize})`);
}
