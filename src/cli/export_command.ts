/**
 * tsgpt export --to nanogpt RUN OUT: a run folder as nanoGPT's ckpt.pt and meta.pkl, and the commands that
 * take it on in nanoGPT (see src/node/nanogpt_files.ts).
 */
import { TsgptError } from '../errors.js';
import { HYPERPARAMETERS } from '../checkpoint/hyperparameters.js';
import { NANOGPT_CONFIG } from '../checkpoint/nanogpt_config.js';
import { exportToNanoGpt } from '../node/nanogpt_files.js';
import type { RunConfig } from '../train/config.js';
import { formatFlagHelp, parseFlags, type FlagSpec } from './flags.js';
import { splitPositionals } from './plot_command.js';
import { writeStdout } from './stdout.js';

export const EXPORT_FLAGS: FlagSpec[] = [
  { name: 'to', type: 'string', choices: ['nanogpt'], help: 'the format to write (required)' },
  {
    name: 'dataset',
    type: 'string',
    metavar: 'NAME',
    help: "config['dataset']: sample.py reads meta.pkl from data/NAME/",
    defaultText: "shakespeare_char (shakespeare with GPT-2's tokenizer) for a run on Tiny Shakespeare, else the run folder's name",
  },
  {
    name: 'pytorch',
    type: 'string',
    choices: ['1', '2'],
    help: "the PyTorch nanoGPT runs on: before 2.0 its state dict also holds each layer's causal mask",
    defaultText: '2',
  },
  { name: 'help', type: 'bool', help: 'show this help' },
];

export const EXPORT_HELP = `Usage: tsgpt export --to nanogpt RUN OUT [options]

Writes the latest state of the run folder RUN (its last snapshot: weights, AdamW's moments and step, the step
and the best validation loss) as nanoGPT's checkpoint in the new folder OUT:

  OUT/ckpt.pt    what nanoGPT's train.py saves: train.py resumes it (--init_from=resume --out_dir=OUT) and
                 sample.py samples from it (--out_dir=OUT)
  OUT/meta.pkl   the run's characters, which sample.py reads from nanoGPT's data/<dataset>/meta.pkl; a run
                 on GPT-2's tokenizer (train --tokenizer gpt2) has none: sample.py then uses GPT-2's

Only GPT runs of the nanoGPT form (--style nanogpt, the baby preset) can be exported: the lecture's gpt.py form
and the bigram have no counterpart in nanoGPT's model.py. OUT must not exist.

Options:
${formatFlagHelp(EXPORT_FLAGS)}`;

export async function exportCommand(args: readonly string[]): Promise<void> {
  const { positionals, flagArgs } = splitPositionals(args, EXPORT_FLAGS);
  const flags = parseFlags(flagArgs, EXPORT_FLAGS, 'export');
  if (flags.get('to') === undefined) throw new TsgptError('tsgpt export needs --to nanogpt (the only format it writes so far)');
  if (positionals.length !== 2) {
    throw new TsgptError(
      `tsgpt export takes a run folder and a new folder, got ${positionals.length} paths; e.g. 'tsgpt export --to nanogpt runs/baby out-baby'`,
    );
  }
  const [run, out] = positionals as [string, string];
  const pytorch = flags.get('pytorch') === '1' ? 1 : 2;
  const r = exportToNanoGpt(run, out, { dataset: flags.get('dataset') as string | undefined, pytorch });
  const vocabulary =
    r.meta === null
      ? [
          `wrote ${r.checkpoint} (step ${r.step}); the run uses GPT-2's tokenizer, so there is no meta.pkl:`,
          `nanoGPT's sample.py finds none under data/${r.dataset}/ and encodes with tiktoken's gpt2. Sample from the model,`,
        ]
      : [
          `wrote ${r.checkpoint} (step ${r.step}) and ${r.meta}`,
          `In nanoGPT's folder: put the vocabulary where sample.py looks for it,`,
          `  mkdir -p data/${r.dataset} && cp ${r.meta} data/${r.dataset}/meta.pkl`,
          `sample from the model,`,
        ];
  const prepare = r.meta === null ? 'data/shakespeare/prepare.py' : 'data/shakespeare_char/prepare.py';
  writeStdout(
    [
      ...vocabulary,
      `  python sample.py --out_dir=${out}`,
      `and train on (train.py reads data/${r.dataset}/train.bin and val.bin, made as ${prepare} makes them):`,
      `  python train.py --init_from=resume --out_dir=${out} --dataset=${r.dataset} ${trainFlags(r.file.run)}`,
      'On a CPU add --device=cpu --compile=False to both.',
      ...((r.file.model as { activation?: string }).activation === 'gelu'
        ? []
        : [
            'This run computes GELU by its tanh approximation and nanoGPT exactly: the two differ by at most 0.00047 at any',
            'input, so losses agree closely but not to the bit.',
          ]),
    ].join('\n') + '\n',
  );
}

/**
 * The run's settings as train.py's flags. Its configurator requires each value to have the type of the global
 * it overrides, so floats are written as Python floats (1.0, not 1) and booleans as True and False.
 */
function trainFlags(run: RunConfig): string {
  const flags: string[] = [];
  for (const [name, field] of NANOGPT_CONFIG) {
    if (field === null || ['nLayer', 'nHead', 'nEmbd', 'bias'].includes(field)) continue; // model_args come from ckpt.pt
    const value = run[field];
    const float = HYPERPARAMETERS.find((h) => h.key === field)?.type === 'float';
    let text: string;
    if (typeof value === 'boolean') text = value ? 'True' : 'False';
    else if (float && Number.isInteger(value)) text = `${value}.0`;
    else text = String(value);
    flags.push(`--${name}=${text}`);
  }
  return flags.join(' ');
}
