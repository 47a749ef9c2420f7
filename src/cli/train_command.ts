/**
 * tsgpt train: preset + flags -> corpus -> tokenizer -> model -> Trainer, with a progress bar, a JSON-lines
 * log of every step and evaluation, and the best checkpoint (by validation loss) kept in the run folder.
 */
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Rng } from '../engine/random.js';
import { TsgptError } from '../errors.js';
import { loadCorpus, splitTrainVal } from '../data/corpus.js';
import { createModel, reportedParameterCount } from '../models/index.js';
import { CharTokenizer } from '../tokenizers/char.js';
import { isPresetName, modelConfigFor, PRESETS, type PresetName, type RunConfig } from '../train/config.js';
import { Trainer } from '../train/trainer.js';
import { LOG_FILE, saveRun } from '../checkpoint/run_folder.js';
import { RUN_FORMAT, RUN_FORMAT_VERSION, type RunFile } from '../checkpoint/run_config.js';
import { formatFlagHelp, parseFlags, type FlagSpec } from './flags.js';
import { formatDuration, ProgressBar } from './progress.js';

type RunKey = keyof RunConfig;

/** Every hyperparameter flag: nanoGPT's config name in kebab-case, and the RunConfig field it sets. */
const HYPERPARAMETERS: [RunKey, Omit<FlagSpec, 'name' | 'defaultText'>][] = [
  ['model', { type: 'string', choices: ['bigram', 'gpt'], help: 'model family' }],
  ['style', { type: 'string', choices: ['nanogpt', 'lecture'], help: 'GPT form: nanoGPT (GELU, fused qkv, tied head) or the lecture\'s gpt.py' }],
  ['nLayer', { type: 'int', min: 1, max: 256, help: 'transformer blocks' }],
  ['nHead', { type: 'int', min: 1, max: 1024, help: 'attention heads per block' }],
  ['nEmbd', { type: 'int', min: 1, max: 65536, help: 'embedding width' }],
  ['dropout', { type: 'float', min: 0, max: 1, maxExclusive: true, help: 'dropout probability' }],
  ['bias', { type: 'bool', help: 'biases in Linear layers and LayerNorms' }],
  ['blockSize', { type: 'int', min: 1, max: 65536, help: 'context length T' }],
  ['batchSize', { type: 'int', min: 1, max: 65536, help: 'sequences per micro-batch B' }],
  ['maxIters', { type: 'int', min: 0, max: 1e9, help: 'optimizer steps' }],
  ['evalInterval', { type: 'int', min: 1, max: 1e9, help: 'evaluate every this many steps' }],
  ['evalIters', { type: 'int', min: 1, max: 1e6, help: 'batches per split in each evaluation' }],
  ['learningRate', { type: 'float', min: 1e-12, max: 10, help: 'peak learning rate' }],
  ['decayLr', { type: 'bool', help: 'warm-up then cosine decay (else a constant rate)' }],
  ['minLr', { type: 'float', min: 0, max: 10, help: 'learning rate at the end of the decay' }],
  ['warmupIters', { type: 'int', min: 0, max: 1e9, help: 'linear warm-up steps' }],
  ['lrDecayIters', { type: 'int', min: 0, max: 1e9, help: 'step at which the decay reaches min-lr' }],
  ['weightDecay', { type: 'float', min: 0, max: 10, help: 'AdamW decoupled weight decay (2-D weights only)' }],
  ['beta1', { type: 'float', min: 0, max: 1, maxExclusive: true, help: 'AdamW beta1' }],
  ['beta2', { type: 'float', min: 0, max: 1, maxExclusive: true, help: 'AdamW beta2' }],
  ['gradClip', { type: 'float', min: 0, max: 1e6, help: 'clip the global gradient norm to this (0: off)' }],
  ['gradientAccumulationSteps', { type: 'int', min: 1, max: 1e6, help: 'micro-batches per optimizer step' }],
  ['seed', { type: 'int', min: 0, max: 4294967295, help: 'random seed (init, batches, dropout)' }],
];

export function kebab(key: string): string {
  return key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
}

function presetValues(key: RunKey): string {
  return (Object.keys(PRESETS) as PresetName[]).map((p) => `${p} ${String(PRESETS[p][key])}`).join(', ');
}

export const TRAIN_FLAGS: FlagSpec[] = [
  { name: 'preset', type: 'string', choices: Object.keys(PRESETS), help: 'starting configuration', defaultText: 'baby' },
  { name: 'data', type: 'string', metavar: 'PATH', help: 'UTF-8 text file to train on', defaultText: '$TSGPT_DATA, else Tiny Shakespeare (downloaded once, cached)' },
  { name: 'out', type: 'string', metavar: 'DIR', help: 'run folder for the checkpoint and logs', defaultText: 'runs/<preset>' },
  ...HYPERPARAMETERS.map(([key, spec]) => ({ ...spec, name: kebab(key), defaultText: presetValues(key) })),
  { name: 'help', type: 'bool', help: 'show this help' },
];

export const TRAIN_HELP = `Usage: tsgpt train [options]

Trains a model and keeps the checkpoint with the best validation loss in the run folder
(model.safetensors, config.json, log.jsonl). Every option overrides the preset's value.

Presets:
  bigram   the lecture's bigram model (B=32, T=8, lr 1e-2, 3000 steps)
  baby     nanoGPT's CPU run: 4 layers, 4 heads, width 128, T=64, B=12, 2000 steps
  lecture  the lecture's final gpt.py: 6 layers, 6 heads, width 384, T=256, B=64, dropout 0.2, 5000 steps

Options:
${formatFlagHelp(TRAIN_FLAGS)}`;

/** The run config from a preset and the flags that override it, checked as a whole. */
export function resolveRunConfig(flags: Map<string, unknown>): { preset: PresetName; config: RunConfig } {
  const preset = (flags.get('preset') as string | undefined) ?? 'baby';
  if (!isPresetName(preset)) throw new TsgptError(`unknown preset "${preset}"`);
  const config: RunConfig = { ...PRESETS[preset] };
  const writable = config as unknown as Record<string, unknown>;
  for (const [key] of HYPERPARAMETERS) {
    const v = flags.get(kebab(key));
    if (v !== undefined) writable[key] = v;
  }
  // A GPT flag on the bigram preset means the user wants a GPT: say so instead of silently ignoring it.
  if (config.model === 'gpt' && config.nLayer === 0) {
    throw new TsgptError('--model gpt needs --n-layer, --n-head and --n-embd (or start from --preset baby)');
  }
  if (config.model === 'gpt' && config.nEmbd % config.nHead !== 0) {
    throw new TsgptError(`--n-embd (${config.nEmbd}) must be divisible by --n-head (${config.nHead})`);
  }
  if (config.decayLr && config.minLr > config.learningRate) {
    throw new TsgptError(`--min-lr (${config.minLr}) is above --learning-rate (${config.learningRate})`);
  }
  if (config.decayLr && config.lrDecayIters < config.warmupIters) {
    throw new TsgptError(`--lr-decay-iters (${config.lrDecayIters}) is shorter than --warmup-iters (${config.warmupIters})`);
  }
  return { preset, config };
}


export async function trainCommand(args: readonly string[]): Promise<void> {
  const flags = parseFlags(args, TRAIN_FLAGS, 'train');
  if (flags.get('help')) {
    process.stdout.write(TRAIN_HELP + '\n');
    return;
  }
  const { preset, config } = resolveRunConfig(flags);
  const outDir = (flags.get('out') as string | undefined) ?? join('runs', preset);
  const err = (line: string) => process.stderr.write(line + '\n');

  const corpus = await loadCorpus({ path: flags.get('data') as string | undefined, log: err });
  const tokenizer = CharTokenizer.fromText(corpus.text);
  const { train, val } = splitTrainVal(tokenizer.encode(corpus.text));
  if (val.length <= config.blockSize) {
    throw new TsgptError(
      `${corpus.source} is too short for --block-size ${config.blockSize}: its validation split has ${val.length} tokens; ` +
      `use a longer text or a smaller --block-size`,
    );
  }
  const modelConfig = modelConfigFor(config, tokenizer.vocabSize);
  const rng = new Rng(config.seed);
  const model = createModel(modelConfig, rng);
  const trainer = new Trainer(model, config, train, val, rng);

  mkdirSync(outDir, { recursive: true });
  const logPath = join(outDir, LOG_FILE);
  writeFileSync(logPath, ''); // a new run starts a new log
  const logLine = (obj: object) => appendFileSync(logPath, JSON.stringify(obj) + '\n');

  err(`data: ${corpus.source} (${corpus.text.length.toLocaleString('en-US')} characters, vocabulary ${tokenizer.vocabSize})`);
  err(`train ${train.length.toLocaleString('en-US')} tokens, val ${val.length.toLocaleString('en-US')} tokens`);
  const params = reportedParameterCount(model);
  // nanoGPT's line; small models also get the exact count, which "0.00M" would hide.
  err(`number of parameters: ${(params / 1e6).toFixed(2)}M${params < 1e5 ? ` (${params.toLocaleString('en-US')})` : ''}`);
  const tokensPerStep = config.batchSize * config.blockSize * config.gradientAccumulationSteps;
  err(`preset ${preset}: ${config.maxIters} steps of ${tokensPerStep.toLocaleString('en-US')} tokens, run folder ${outDir}`);
  logLine({ type: 'start', time: new Date().toISOString(), preset, config, model: modelConfig, data: corpus.source });

  const bar = new ProgressBar(config.maxIters, process.stderr, trainer.step);
  let last = { trainLoss: NaN, valLoss: NaN };
  await trainer.run({
    onStep: (r) => {
      logLine({ type: 'step', step: r.step, loss: r.loss, lr: r.lr, grad_norm: r.gradNorm, ms: r.ms, tokens_per_s: (r.tokens / r.ms) * 1000 });
      bar.update(r.step, r.loss, r.ms, r.tokens);
    },
    onEval: (e) => {
      last = { trainLoss: e.trainLoss, valLoss: e.valLoss };
      logLine({ type: 'eval', step: e.step, train_loss: e.trainLoss, val_loss: e.valLoss, best: e.best });
      let line = `step ${e.step}: train loss ${e.trainLoss.toFixed(4)}, val loss ${e.valLoss.toFixed(4)}`;
      if (e.best) {
        const file: RunFile = {
          format: RUN_FORMAT, version: RUN_FORMAT_VERSION, model: modelConfig,
          tokenizer: tokenizer.toJSON() as RunFile['tokenizer'], run: config,
          training: { ...trainer.state(), trainLoss: e.trainLoss, valLoss: e.valLoss }, data: corpus.source,
        };
        saveRun(outDir, model, file);
        line += `  (best: saved to ${outDir})`;
      }
      bar.log(line);
    },
  });
  const seconds = bar.finish();
  logLine({ type: 'end', step: trainer.step, train_loss: last.trainLoss, val_loss: last.valLoss, best_val_loss: trainer.bestValLoss, seconds });
  err(
    `done: ${trainer.step} steps in ${formatDuration(seconds)} (${seconds.toFixed(1)} s); final val loss ${last.valLoss.toFixed(4)}, ` +
    `best ${trainer.bestValLoss.toFixed(4)}; checkpoint in ${outDir}`,
  );
  err(`sample from it with: tsgpt sample --from ${outDir}`);
}
