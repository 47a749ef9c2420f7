/**
 * tsgpt train: parse the flags, make a plan (train_plan.ts), run it (TrainingRun, which keeps the run folder),
 * print what happened. `--resume DIR` continues a run from its latest snapshot, bit for bit as if it had never
 * stopped.
 */
import { HYPERPARAMETERS, type RunKey } from '../checkpoint/hyperparameters.js';
import { reportedParameterCount } from '../models/index.js';
import { lossCurveForTerminal } from '../node/loss_curve_file.js';
import { exitStatusFor } from '../node/stop_signals.js';
import { TrainingRun, type TrainingRunHooks } from '../node/training_run.js';
import { PRESETS, type PresetName } from '../train/config.js';
import { formatFlagHelp, parseFlags, type FlagSpec } from './flags.js';
import { formatDuration, ProgressBar } from './progress.js';
import { CharTokenizer } from '../tokenizers/char.js';
import type { Tokenizer } from '../tokenizers/tokenizer.js';
import { planNewRun, planResume, RESUMABLE_FLAGS } from './train_plan.js';

function presetValues(key: RunKey): string {
  return (Object.keys(PRESETS) as PresetName[]).map((p) => `${p} ${String(PRESETS[p][key])}`).join(', ');
}

export const TRAIN_FLAGS: FlagSpec[] = [
  { name: 'preset', type: 'string', choices: Object.keys(PRESETS), help: 'starting configuration', defaultText: 'baby' },
  {
    name: 'data',
    type: 'string',
    metavar: 'PATH',
    help: 'UTF-8 text file to train on',
    defaultText: '$TSGPT_DATA, else Tiny Shakespeare (downloaded once, cached)',
  },
  {
    name: 'tokenizer',
    type: 'string',
    metavar: 'char|gpt2|TOK',
    help: "the corpus's characters, GPT-2's BPE (downloaded once), or a file written by 'tsgpt tokenizer train'",
    defaultText: 'char',
  },
  {
    name: 'init-from',
    type: 'string',
    metavar: 'NAME|DIR',
    help: "start from GPT-2's weights: gpt2, gpt2-medium, or a Hugging Face GPT-2 folder (preset finetune unless given)",
    defaultText: 'random weights',
  },
  { name: 'out', type: 'string', metavar: 'DIR', help: 'run folder for the checkpoint and logs', defaultText: 'runs/<preset>' },
  {
    name: 'resume',
    type: 'string',
    metavar: 'DIR',
    help: `continue the run in DIR from its latest snapshot (may change only ${RESUMABLE_FLAGS.join(', ')})`,
    defaultText: 'a new run',
  },
  ...HYPERPARAMETERS.map(({ key, flag, resumable: _, ...spec }) => ({ ...spec, name: flag, defaultText: presetValues(key) })),
  { name: 'help', type: 'bool', help: 'show this help' },
];

export const TRAIN_HELP = `Usage: tsgpt train [options]
       tsgpt train --resume DIR [--max-iters N] [--eval-interval N] [--eval-iters N]

Trains a model and keeps the checkpoint with the best validation loss in the run folder
(model.safetensors, config.json, log.jsonl), and the latest state in resume/ for --resume.
Ctrl-C (or SIGTERM) saves the current step and stops; a second Ctrl-C quits at once.
Every option overrides the preset's value. With --resume, the options that made the run may be
given again with the same values; only ${RESUMABLE_FLAGS.join(', ')} may change.

Presets:
  bigram   the lecture's bigram model (B=32, T=8, lr 1e-2, 3000 steps)
  baby     nanoGPT's CPU run: 4 layers, 4 heads, width 128, T=64, B=12, 2000 steps
  fast     baby's size with rotary, ReLU squared, QK-norm, zero-init projections and Muon: 400 steps to below 1.88
  lecture  the lecture's final gpt.py: 6 layers, 6 heads, width 384, T=256, B=64 (2 x 32), dropout 0.2, 5000 steps
  finetune nanoGPT's finetune_shakespeare.py from --init-from (gpt2): 32,768 tokens a step as T=256,
           B=1 x 128 accumulated (1024 does not fit 4 GB), lr 3e-5 constant, 20 steps, evaluations every 5

Options:
${formatFlagHelp(TRAIN_FLAGS)}`;

/** What the command line passes to a training run beyond its flags: only tests set anything here. */
export interface TrainContext {
  trainingHooks?: TrainingRunHooks;
}

/** Trains; resolves to the exit status (0, or 130 / 143 when Ctrl-C or SIGTERM stopped the run). */
export async function trainCommand(args: readonly string[], context: TrainContext = {}): Promise<number> {
  const flags = parseFlags(args, TRAIN_FLAGS, 'train');
  const say = (line: string) => process.stderr.write(`${line}\n`);
  const plan = flags.has('resume') ? await planResume(flags, say) : await planNewRun(flags, say);
  const { config, dir, tokenizer } = plan;
  const count = (n: number) => n.toLocaleString('en-US');

  // Losses of different tokenizers compare per character, not per token: the validation split's tokens per
  // character turn its loss in nats per token into bits per character. A character tokenizer's is 1.
  const bitsPerCharacter = tokenizer instanceof CharTokenizer ? null : tokensPerCharacter(tokenizer, plan.valTokens);
  let bar: ProgressBar | null = null;
  const line = (text: string) => (bar === null ? say(text) : bar.log(text));
  const run = new TrainingRun(plan, {
    hooks: context.trainingHooks,
    events: {
      ready: (trainer) => {
        say(`data: ${plan.data.source} (${count(plan.data.characters)} characters, vocabulary ${tokenizer.vocabSize})`);
        say(`train ${count(plan.trainTokens.length)} tokens, val ${count(plan.valTokens.length)} tokens`);
        const params = reportedParameterCount(trainer.model);
        // nanoGPT's line; small models also get the exact count, which "0.00M" would hide.
        say(`number of parameters: ${(params / 1e6).toFixed(2)}M${params < 1e5 ? ` (${count(params)})` : ''}`);
        const tokensPerStep = count(config.batchSize * config.blockSize * config.gradientAccumulationSteps);
        say(
          plan.resume === null
            ? `preset ${plan.preset}: ${config.maxIters} steps of ${tokensPerStep} tokens, run folder ${dir}`
            : `resuming ${dir} at step ${trainer.step} of ${config.maxIters} (${tokensPerStep} tokens a step)`,
        );
        bar = new ProgressBar(config.maxIters, process.stderr, trainer.step);
      },
      step: (r) => bar?.update(r.step, r.loss, r.ms, r.tokens),
      eval: (e) => {
        const best = e.best ? `  (best: saved to ${dir})` : '';
        const bits = bitsPerCharacter === null ? '' : ` (${((e.valLoss / Math.LN2) * bitsPerCharacter).toFixed(4)} bits per character)`;
        line(`step ${e.step}: train loss ${e.trainLoss.toFixed(4)}, val loss ${e.valLoss.toFixed(4)}${bits}${best}`);
      },
      stopRequested: (signal) =>
        line(`\n${signal}: stopping after this step to save a checkpoint (press Ctrl-C again to quit at once; the last checkpoint stays)`),
      warning: (message) => line(`warning: ${message}`),
    },
  });
  let outcome: Awaited<ReturnType<TrainingRun['run']>>;
  try {
    outcome = await run.run();
  } finally {
    (bar as ProgressBar | null)?.finish();
  }
  if (outcome.stoppedBy !== null) {
    say(`stopped by ${outcome.stoppedBy} at step ${outcome.step} of ${config.maxIters}; checkpoint saved in ${dir}`);
    say(`continue with: tsgpt train --resume ${dir}`);
    return exitStatusFor(outcome.stoppedBy);
  }
  const { seconds, last, bestValLoss } = outcome;
  say(
    `done: ${outcome.step} steps in ${formatDuration(seconds)} (${seconds.toFixed(1)} s); final val loss ${last.valLoss.toFixed(4)}, ` +
      `best ${bestValLoss.toFixed(4)}; checkpoint in ${dir}`,
  );
  say(lossCurveForTerminal(dir));
  say(`sample from it with: tsgpt sample --from ${dir}`);
  return 0;
}

/** Tokens per character (code point) of a tokenized text. */
function tokensPerCharacter(tokenizer: Tokenizer, tokens: Int32Array): number {
  let characters = 0;
  for (const _ of tokenizer.decode(tokens)) characters++;
  return tokens.length / characters;
}
