/**
 * tsgpt tokenize: a file's text cut into tokens, each printed with its id and its text, so that anyone can check
 * the ids against another tokenizer (js-tiktoken, tiktoken, Hugging Face's); --json prints the ids alone.
 */
import { TsgptError } from '../errors.js';
import { readUtf8File } from '../node/corpus.js';
import { loadTokenizer } from '../node/tokenizer_file.js';
import { ByteLevelBpe } from '../tokenizers/byte_level_bpe.js';
import { showBytes } from '../tokenizers/byte_text.js';
import { CharTokenizer, showChar } from '../tokenizers/char.js';
import type { SpecialPolicy, Tokenizer } from '../tokenizers/tokenizer.js';
import { formatFlagHelp, parseFlags, type FlagSpec } from './flags.js';
import { splitPositionals } from './plot_command.js';
import { downloadProgress } from './progress.js';

export const TOKENIZE_FLAGS: FlagSpec[] = [
  {
    name: 'tokenizer',
    type: 'string',
    metavar: 'gpt2|char|PATH',
    help: 'which tokenizer (see above)',
    defaultText: 'gpt2',
  },
  { name: 'json', type: 'bool', help: 'print one JSON object with the ids instead of a line per token' },
  {
    name: 'special',
    type: 'string',
    choices: ['error', 'allow', 'ordinary'],
    help: 'names of special tokens (<|endoftext|>) in the text: refuse, encode as the special token, or as text',
    defaultText: 'error',
  },
  { name: 'help', type: 'bool', help: 'show this help' },
];

export const TOKENIZE_HELP = `Usage: tsgpt tokenize [--tokenizer gpt2|char|PATH] FILE [options]

Cuts the UTF-8 text of FILE into tokens and prints one line per token: its id and its text, quoted, with
invisible characters as \\uXXXX and \\xNN for a byte that is only part of a character (GPT-2 cuts rare
characters into bytes). A count goes to stderr.

  gpt2   GPT-2's tokenizer, 50,257 tokens; its vocabulary files are downloaded once (2 MB) into
         $TSGPT_CACHE/gpt2, or ~/.cache/tsgpt/gpt2
  char   one token per character, the vocabulary made from FILE itself, as tsgpt train does
  PATH   a folder holding GPT-2's encoder.json and vocab.bpe (or Hugging Face's vocab.json and
         merges.txt), or a tokenizer file written by 'tsgpt tokenizer train'

Options:
${formatFlagHelp(TOKENIZE_FLAGS)}`;

/** Tokenizing keeps the text, its ids and their lines in memory at once; 100 MB of text is plenty for checking. */
const MAX_TEXT_BYTES = 100_000_000;

export async function tokenizeCommand(args: readonly string[]): Promise<void> {
  const { positionals, flagArgs } = splitPositionals(args, TOKENIZE_FLAGS);
  const flags = parseFlags(flagArgs, TOKENIZE_FLAGS, 'tokenize');
  if (positionals.length !== 1) {
    throw new TsgptError(`tsgpt tokenize takes one text file, got ${positionals.length}; e.g. 'tsgpt tokenize --tokenizer gpt2 poem.txt'`);
  }
  const file = positionals[0]!;
  const text = await readUtf8File(file, file, MAX_TEXT_BYTES);
  const spec = (flags.get('tokenizer') as string | undefined) ?? 'gpt2';
  const tokenizer = spec === 'char' ? CharTokenizer.fromText(text) : await loadWithProgress(spec);
  const special = (flags.get('special') as SpecialPolicy | undefined) ?? 'error';
  const ids = tokenizer.encode(text, { special, label: file });

  if (flags.get('json')) {
    const json = { tokenizer: spec, vocab_size: tokenizer.vocabSize, count: ids.length, ids: [...ids] };
    process.stdout.write(`${JSON.stringify(json)}\n`);
  } else {
    writeTokenLines(tokenizer, ids);
  }
  const bytes = new TextEncoder().encode(text).length;
  process.stderr.write(
    `${ids.length.toLocaleString('en-US')} tokens from ${text.length.toLocaleString('en-US')} characters ` +
      `(${bytes.toLocaleString('en-US')} bytes) with ${spec}, vocabulary ${tokenizer.vocabSize.toLocaleString('en-US')}\n`,
  );
}

/** "id text" lines, the ids right-aligned, written in batches (Tiny Shakespeare is 338,025 lines). */
function writeTokenLines(tokenizer: Tokenizer, ids: Int32Array): void {
  const width = String(tokenizer.vocabSize - 1).length;
  const show = (id: number) => (tokenizer instanceof ByteLevelBpe ? showBytes(tokenizer.tokenBytes(id)) : showChar(tokenizer.decode([id])));
  let batch = '';
  for (let i = 0; i < ids.length; i++) {
    batch += `${String(ids[i]).padStart(width)} ${show(ids[i]!)}\n`;
    if (batch.length > 1 << 16) {
      process.stdout.write(batch);
      batch = '';
    }
  }
  process.stdout.write(batch);
}

/** loadTokenizer, with a download's progress redrawn on one line of a terminal (and the line cleared after). */
async function loadWithProgress(spec: string): Promise<Tokenizer> {
  const { progress, done } = downloadProgress();
  try {
    return (await loadTokenizer(spec, { progress })).tokenizer;
  } finally {
    done();
  }
}
