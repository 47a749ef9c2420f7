/**
 * tsgpt memory: a memory a run's model reads by attention (src/memory/).
 *   build   stream a text through the model and keep every position's hidden state as a key
 *   eval    the loss on a text with and without the memory; --sweep tunes the scoring on half of it
 *   search  which stored passages a query attends to, with weights that sum to 1 (and an HTML page)
 */
import { createHash } from 'node:crypto';
import { TsgptError } from '../errors.js';
import { GPT } from '../models/gpt.js';
import { buildMemory } from '../memory/build_memory.js';
import { collectEvidence, type LossReport, lossWithMemory, sweep } from '../memory/memory_eval.js';
import { passages } from '../memory/passages.js';
import { memorySearchPage } from '../viz/memory_page.js';
import type { MemoryScoring } from '../memory/memory_config.js';
import { loadCorpus } from '../node/corpus.js';
import { readMemoryConfig, saveMemory } from '../node/memory_folder.js';
import { type LoadedRun, loadRun } from '../node/run_folder.js';
import { writeTextFile } from '../node/atomic_write.js';
import type { Tokenizer } from '../tokenizers/tokenizer.js';
import { type FlagSpec, type FlagValue, formatFlagHelp, parseFlags } from './flags.js';
import { MEMORY_SCORING_FLAGS, openMemoryFor, scoringFromFlags, scoringOverrides } from './memory_flags.js';
import { CountBar } from './progress.js';
import { writeStdout } from './stdout.js';
import { encodeOptionsFromFlags, unknownCharacterFlags } from './text_flags.js';

const TEXT_FLAGS = unknownCharacterFlags('the text');

const BUILD_FLAGS: FlagSpec[] = [
  { name: 'from', type: 'string', metavar: 'RUN', help: 'run folder whose model reads the text (required)' },
  { name: 'text', type: 'string', metavar: 'FILE', help: 'UTF-8 text to remember (required)' },
  { name: 'out', type: 'string', metavar: 'MEM', help: 'memory folder to write (required)' },
  {
    name: 'point',
    type: 'string',
    choices: ['ffn_input', 'block_output', 'head_input'],
    help: "where in the model keys are read: the last block's feed-forward input (kNN-LM's), its output, or the head's input",
    defaultText: 'ffn_input',
  },
  { name: 'stride', type: 'int', min: 1, max: 65536, help: 'tokens between window starts', defaultText: 'half the block size' },
  { name: 'dtype', type: 'string', choices: ['f32', 'f16'], help: 'how keys are stored on disk (f16: half the size)', defaultText: 'f32' },
  ...TEXT_FLAGS,
  ...MEMORY_SCORING_FLAGS,
  { name: 'help', type: 'bool', help: 'show this help' },
];

const EVAL_FLAGS: FlagSpec[] = [
  { name: 'from', type: 'string', metavar: 'RUN', help: 'run folder (required)' },
  { name: 'memory', type: 'string', metavar: 'MEM', help: 'memory folder built for that run (required)' },
  { name: 'text', type: 'string', metavar: 'FILE', help: "UTF-8 text to measure the loss on (required; not the memory's own text)" },
  { name: 'positions', type: 'int', min: 1, max: 1e9, help: 'measure on the first N positions only', defaultText: 'all' },
  { name: 'sweep', type: 'bool', help: 'choose the scoring on the first half of the positions, report it on the second' },
  { name: 'json', type: 'bool', help: 'print one JSON object' },
  ...TEXT_FLAGS,
  ...MEMORY_SCORING_FLAGS,
  { name: 'help', type: 'bool', help: 'show this help' },
];

const SEARCH_FLAGS: FlagSpec[] = [
  { name: 'memory', type: 'string', metavar: 'MEM', help: 'memory folder (required)' },
  {
    name: 'from',
    type: 'string',
    metavar: 'RUN',
    help: "run folder of the memory's model",
    defaultText: 'the one the memory was built from',
  },
  { name: 'query', type: 'string', metavar: 'TEXT', help: 'the text whose next token the memory is asked about (required)' },
  { name: 'k', type: 'int', min: 1, max: 10000, help: 'passages to show', defaultText: '10' },
  { name: 'html', type: 'string', metavar: 'FILE', help: 'also write an HTML page of the passages, shaded by weight' },
  { name: 'json', type: 'bool', help: 'print one JSON object' },
  ...TEXT_FLAGS,
  ...MEMORY_SCORING_FLAGS.filter((f) => f.name !== 'memory-k' && f.name !== 'memory-lambda' && f.name !== 'memory-match-lambda'),
  { name: 'help', type: 'bool', help: 'show this help' },
];

export const MEMORY_HELP = `Usage: tsgpt memory build --from RUN --text FILE --out MEM [options]
       tsgpt memory eval --from RUN --memory MEM --text FILE [--sweep] [--json] [options]
       tsgpt memory search --memory MEM --query TEXT [--k N] [--html FILE] [--json] [options]

A memory of text that a run's model reads by attention, beyond its context window (kNN-LM): every position's
hidden state is a key, the token that followed it the value. Sample with it: tsgpt sample --from RUN --memory MEM.

build:
${formatFlagHelp(BUILD_FLAGS)}

eval:
${formatFlagHelp(EVAL_FLAGS)}

search:
${formatFlagHelp(SEARCH_FLAGS)}`;

export async function memoryCommand(args: readonly string[]): Promise<void> {
  const [sub, ...rest] = args;
  if (sub === 'build') return build(parseFlags(rest, BUILD_FLAGS, 'memory build'));
  if (sub === 'eval') return evaluate(parseFlags(rest, EVAL_FLAGS, 'memory eval'));
  if (sub === 'search') return search(parseFlags(rest, SEARCH_FLAGS, 'memory search'));
  throw new TsgptError(
    sub === undefined
      ? 'tsgpt memory needs a subcommand: build, eval or search'
      : `unknown memory subcommand "${sub}": use build, eval or search`,
  );
}

const log = (line: string) => process.stderr.write(`${line}\n`);

function required(flags: Map<string, FlagValue>, name: string, command: string): string {
  const v = flags.get(name);
  if (v === undefined) throw new TsgptError(`tsgpt memory ${command} needs --${name}`);
  return v as string;
}

/** A run whose model can be a memory's: a GPT. */
function gptRun(dir: string): LoadedRun & { model: GPT } {
  const run = loadRun(dir);
  if (!(run.model instanceof GPT)) {
    run.model.dispose();
    throw new TsgptError(`${dir} holds a bigram model, which has no hidden state to remember with; use a GPT run`);
  }
  return run as LoadedRun & { model: GPT };
}

/** The file's text as the run's tokens, with its SHA-256. */
async function readTokens(
  flags: Map<string, FlagValue>,
  path: string,
  tokenizer: Tokenizer,
): Promise<{ tokens: Int32Array; sha256: string; characters: number }> {
  const { text } = await loadCorpus({ path, log });
  const tokens = tokenizer.encode(text, encodeOptionsFromFlags(flags, path));
  if (tokens.length < 2)
    throw new TsgptError(`${path} holds ${tokens.length} token${tokens.length === 1 ? '' : 's'}; a memory needs at least two`);
  return { tokens, sha256: createHash('sha256').update(text, 'utf8').digest('hex'), characters: [...text].length };
}

async function build(flags: Map<string, FlagValue>): Promise<void> {
  const runDir = required(flags, 'from', 'build');
  const textPath = required(flags, 'text', 'build');
  const out = required(flags, 'out', 'build');
  const run = gptRun(runDir);
  const { tokens, sha256 } = await readTokens(flags, textPath, run.tokenizer);
  const scoring = scoringOverrides(flags);
  const bar = new CountBar('reading', tokens.length - 1, process.stderr);
  const memory = buildMemory(run.model, tokens, {
    tokenizer: run.tokenizer,
    point: flags.get('point') as 'ffn_input' | undefined,
    stride: flags.get('stride') as number | undefined,
    dtype: flags.get('dtype') === 'f16' ? 'F16' : 'F32',
    scoring,
    source: textPath,
    textSha256: sha256,
    weightsSha256: run.weightsSha256,
    run: runDir,
    onProgress: (done) => bar.update(done),
  });
  const seconds = bar.finish();
  try {
    saveMemory(out, memory);
    const c = memory.config;
    log(
      `memory: ${c.count.toLocaleString('en-US')} keys of width ${c.model.width} (${c.point}, ${c.dtype}) in ${out}, read in ${seconds.toFixed(1)} s ` +
        `(${Math.round(c.count / seconds).toLocaleString('en-US')} positions/s); temperature ${c.scoring.temperature.toPrecision(3)}`,
    );
    log(`sample with it: tsgpt sample --from ${runDir} --memory ${out}`);
  } finally {
    memory.dispose();
    run.model.dispose();
  }
}

async function evaluate(flags: Map<string, FlagValue>): Promise<void> {
  const runDir = required(flags, 'from', 'eval');
  const memDir = required(flags, 'memory', 'eval');
  const textPath = required(flags, 'text', 'eval');
  const run = gptRun(runDir);
  const memory = openMemoryFor(memDir, runDir, run);
  try {
    const scoring = scoringFromFlags(flags, memory);
    let { tokens, sha256, characters } = await readTokens(flags, textPath, run.tokenizer);
    if (sha256 === memory.config.text.sha256) {
      throw new TsgptError(
        `${textPath} is the text memory ${memDir} was built from: every position would find itself; measure on another text`,
      );
    }
    const limit = flags.get('positions') as number | undefined;
    if (limit !== undefined && limit + 1 < tokens.length) {
      characters = Math.round((characters * (limit + 1)) / tokens.length);
      tokens = tokens.subarray(0, limit + 1);
    }
    const sweeping = flags.get('sweep') === true;
    if (sweeping && tokens.length < 5)
      throw new TsgptError('--sweep needs a text of at least four positions: half to choose on, half to report');
    const bar = new CountBar('measuring', tokens.length - 1, process.stderr);
    const evidence = collectEvidence(run.model, memory, tokens, {
      kMax: sweeping ? Math.max(scoring.k, Math.min(128, memory.count)) : scoring.k,
      onProgress: (done) => bar.update(done),
    });
    bar.finish();
    // Bits per character, so tokenizers compare: nats per token, times tokens per character, over ln 2.
    const perChar = (tokens.length - 1) / Math.max(1, characters) / Math.LN2;
    const describeReport = (r: LossReport, s: MemoryScoring) => ({
      loss: r.loss,
      loss_with_memory: r.lossWithMemory,
      bits_per_character: r.loss * perChar,
      bits_per_character_with_memory: r.lossWithMemory * perChar,
      positions: r.positions,
      score: s.score,
      k: s.k,
      lambda: s.lambda,
      temperature: s.temperature,
      match_bonus: s.matchBonus,
      match_min: s.matchMin,
      match_lambda: s.matchLambda,
    });
    if (!sweeping) {
      const report = describeReport(lossWithMemory(evidence, scoring), scoring);
      if (flags.get('json') === true) writeStdout(`${JSON.stringify(report)}\n`);
      else printLosses('all positions', report);
      return;
    }
    const result = sweep(evidence, scoring);
    const chosen = describeReport(result.reported, result.best);
    if (flags.get('json') === true) {
      writeStdout(
        `${JSON.stringify({ ...chosen, sweep: { tried: result.tried, chosen_on: describeReport(result.tuned, result.best) } })}\n`,
      );
      return;
    }
    writeStdout(`tried ${result.tried} settings on the first ${result.tuned.positions.toLocaleString('en-US')} positions; the best:\n`);
    writeStdout(
      `  score ${chosen.score}, k ${chosen.k}, temperature ${chosen.temperature.toPrecision(3)}, lambda ${chosen.lambda}, ` +
        `match bonus ${chosen.match_bonus}, match lambda ${chosen.match_lambda}\n`,
    );
    printLosses('first half, where it was chosen', describeReport(result.tuned, result.best));
    printLosses('second half, which took no part in choosing', chosen);
  } finally {
    memory.dispose();
    run.model.dispose();
  }
}

function printLosses(
  where: string,
  r: { loss: number; loss_with_memory: number; bits_per_character: number; bits_per_character_with_memory: number; positions: number },
): void {
  writeStdout(
    `${where} (${r.positions.toLocaleString('en-US')} positions): loss ${r.loss.toFixed(4)} nats alone, ${r.loss_with_memory.toFixed(4)} with the memory ` +
      `(${(r.loss_with_memory - r.loss).toFixed(4)}); ${r.bits_per_character.toFixed(3)} -> ${r.bits_per_character_with_memory.toFixed(3)} bits per character\n`,
  );
}

async function search(flags: Map<string, FlagValue>): Promise<void> {
  const memDir = required(flags, 'memory', 'search');
  const query = required(flags, 'query', 'search');
  let runDir = flags.get('from') as string | undefined;
  if (runDir === undefined) {
    runDir = readMemoryConfig(memDir).model.run;
    if (runDir === undefined) throw new TsgptError(`memory ${memDir} does not say which run it was built from; give --from RUN`);
  }
  const run = gptRun(runDir);
  const memory = openMemoryFor(memDir, runDir, run);
  try {
    const scoring = { ...scoringFromFlags(flags, memory), k: Math.min((flags.get('k') as number | undefined) ?? 10, memory.count) };
    const ids = Array.from(run.tokenizer.encode(query, encodeOptionsFromFlags(flags, 'query')));
    if (ids.length === 0) throw new TsgptError('the query is empty');
    const decoder = run.model.decoder(1, { hidden: memory.config.point });
    let hidden: Float32Array;
    try {
      decoder.step([ids.slice(-run.model.blockSize)]);
      hidden = decoder.hidden().slice();
    } finally {
      decoder.dispose();
    }
    const found = memory.neighbours(hidden, [ids], scoring);
    const hits = passages(memory, run.tokenizer, found, 0, scoring.temperature);
    if (flags.get('json') === true) writeStdout(`${JSON.stringify({ query, memory: memDir, passages: hits })}\n`);
    else {
      for (const h of hits) {
        const shown = `${h.before}[${h.value}]${h.after}`.replace(/\n/g, '⏎');
        writeStdout(`${(100 * h.weight).toFixed(1).padStart(5)}%  match ${String(h.match).padStart(2)}  at ${h.index}  ${shown}\n`);
      }
    }
    const html = flags.get('html') as string | undefined;
    if (html !== undefined) {
      writeTextFile(html, memorySearchPage({ query, memory: memDir, run: runDir, passages: hits }));
      log(`wrote ${html}`);
    }
  } finally {
    memory.dispose();
    run.model.dispose();
  }
}
