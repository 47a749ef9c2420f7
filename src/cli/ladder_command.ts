/**
 * tsgpt ladder: train each stage of the lecture on the corpus and print what each idea bought. Parameters are
 * counted as the lecture's code prints them (every parameter, position embeddings included).
 */
import { Rng } from '../engine/random.js';
import { splitTrainVal } from '../data/split.js';
import { loadCorpus } from '../node/corpus.js';
import { createModel } from '../models/index.js';
import { CharTokenizer } from '../tokenizers/char.js';
import { LADDER, LECTURE_STAGE, type LadderStage } from '../train/ladder.js';
import { Trainer } from '../train/trainer.js';
import { TsgptError } from '../errors.js';
import { formatFlagHelp, parseFlags, type FlagSpec } from './flags.js';
import { MODERN_LADDER_HELP, modernLadderCommand } from './modern_ladder_command.js';
import { formatDuration } from './progress.js';

export const LADDER_FLAGS: FlagSpec[] = [
  { name: 'data', type: 'string', metavar: 'PATH', help: 'UTF-8 text file to train on', defaultText: '$TSGPT_DATA, else Tiny Shakespeare' },
  {
    name: 'max-iters',
    type: 'int',
    min: 1,
    max: 1e9,
    help: 'cap every stage at this many steps (a smoke run)',
    defaultText: "each stage's own: 3000 or 5000",
  },
  { name: 'eval-iters', type: 'int', min: 1, max: 1e6, help: 'batches per split in each evaluation', defaultText: '200' },
  {
    name: 'stages',
    type: 'string',
    metavar: 'A,B',
    help: `run only these stages (${[...LADDER, LECTURE_STAGE].map((s) => s.name).join(', ')})`,
    defaultText: 'all but lecture',
  },
  { name: 'with-lecture', type: 'bool', help: 'add the scaled-up lecture model as the last stage (hours on a CPU)', defaultText: 'false' },
  { name: 'seed', type: 'int', min: 0, max: 4294967295, help: 'random seed', defaultText: '1337' },
  { name: 'json', type: 'bool', help: 'print one JSON object a line per stage instead of a table', defaultText: 'false' },
  { name: 'modern', type: 'bool', help: 'the modern ladder instead (below)', defaultText: 'false' },
  { name: 'help', type: 'bool', help: 'show this help' },
];

export const LADDER_HELP = `Usage: tsgpt ladder [options]

Trains each stage of the lecture with the lecture's settings (batch 32, context 8, width 32, learning rate
1e-3, 5000 steps; the bigram 1e-2 for 3000; evaluation over 200 batches every 500 steps) and prints stage,
what it adds, parameters, final train and validation loss and wall time.

Options:
${formatFlagHelp(LADDER_FLAGS)}

${MODERN_LADDER_HELP}`;

export interface LadderRow {
  stage: string;
  adds: string;
  params: number;
  train_loss: number;
  val_loss: number;
  seconds: number;
  steps: number;
}

export async function ladderCommand(args: readonly string[]): Promise<void> {
  if (args.some((a) => a === '--modern' || /^--modern=(true|1|yes)$/i.test(a))) return modernLadderCommand(args);
  const flags = parseFlags(args, LADDER_FLAGS, 'ladder');
  let stages: LadderStage[] = [...LADDER, ...(flags.get('with-lecture') ? [LECTURE_STAGE] : [])];
  const only = flags.get('stages') as string | undefined;
  if (only !== undefined) {
    const all = [...LADDER, LECTURE_STAGE];
    stages = only.split(',').map((name) => {
      const stage = all.find((s) => s.name === name.trim());
      if (stage === undefined) throw new TsgptError(`unknown stage "${name}"; stages are ${all.map((s) => s.name).join(', ')}`);
      return stage;
    });
  }
  const json = flags.get('json') === true;
  const err = (line: string) => process.stderr.write(`${line}\n`);
  const corpus = await loadCorpus({ path: flags.get('data') as string | undefined, log: err });
  const tokenizer = CharTokenizer.fromText(corpus.text);
  const { train, val } = splitTrainVal(tokenizer.encode(corpus.text));
  const maxIters = flags.get('max-iters') as number | undefined;
  const evalIters = flags.get('eval-iters') as number | undefined;
  const seed = (flags.get('seed') as number | undefined) ?? 1337;

  const rows: LadderRow[] = [];
  if (!json) process.stdout.write(`${tableHeader()}\n`);
  for (const stage of stages) {
    const steps = Math.min(stage.run.maxIters, maxIters ?? Infinity);
    const run = {
      ...stage.run,
      seed,
      maxIters: steps,
      lrDecayIters: Math.min(stage.run.lrDecayIters, steps),
      evalInterval: Math.min(stage.run.evalInterval, steps),
      evalIters: evalIters ?? stage.run.evalIters,
    };
    if (val.length <= run.blockSize)
      throw new TsgptError(`${corpus.source} is too short for the ${stage.name} stage's context of ${run.blockSize}`);
    const rng = new Rng(seed);
    const model = createModel(stage.model(tokenizer.vocabSize), rng);
    const trainer = new Trainer(model, run, train, val, rng);
    const started = performance.now();
    let last = { trainLoss: NaN, valLoss: NaN };
    if (!json) err(`training ${stage.name} (${steps} steps)...`);
    await trainer.run({ onEval: (e) => void (last = e) });
    const row: LadderRow = {
      stage: stage.name,
      adds: stage.adds,
      params: model.numParameters(),
      train_loss: last.trainLoss,
      val_loss: last.valLoss,
      seconds: (performance.now() - started) / 1000,
      steps,
    };
    model.dispose();
    trainer.disposeOptimizers();
    rows.push(row);
    process.stdout.write(`${json ? JSON.stringify(row) : tableRow(row)}\n`);
  }
  if (!json) err(`ladder done in ${formatDuration(rows.reduce((s, r) => s + r.seconds, 0))}`);
}

function tableHeader(): string {
  return `${'stage'.padEnd(16)} ${'adds'.padEnd(58)} ${'params'.padStart(10)} ${'train'.padStart(7)} ${'val'.padStart(7)} ${'seconds'.padStart(8)}`;
}

function tableRow(r: LadderRow): string {
  return (
    `${r.stage.padEnd(16)} ${r.adds.padEnd(58)} ${r.params.toLocaleString('en-US').padStart(10)} ` +
    `${r.train_loss.toFixed(4).padStart(7)} ${r.val_loss.toFixed(4).padStart(7)} ${r.seconds.toFixed(1).padStart(8)}`
  );
}
