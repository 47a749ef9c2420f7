/**
 * tsgpt memory train-head: trains a retrieval head (W_q, W_k and a
 * temperature over any vectors, src/memory/retrieval_head.ts) on pairs (a query, the item that answers it),
 * reports recall@1, recall@5 and MRR on held-out pairs before (plain dot product) and after, and exports the
 * head as safetensors. Every input is checked before training starts, and the file is written whole at the end
 * or not at all.
 */
import { statSync } from 'node:fs';
import { dirname } from 'node:path';
import { Rng } from '../engine/random.js';
import { TsgptError } from '../errors.js';
import { RetrievalHead } from '../memory/retrieval_head.js';
import { encodeRetrievalHead, HEAD_SCORE } from '../memory/retrieval_head_file.js';
import { evaluateRetrieval, type RetrievalMetrics } from '../memory/retrieval_metrics.js';
import {
  calibratedTemperature,
  HEAD_TRAINING_DEFAULTS,
  trainRetrievalHead,
  type HeadTrainingConfig,
} from '../memory/retrieval_training.js';
import { TEXT_PAIR_SETS, type TextPairSet } from '../memory/text_pairs.js';
import { normalizePairs, splitPairs } from '../memory/vector_pairs.js';
import type { HiddenPoint } from '../models/decoder.js';
import { writeFileAtomicSync } from '../node/atomic_write.js';
import { describeFsError } from '../node/read_bounded.js';
import { formatFlagHelp, parseFlags, type FlagSpec, type FlagValue } from './flags.js';
import { fileSource, type PairSource, runSource, syntheticSource } from './memory_head_pairs.js';
import { ProgressBar } from './progress.js';

/** The command's name while it is a top-level command; it moves under `tsgpt memory` as train-head. */
export const HEAD_COMMAND = 'memory train-head';

const HIDDEN_POINTS: readonly HiddenPoint[] = ['ffn_input', 'block_output', 'head_input'];
const DEFAULTS = { syntheticCount: 2000, runCount: 4000, width: 64, noise: 1, damage: 0.1, heldOut: 0.2, validation: 0.1, seed: 1337 };

/** Flags that only one source takes, by the source's flag. */
const SOURCE_FLAGS: Record<string, readonly string[]> = {
  synthetic: ['width', 'noise'],
  from: ['pairs', 'data', 'point', 'damage'],
  queries: ['queries-field', 'items-field'],
};

export const HEAD_FLAGS: FlagSpec[] = [
  {
    name: 'synthetic',
    type: 'bool',
    help: 'pairs whose answers are known by construction: query = a hidden linear map of its item + noise',
  },
  { name: 'from', type: 'string', metavar: 'RUN', help: "pairs of passages read by a run's own model (a folder written by tsgpt train)" },
  { name: 'queries', type: 'string', metavar: 'FILE', help: 'your query vectors (.npy, .jsonl, .safetensors), one a row' },
  { name: 'items', type: 'string', metavar: 'FILE', help: 'your item vectors, same formats: row i answers query i' },
  { name: 'pairs', type: 'string', choices: TEXT_PAIR_SETS, help: 'with --from: the pair set', defaultText: 'damaged-lines' },
  { name: 'data', type: 'string', metavar: 'PATH', help: 'with --from: the text to make pairs of', defaultText: "the run's corpus" },
  {
    name: 'point',
    type: 'string',
    choices: HIDDEN_POINTS,
    help: "with --from: where in the model a passage's state is read",
    defaultText: 'ffn_input',
  },
  {
    name: 'damage',
    type: 'float',
    min: 0.01,
    max: 0.5,
    help: 'with --pairs damaged-lines: chance a character is dropped, and that it is swapped',
    defaultText: String(DEFAULTS.damage),
  },
  {
    name: 'queries-field',
    type: 'string',
    metavar: 'NAME',
    help: "the queries file's tensor (safetensors) or field (JSONL)",
    defaultText: 'its only tensor; "embedding" or "vector"',
  },
  { name: 'items-field', type: 'string', metavar: 'NAME', help: "the items file's tensor or field", defaultText: 'as --queries-field' },
  {
    name: 'count',
    type: 'int',
    min: 4,
    max: 1e7,
    help: 'pairs to make (--synthetic, --from)',
    defaultText: `${DEFAULTS.syntheticCount} synthetic, ${DEFAULTS.runCount} from a run`,
  },
  { name: 'width', type: 'int', min: 1, max: 4096, help: "with --synthetic: the vectors' width", defaultText: String(DEFAULTS.width) },
  {
    name: 'noise',
    type: 'float',
    min: 0,
    max: 100,
    help: 'with --synthetic: the noise added to each query',
    defaultText: String(DEFAULTS.noise),
  },
  { name: 'normalize', type: 'bool', help: 'scale every vector to unit length first (dot products become cosines)', defaultText: 'false' },
  {
    name: 'rank',
    type: 'int',
    min: 1,
    max: 65536,
    help: 'width r of the projections W_q, W_k [r, d]',
    defaultText: "the vectors' width d",
  },
  { name: 'steps', type: 'int', min: 0, max: 1e7, help: 'training steps', defaultText: String(HEAD_TRAINING_DEFAULTS.steps) },
  {
    name: 'lr',
    type: 'float',
    min: 0,
    max: 10,
    maxExclusive: true,
    help: 'peak learning rate (warm-up, then cosine decay to a tenth)',
    defaultText: String(HEAD_TRAINING_DEFAULTS.learningRate),
  },
  {
    name: 'batch',
    type: 'int',
    min: 2,
    max: 65536,
    help: "pairs a step: each query against its batch's items",
    defaultText: `${HEAD_TRAINING_DEFAULTS.batchSize}, or every training pair if fewer`,
  },
  {
    name: 'weight-decay',
    type: 'float',
    min: 0,
    max: 10,
    help: "AdamW's weight decay on W_q and W_k",
    defaultText: String(HEAD_TRAINING_DEFAULTS.weightDecay),
  },
  {
    name: 'temperature',
    type: 'float',
    min: 1e-6,
    max: 1e6,
    help: 'fix the temperature at this value instead of learning it',
    defaultText: "learned, from the scores' spread",
  },
  {
    name: 'held-out',
    type: 'float',
    min: 0,
    max: 1,
    maxExclusive: true,
    help: 'fraction of the pairs held out of training and measured on',
    defaultText: String(DEFAULTS.heldOut),
  },
  {
    name: 'validation',
    type: 'float',
    min: 0,
    max: 1,
    maxExclusive: true,
    help: 'fraction of the other pairs kept to choose the best weights by MRR (0: keep the last)',
    defaultText: String(DEFAULTS.validation),
  },
  {
    name: 'eval-interval',
    type: 'int',
    min: 1,
    max: 1e7,
    help: 'steps between measurements on the validation pairs',
    defaultText: String(HEAD_TRAINING_DEFAULTS.evalInterval),
  },
  {
    name: 'seed',
    type: 'int',
    min: 0,
    max: 4294967295,
    help: 'random seed (pairs, split, start, batches)',
    defaultText: String(DEFAULTS.seed),
  },
  { name: 'out', type: 'string', metavar: 'FILE', help: 'write W_q, W_k and the temperature here as safetensors, with metadata' },
  { name: 'json', type: 'bool', help: 'print the result as one JSON object', defaultText: 'false' },
  { name: 'help', type: 'bool', help: 'show this help' },
];

export const HEAD_HELP = `Usage: tsgpt ${HEAD_COMMAND} (--synthetic | --from RUN | --queries FILE --items FILE) [options]

Trains a retrieval head, one attention head over a memory: a query q and an item k of width d are scored
  ${HEAD_SCORE}
with W_q, W_k [r, d] and the temperature learned on pairs (a query, the item that answers it). The loss is
the softmax over each batch's items as a classifier (the other items are the negatives), with AdamW. It then
ranks every held-out query against all held-out items and prints recall@1, recall@5 and MRR before (plain dot
product of the raw vectors) and after, and with --out exports the head for another system to apply.

Vector files: .npy (float32 or float64, 2-D, C order, versions 1.0 to 3.0), .jsonl (a bare array of numbers a
line, or an object a line whose "embedding" or "vector" field, or the one named, holds it), .safetensors
(one F32 tensor [rows, width]). Row i of the items file answers row i of the queries file.

Options:
${formatFlagHelp(HEAD_FLAGS)}

Examples:
  tsgpt ${HEAD_COMMAND} --synthetic
  tsgpt ${HEAD_COMMAND} --from runs/baby --pairs damaged-lines --out head.safetensors
  tsgpt ${HEAD_COMMAND} --queries q.npy --items docs.npy --normalize --rank 64 --out head.safetensors`;

export interface HeadResult {
  source: string;
  width: number;
  rank: number;
  train_pairs: number;
  held_out_pairs: number;
  steps: number;
  batch: number;
  temperature: { start: number; end: number; learned: boolean };
  last_loss: number | null;
  /** The step whose weights the head ends with (the best on the validation pairs). */
  best_step: number;
  validation_pairs: number;
  train_seconds: number;
  before: RetrievalMetrics;
  after: RetrievalMetrics;
  out: string | null;
}

export async function memoryHeadCommand(args: readonly string[]): Promise<void> {
  const flags = parseFlags(args, HEAD_FLAGS, HEAD_COMMAND);
  const num = (name: string, fallback: number) => (flags.get(name) as number | undefined) ?? fallback;
  const str = (name: string) => flags.get(name) as string | undefined;
  const source = chooseSource(flags);
  const out = str('out');
  if (out !== undefined) checkOutPath(out);
  const seed = num('seed', DEFAULTS.seed);
  const heldOutFraction = num('held-out', DEFAULTS.heldOut);
  if (heldOutFraction === 0) throw new TsgptError('--held-out must be more than 0: the metrics are measured on held-out pairs');
  const json = flags.get('json') === true;
  const log = (line: string) => process.stderr.write(`${line}\n`);

  let loaded: PairSource;
  if (source === 'synthetic') {
    loaded = syntheticSource({
      count: num('count', DEFAULTS.syntheticCount),
      width: num('width', DEFAULTS.width),
      noise: num('noise', DEFAULTS.noise),
      seed,
    });
  } else if (source === 'from') {
    loaded = await runSource({
      run: str('from')!,
      set: (str('pairs') ?? 'damaged-lines') as TextPairSet,
      ...(str('data') !== undefined ? { data: str('data')! } : {}),
      point: (str('point') ?? 'ffn_input') as HiddenPoint,
      count: num('count', DEFAULTS.runCount),
      damage: num('damage', DEFAULTS.damage),
      seed,
      log,
    });
  } else {
    loaded = fileSource({
      queries: str('queries')!,
      items: str('items')!,
      ...(str('queries-field') !== undefined ? { queriesField: str('queries-field')! } : {}),
      ...(str('items-field') !== undefined ? { itemsField: str('items-field')! } : {}),
    });
  }
  const { pairs } = loaded;
  const normalize = flags.get('normalize') === true;
  if (normalize) normalizePairs(pairs);
  const validationFraction = num('validation', DEFAULTS.validation);
  const { train, validation, heldOut } = splitPairs(pairs, heldOutFraction, validationFraction, new Rng(seed + 1));

  const rank = num('rank', pairs.width);
  if (rank > pairs.width) throw new TsgptError(`--rank ${rank} is more than the vectors' width ${pairs.width}`);
  const batchGiven = flags.get('batch') as number | undefined;
  if (batchGiven !== undefined && batchGiven > train.count) {
    throw new TsgptError(`--batch ${batchGiven} is more than the ${train.count} training pairs`);
  }
  const config: HeadTrainingConfig = {
    steps: num('steps', HEAD_TRAINING_DEFAULTS.steps),
    batchSize: batchGiven ?? Math.min(HEAD_TRAINING_DEFAULTS.batchSize, train.count),
    learningRate: num('lr', HEAD_TRAINING_DEFAULTS.learningRate),
    weightDecay: num('weight-decay', HEAD_TRAINING_DEFAULTS.weightDecay),
    gradClip: HEAD_TRAINING_DEFAULTS.gradClip,
    evalInterval: num('eval-interval', HEAD_TRAINING_DEFAULTS.evalInterval),
  };

  const fixed = flags.get('temperature') as number | undefined;
  const head = new RetrievalHead(pairs.width, new Rng(seed + 2), { rank, learnTemperature: fixed === undefined });
  try {
    const start = fixed ?? calibratedTemperature(head, train, config.batchSize);
    head.logTemperature.data[0] = Math.log(start);
    const before = evaluateRetrieval(heldOut, null);
    log(`${loaded.summary}${normalize ? ', normalised' : ''}`);
    log(
      `${train.count} pairs to train on, ${validation?.count ?? 0} to validate on, ${heldOut.count} held out; head of rank ${rank}, ` +
        `temperature ${fixed === undefined ? 'learned from' : 'fixed at'} ${start.toPrecision(3)}`,
    );
    const bar = new ProgressBar(config.steps, process.stderr, 0, 'pairs');
    const trained = await trainRetrievalHead(head, train, validation, config, new Rng(seed + 3), {
      onStep: (r) => bar.update(r.step, r.loss, r.ms, config.batchSize),
      onEval: (e) =>
        bar.log(
          `step ${e.step}: validation recall@1 ${e.metrics.recallAt1.toFixed(3)}, recall@5 ${e.metrics.recallAt5.toFixed(3)}, ` +
            `MRR ${e.metrics.mrr.toFixed(3)}${e.best ? ' (best so far)' : ''}`,
        ),
    });
    const seconds = bar.finish();
    const after = evaluateRetrieval(heldOut, head);
    const result: HeadResult = {
      source: loaded.summary,
      width: pairs.width,
      rank,
      train_pairs: train.count,
      held_out_pairs: heldOut.count,
      steps: config.steps,
      batch: config.batchSize,
      temperature: { start, end: head.temperature, learned: fixed === undefined },
      last_loss: trained.lastLoss,
      best_step: trained.bestStep,
      validation_pairs: validation?.count ?? 0,
      train_seconds: seconds,
      before,
      after,
      out: out ?? null,
    };
    if (out !== undefined) {
      const metadata = {
        ...loaded.metadata,
        normalized: String(normalize),
        training: JSON.stringify({
          ...config,
          seed,
          heldOut: heldOutFraction,
          validation: validationFraction,
          trainPairs: train.count,
          validationPairs: validation?.count ?? 0,
          heldOutPairs: heldOut.count,
          bestStep: trained.bestStep,
        }),
        metrics: JSON.stringify({ before, after }),
      };
      try {
        writeFileAtomicSync(out, encodeRetrievalHead(head, metadata));
      } catch (e) {
        throw new TsgptError(`cannot write ${out}: ${describeFsError(e)}`);
      }
    }
    process.stdout.write(json ? `${JSON.stringify(result)}\n` : summary(result));
  } finally {
    head.dispose();
  }
}

/** Which source the flags name; exactly one, and no flag of another. */
function chooseSource(flags: Map<string, FlagValue>): 'synthetic' | 'from' | 'queries' {
  if (flags.has('queries') !== flags.has('items'))
    throw new TsgptError('give --queries FILE and --items FILE together: row i of the items answers query i');
  const given = (['synthetic', 'from', 'queries'] as const).filter((s) => (s === 'synthetic' ? flags.get(s) === true : flags.has(s)));
  if (given.length !== 1) {
    throw new TsgptError(
      given.length === 0
        ? `tsgpt ${HEAD_COMMAND} needs pairs: --synthetic, --from RUN, or --queries FILE --items FILE`
        : `give one source of pairs, not ${given.map((s) => `--${s}`).join(' and ')}`,
    );
  }
  const source = given[0]!;
  for (const [owner, names] of Object.entries(SOURCE_FLAGS)) {
    if (owner === source) continue;
    for (const name of names) if (flags.has(name)) throw new TsgptError(`--${name} applies to --${owner} only`);
  }
  if (source === 'queries' && flags.has('count'))
    throw new TsgptError('--count applies to --synthetic and --from; a vector file gives all its rows');
  if (source === 'from' && flags.has('damage') && flags.get('pairs') === 'replies')
    throw new TsgptError('--damage applies to --pairs damaged-lines only');
  return source;
}

/** The file can be written: its folder exists and it is not a folder. Checked before any work is done. */
function checkOutPath(out: string): void {
  const folder = dirname(out);
  try {
    if (!statSync(folder).isDirectory()) throw new TsgptError(`cannot write ${out}: ${folder} is not a folder`);
  } catch (e) {
    if (e instanceof TsgptError) throw e;
    throw new TsgptError(`cannot write ${out}: its folder ${folder}: ${describeFsError(e)}`);
  }
  try {
    if (statSync(out).isDirectory()) throw new TsgptError(`cannot write ${out}: it is a folder`);
  } catch (e) {
    if (e instanceof TsgptError) throw e;
  }
}

function summary(r: HeadResult): string {
  const row = (name: string, m: { recallAt1: number; recallAt5: number; mrr: number }, sign = false) =>
    `  ${name.padEnd(8)}${[m.recallAt1, m.recallAt5, m.mrr].map((v) => (sign && v >= 0 ? `+${v.toFixed(3)}` : v.toFixed(3)).padStart(10)).join('')}`;
  const change = {
    recallAt1: r.after.recallAt1 - r.before.recallAt1,
    recallAt5: r.after.recallAt5 - r.before.recallAt5,
    mrr: r.after.mrr - r.before.mrr,
  };
  return [
    `held out: ${r.held_out_pairs} pairs, each query ranked against all ${r.held_out_pairs} items`,
    `          recall@1  recall@5       MRR`,
    row('before', r.before),
    row('after', r.after),
    row('change', change, true),
    `head: rank ${r.rank} over width ${r.width}; temperature ${r.temperature.start.toPrecision(3)} -> ${r.temperature.end.toPrecision(3)}` +
      `${r.temperature.learned ? '' : ' (fixed)'}; ${r.steps} steps of ${r.batch} pairs in ${r.train_seconds.toFixed(1)} s` +
      `${r.last_loss !== null ? `, last loss ${r.last_loss.toFixed(4)}` : ''}`,
    r.validation_pairs > 0
      ? `weights of step ${r.best_step}, the best MRR on ${r.validation_pairs} validation pairs${r.best_step === 0 ? ' (training did not beat the start)' : ''}`
      : 'weights of the last step (no validation pairs)',
    r.out !== null ? `wrote ${r.out} (W_q, W_k, temperature)` : 'not saved (give --out FILE to export the head)',
    '',
  ].join('\n');
}
