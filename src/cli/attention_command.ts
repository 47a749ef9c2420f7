/**
 * tsgpt attention: runs a GPT on a text and draws, for every layer and head, which earlier characters each
 * character attends to: one SVG heatmap per head plus each layer's mean over heads, optionally bars for one
 * query position, and an HTML page that shows them all. Also exports attentionOfText, which the report uses.
 */
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { loadRun } from '../node/run_folder.js';
import { writeTextFile } from '../node/atomic_write.js';
import { makeFolder } from '../node/make_folder.js';
import { describeFsError } from '../node/read_bounded.js';
import { TsgptError } from '../errors.js';
import { GPT, type LanguageModel } from '../models/index.js';
import type { Tokenizer, UnknownPolicy } from '../tokenizers/tokenizer.js';
import { ATTENTION_FILE_PATTERN, attentionFigures, attentionPageHtml, HOW_TO_READ_ATTENTION } from '../viz/attention_page.js';
import { visibleText, visibleToken } from '../viz/tokens.js';
import { formatFlagHelp, parseFlags, type FlagSpec } from './flags.js';

export const ATTENTION_DIR = 'attention';
export const ATTENTION_PAGE = 'index.html';

export const ATTENTION_FLAGS: FlagSpec[] = [
  { name: 'from', type: 'string', metavar: 'DIR', help: 'run folder of a GPT written by tsgpt train (required)' },
  {
    name: 'text',
    type: 'string',
    metavar: 'TEXT',
    help: 'the text to run through the model (required; its last block-size characters if longer)',
  },
  {
    name: 'query-pos',
    type: 'int',
    min: 0,
    max: 1e6,
    metavar: 'N',
    help: 'also show where position N (0 = first character shown) attends, as bars per head',
  },
  { name: 'out', type: 'string', metavar: 'DIR', help: 'folder for the SVG files and the HTML page', defaultText: `DIR/${ATTENTION_DIR}` },
  {
    name: 'unknown',
    type: 'string',
    choices: ['error', 'skip', 'replace'],
    help: 'characters of the text outside the vocabulary',
    defaultText: 'error',
  },
  { name: 'help', type: 'bool', help: 'show this help' },
];

export const ATTENTION_HELP = `Usage: tsgpt attention --from DIR --text TEXT [options]

Draws the causal attention of every layer and head of a GPT over the characters of a text: a heatmap per
head, the mean over each layer's heads, and with --query-pos N the weights of position N as bars. Writes
one SVG per figure and ${ATTENTION_PAGE}, a self-contained page showing them all, into the output folder.

Options:
${formatFlagHelp(ATTENTION_FLAGS)}

Example:
  tsgpt attention --from runs/baby --text "ROMEO: But soft" --query-pos 14`;

export interface TextAttention {
  /** The text of each position shown (after cropping to the block size). */
  tokens: string[];
  /** maps[layer][head]: T x T causal attention weights. */
  maps: Float32Array[][];
  /** Set when the text was longer than the block size and only its end is shown. */
  cropped: { total: number; kept: number } | null;
}

/** Encodes `text`, keeps its last blockSize tokens, and returns every layer's and head's attention over them. */
export function attentionOfText(
  model: LanguageModel,
  tokenizer: Tokenizer,
  text: string,
  unknown: UnknownPolicy,
  run: string,
): TextAttention {
  if (!(model instanceof GPT)) {
    throw new TsgptError(`${run} holds a bigram model, which has no attention; attention maps need a GPT run`);
  }
  const all = tokenizer.encode(text, { unknown, replacement: ' ', label: 'text' });
  if (all.length === 0) throw new TsgptError('the text is empty (after removing characters outside the vocabulary)');
  const ids = all.length > model.blockSize ? all.slice(all.length - model.blockSize) : all;
  return {
    tokens: Array.from(ids, (id) => tokenizer.decode([id])),
    maps: model.attentionMaps(ids),
    cropped: ids.length < all.length ? { total: all.length, kept: ids.length } : null,
  };
}

/** One sentence saying the text was cut to the model's context, or null when it was not. */
export function croppingNote(a: TextAttention): string | null {
  return a.cropped === null
    ? null
    : `The text has ${a.cropped.total} characters but the model reads at most ${a.cropped.kept}: showing its last ${a.cropped.kept}.`;
}

export async function attentionCommand(args: readonly string[]): Promise<void> {
  const flags = parseFlags(args, ATTENTION_FLAGS, 'attention');
  const from = flags.get('from') as string | undefined;
  if (from === undefined) throw new TsgptError("tsgpt attention needs --from DIR, a run folder written by 'tsgpt train'");
  const text = flags.get('text') as string | undefined;
  if (text === undefined)
    throw new TsgptError('tsgpt attention needs --text TEXT, the characters to look at (e.g. --text "ROMEO: But soft")');
  const { model, tokenizer } = loadRun(from);
  const a = attentionOfText(model, tokenizer, text, ((flags.get('unknown') as string | undefined) ?? 'error') as UnknownPolicy, from);
  const T = a.tokens.length;
  const queryPos = flags.get('query-pos') as number | undefined;
  if (queryPos !== undefined && queryPos >= T) {
    throw new TsgptError(`--query-pos ${queryPos} is past the end of the text shown (positions 0 to ${T - 1})`);
  }
  const figures = attentionFigures({ maps: a.maps, tokens: a.tokens, queryPos });
  const out = (flags.get('out') as string | undefined) ?? join(from, ATTENTION_DIR);
  makeFolder(out, `output folder ${out}`);
  try {
    // Figures of an earlier, longer text or another query position would otherwise sit beside the new ones.
    for (const f of readdirSync(out)) if (ATTENTION_FILE_PATTERN.test(f)) rmSync(join(out, f));
  } catch (e) {
    throw new TsgptError(`cannot use ${out} as the output folder: ${describeFsError(e)}`);
  }
  for (const f of figures) writeTextFile(join(out, f.file), f.svg);
  const cropped = croppingNote(a);
  const config = (model as GPT).config;
  const notes = [
    `Run ${from}: ${config.nLayer} layer${config.nLayer === 1 ? '' : 's'} of ${config.nHead} head${config.nHead === 1 ? '' : 's'}, ` +
      `block size ${config.blockSize}. Text (${T} characters): ${visibleText(a.tokens.join(''))}`,
    ...(cropped === null ? [] : [cropped]),
    HOW_TO_READ_ATTENTION,
    ...(queryPos === undefined
      ? []
      : [`The bar charts show where position ${queryPos} (${visibleToken(a.tokens[queryPos]!)}) attends in each head.`]),
  ];
  const page = join(out, ATTENTION_PAGE);
  writeTextFile(page, attentionPageHtml({ title: `Attention: ${from}`, notes, figures }));
  if (cropped !== null) process.stderr.write(`${cropped}\n`);
  process.stderr.write(`wrote ${figures.length} SVG files and ${page}\n`);
}
