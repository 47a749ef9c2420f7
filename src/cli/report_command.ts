/**
 * tsgpt report: one self-contained HTML page about a run folder: its configuration and parameter count, the
 * loss curve, seeded samples at a few temperatures, and (for a GPT) the attention maps of a short prompt.
 */
import { basename, join, resolve } from 'node:path';
import { loadRun } from '../node/run_folder.js';
import { Rng } from '../engine/random.js';
import { CharTokenizer } from '../tokenizers/char.js';
import { TsgptError } from '../errors.js';
import { GPT, reportedParameterCount } from '../models/index.js';
import { generate } from '../sample/generate.js';
import { attentionFigures, HOW_TO_READ_ATTENTION } from '../viz/attention_page.js';
import { lossCurveSvg } from '../viz/loss_curve.js';
import { runReportHtml, type ReportSample, type RunReportInput } from '../viz/report_page.js';
import { visibleText } from '../viz/tokens.js';
import { attentionOfText, croppingNote } from './attention_command.js';
import { formatFlagHelp, parseFlags, type FlagSpec } from './flags.js';
import { splitPositionals } from './plot_command.js';
import { readLossLog } from '../node/loss_curve_file.js';
import { writeTextFile } from '../node/atomic_write.js';
import { HYPERPARAMETERS } from '../checkpoint/hyperparameters.js';

export const REPORT_FILE = 'report.html';
const DEFAULT_TEMPERATURES = '0.5,0.8,1.0';
/** Lecture's favourite opening; used for the attention maps when its characters are in the vocabulary. */
const DEFAULT_ATTENTION_TEXT = 'ROMEO: But soft';

export const REPORT_FLAGS: FlagSpec[] = [
  { name: 'from', type: 'string', metavar: 'DIR', help: 'the run folder (or give it as the first argument)' },
  { name: 'out', type: 'string', metavar: 'FILE', help: 'the HTML page to write', defaultText: `DIR/${REPORT_FILE}` },
  {
    name: 'temperatures',
    type: 'string',
    metavar: 'LIST',
    help: 'comma-separated sampling temperatures',
    defaultText: DEFAULT_TEMPERATURES,
  },
  { name: 'tokens', type: 'int', min: 1, max: 100000, help: 'new tokens per sample', defaultText: '200' },
  { name: 'start', type: 'string', metavar: 'TEXT', help: 'text the samples continue', defaultText: 'a newline' },
  { name: 'top-k', type: 'int', min: 0, max: 1e9, help: 'sample from the k most likely tokens only (0: all)', defaultText: '200' },
  { name: 'seed', type: 'int', min: 0, max: 4294967295, help: 'random seed (each temperature starts from it)', defaultText: '1337' },
  {
    name: 'attention-text',
    type: 'string',
    metavar: 'TEXT',
    help: 'the prompt whose attention maps are shown',
    defaultText: `"${DEFAULT_ATTENTION_TEXT}" if the vocabulary has its characters, else the first sample's first 24`,
  },
  { name: 'help', type: 'bool', help: 'show this help' },
];

export const REPORT_HELP = `Usage: tsgpt report DIR [options]

Writes one self-contained HTML page about a run folder: the model and training configuration, the parameter
count, the loss curve, samples at a few temperatures, and the attention maps of a short prompt (GPT runs).

Options:
${formatFlagHelp(REPORT_FLAGS)}`;

export async function reportCommand(args: readonly string[]): Promise<void> {
  const { positionals, flagArgs } = splitPositionals(args, REPORT_FLAGS);
  const flags = parseFlags(flagArgs, REPORT_FLAGS, 'report');
  const fromFlag = flags.get('from') as string | undefined;
  if (positionals.length > 1 || (positionals.length === 1 && fromFlag !== undefined)) {
    throw new TsgptError('tsgpt report takes one run folder');
  }
  const dir = positionals[0] ?? fromFlag;
  if (dir === undefined) throw new TsgptError("tsgpt report needs a run folder, e.g. 'tsgpt report runs/baby'");
  const temperatures = parseTemperatures((flags.get('temperatures') as string | undefined) ?? DEFAULT_TEMPERATURES);
  const tokens = (flags.get('tokens') as number | undefined) ?? 200;
  const seed = (flags.get('seed') as number | undefined) ?? 1337;
  const topK = (flags.get('top-k') as number | undefined) ?? 200;
  const start = (flags.get('start') as string | undefined) ?? '\n';

  const { file, model, tokenizer } = loadRun(dir);
  const prompt = tokenizer.encode(start, { label: 'start text' });
  if (prompt.length === 0) throw new TsgptError('the start text is empty');

  const samples: ReportSample[] = temperatures.map((temperature) => {
    const ids = [...generate(model, prompt, { maxNewTokens: tokens, temperature, topK, rng: new Rng(seed) })];
    return { temperature, prompt: start, text: tokenizer.decode(ids) };
  });

  let lossSvg: string | null = null,
    lossNote: string | undefined;
  try {
    lossSvg = lossCurveSvg([{ name: basename(resolve(dir)), log: readLossLog(dir) }]);
  } catch (e) {
    if (!(e instanceof TsgptError)) throw e;
    lossNote = `No loss curve: ${e.message}.`;
  }

  let attention: RunReportInput['attention'];
  if (model instanceof GPT) {
    let text = flags.get('attention-text') as string | undefined;
    if (text === undefined) {
      // A byte-level tokenizer encodes any text; a character one only its own characters.
      const fits = !(tokenizer instanceof CharTokenizer) || [...DEFAULT_ATTENTION_TEXT].every((ch) => tokenizer.chars.includes(ch));
      text = fits ? DEFAULT_ATTENTION_TEXT : [...(samples[0]!.prompt + samples[0]!.text)].slice(0, Math.min(24, model.blockSize)).join('');
    }
    const a = attentionOfText(model, tokenizer, text, 'error', dir);
    const cell = Math.min(16, Math.max(5, Math.floor(280 / a.tokens.length)));
    const cropped = croppingNote(a);
    attention = {
      figures: attentionFigures({ maps: a.maps, tokens: a.tokens, cell }),
      notes: [
        `Prompt (${a.tokens.length} characters): ${visibleText(a.tokens.join(''))}`,
        ...(cropped === null ? [] : [cropped]),
        HOW_TO_READ_ATTENTION,
      ],
    };
  } else {
    attention = { unavailable: 'This is a bigram model: it has no attention layers, so there are no attention maps.' };
  }

  const m = file.model;
  const modelRows: [string, string][] =
    m.kind === 'gpt'
      ? [
          ['kind', `GPT (${m.style} form)`],
          ['vocabulary', String(m.vocabSize)],
          ['block size', String(m.blockSize)],
          ['layers', String(m.nLayer)],
          ['heads', String(m.nHead)],
          ['embedding width', String(m.nEmbd)],
          ['dropout', String(m.dropout)],
          ['bias', String(m.bias)],
        ]
      : [
          ['kind', 'bigram table'],
          ['vocabulary', String(m.vocabSize)],
          ['block size', String(m.blockSize)],
        ];
  const runRows = HYPERPARAMETERS.map(({ key, flag }): [string, string] => [flag, formatValue(file.run[key])]);
  const t = file.training;
  const trainingRows: [string, string][] = [
    ['steps trained', formatValue(t?.step)],
    ['best val loss', formatValue(t?.bestValLoss)],
    ['train loss at save', formatValue(t?.trainLoss)],
    ['val loss at save', formatValue(t?.valLoss)],
    ['data', formatValue(file.data)],
  ];
  const html = runReportHtml({
    name: dir,
    tables: [
      { title: 'Model', rows: modelRows },
      { title: 'Training run', rows: runRows },
      { title: 'Checkpoint', rows: trainingRows },
    ],
    parameters: reportedParameterCount(model),
    parameterNote: model instanceof GPT ? 'counted as nanoGPT counts them: without the position embedding' : 'the bigram table',
    lossSvg,
    lossNote,
    samples,
    sampleNote:
      `${tokens} new tokens each after the start text (highlighted), seed ${seed} for every temperature, ` +
      `top-k ${topK === 0 ? 'off' : topK}, from the checkpoint with the best validation loss.`,
    attention,
  });
  const out = (flags.get('out') as string | undefined) ?? join(dir, REPORT_FILE);
  writeTextFile(out, html);
  process.stderr.write(`wrote ${out}\n`);
}

/** "0.5,0.8,1" -> [0.5, 0.8, 1], each a temperature from 0 (greedy) to 100. */
export function parseTemperatures(list: string): number[] {
  const values = list
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map(Number);
  if (values.length === 0 || values.length > 20 || values.some((v) => !Number.isFinite(v) || v < 0 || v > 100)) {
    throw new TsgptError(`option --temperatures takes comma-separated numbers from 0 to 100, got "${list}"`);
  }
  return values;
}

function formatValue(v: unknown): string {
  if (v === null || v === undefined) return '–';
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(6)));
  return typeof v === 'string' ? v : JSON.stringify(v);
}
