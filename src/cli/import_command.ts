/**
 * tsgpt import CKPT RUN: a nanoGPT checkpoint (ckpt.pt, read with a restricted unpickler that runs nothing) as
 * a new tsgpt run folder that samples and resumes (see src/node/nanogpt_files.ts).
 */
import { TsgptError } from '../errors.js';
import { importNanoGpt } from '../node/nanogpt_files.js';
import { formatFlagHelp, parseFlags, type FlagSpec } from './flags.js';
import { splitPositionals } from './plot_command.js';
import { writeStdout } from './stdout.js';

export const IMPORT_FLAGS: FlagSpec[] = [
  { name: 'from', type: 'string', metavar: 'CKPT', help: "nanoGPT's ckpt.pt, or the out_dir holding it (instead of the first path)" },
  { name: 'meta', type: 'string', metavar: 'PATH', help: "the model's character vocabulary: nanoGPT's data/<dataset>/meta.pkl" },
  {
    name: 'data-dir',
    type: 'string',
    metavar: 'DIR',
    help: "nanoGPT's data/ folder: meta.pkl (and input.txt, the text) are taken from DIR/<dataset>/",
  },
  { name: 'data', type: 'string', metavar: 'PATH', help: 'the text the model trained on, recorded for tsgpt train --resume' },
  {
    name: 'tokenizer',
    type: 'string',
    metavar: 'gpt2|FOLDER',
    help: "for a model of GPT-2's vocabulary: GPT-2's files from the cache (downloaded once), or a folder holding a copy",
    defaultText: 'gpt2',
  },
  { name: 'help', type: 'bool', help: 'show this help' },
];

export const IMPORT_HELP = `Usage: tsgpt import CKPT RUN [options]      (or: tsgpt import --from CKPT RUN)

Makes the new run folder RUN from nanoGPT's checkpoint CKPT (the ckpt.pt train.py saves, or the out_dir that
holds it): its weights, AdamW's moments and step, its step (iter_num), best validation loss and train.py's
settings. 'tsgpt sample --from RUN' samples from it and 'tsgpt train --resume RUN' trains on from where nanoGPT
stopped. A character model needs its vocabulary, nanoGPT's meta.pkl: --meta, or --data-dir. A model of
GPT-2's vocabulary (50257 tokens, or the 50304 nanoGPT pads it to) has no meta.pkl and imports with GPT-2's
tokenizer, as sample.py then uses tiktoken's gpt2; the padding rows past 50257 are cut, since no text encodes
to them.

The checkpoint is read with a restricted unpickler: only the globals a checkpoint needs (OrderedDict, tensors,
float storages) and plain values; a pickle that names anything else is refused and nothing in it is run.

Options:
${formatFlagHelp(IMPORT_FLAGS)}`;

export async function importCommand(args: readonly string[]): Promise<void> {
  const { positionals, flagArgs } = splitPositionals(args, IMPORT_FLAGS);
  const flags = parseFlags(flagArgs, IMPORT_FLAGS, 'import');
  const from = flags.get('from') as string | undefined;
  const paths = from === undefined ? positionals : [from, ...positionals];
  if (paths.length !== 2) {
    throw new TsgptError(
      `tsgpt import takes a checkpoint and a new run folder, got ${paths.length} path(s); e.g. 'tsgpt import out-shakespeare-char/ckpt.pt runs/imported --meta data/shakespeare_char/meta.pkl'`,
    );
  }
  const [ckpt, run] = paths as [string, string];
  const r = await importNanoGpt(ckpt, run, {
    meta: flags.get('meta') as string | undefined,
    dataDir: flags.get('data-dir') as string | undefined,
    data: flags.get('data') as string | undefined,
    tokenizer: flags.get('tokenizer') as string | undefined,
  });
  const a = r.checkpoint.modelArgs;
  const loss = r.checkpoint.bestValLoss === null ? 'no validation loss yet' : `val loss ${r.checkpoint.bestValLoss.toFixed(4)}`;
  const resume = r.file.dataSha256 === undefined ? `tsgpt train --resume ${run} --data TEXT` : `tsgpt train --resume ${run}`;
  writeStdout(
    [
      `imported ${ckpt} into ${run}: step ${r.checkpoint.iterNum}, ${loss}; ${a.nLayer} layers, ${a.nHead} heads, width ${a.nEmbd}, ` +
        `block ${a.blockSize}, vocabulary ${a.vocabSize} (from ${r.vocabulary})`,
      ...r.notes.map((n) => `note: ${n}`),
      ...((r.file.model as { activation?: string }).activation === 'gelu'
        ? []
        : ["note: nanoGPT's model.py computes GELU exactly and tsgpt by its tanh approximation (at most 0.00047 apart)"]),
      `sample:  tsgpt sample --from ${run}`,
      `resume:  ${resume} --max-iters N`,
    ].join('\n') + '\n',
  );
}
