/**
 * tsgpt plot: the loss curves of one or more run folders as one SVG (one colour per run). Reading a run's log
 * and the loss.svg that training keeps are in src/node/loss_curve_file.ts.
 */
import { basename, join, normalize, resolve } from 'node:path';
import { TsgptError } from '../errors.js';
import { writeTextFile } from '../node/atomic_write.js';
import { LOSS_CURVE_FILE, readLossLog } from '../node/loss_curve_file.js';
import { lossCurveSvg } from '../viz/loss_curve.js';
import { terminalLossCurve } from '../viz/terminal_curve.js';
import { formatFlagHelp, parseFlags, type FlagSpec } from './flags.js';
import { writeStdout } from './stdout.js';

export const PLOT_FLAGS: FlagSpec[] = [
  {
    name: 'out',
    type: 'string',
    metavar: 'FILE',
    help: 'the SVG to write',
    defaultText: `RUN/${LOSS_CURVE_FILE} for one run, ./${LOSS_CURVE_FILE} for several`,
  },
  { name: 'title', type: 'string', metavar: 'TEXT', help: 'chart title', defaultText: '"Loss: " and the run names' },
  { name: 'terminal', type: 'bool', help: "also print each run's curve as text" },
  { name: 'help', type: 'bool', help: 'show this help' },
];

export const PLOT_HELP = `Usage: tsgpt plot RUN [RUN ...] [options]

Draws the training and validation loss of one or more run folders (read from their log.jsonl) against the
step, as one SVG: one colour per run, the legend naming each run by its folder.

Options:
${formatFlagHelp(PLOT_FLAGS)}`;

export async function plotCommand(args: readonly string[]): Promise<void> {
  const { positionals, flagArgs } = splitPositionals(args, PLOT_FLAGS);
  const flags = parseFlags(flagArgs, PLOT_FLAGS, 'plot');
  if (positionals.length === 0) throw new TsgptError("tsgpt plot needs at least one run folder, e.g. 'tsgpt plot runs/baby'");
  const names = runNames(positionals);
  const runs = positionals.map((dir, i) => ({ name: names[i]!, log: readLossLog(dir) }));
  const out =
    (flags.get('out') as string | undefined) ?? (positionals.length === 1 ? join(positionals[0]!, LOSS_CURVE_FILE) : LOSS_CURVE_FILE);
  writeTextFile(out, lossCurveSvg(runs, { title: flags.get('title') as string | undefined }));
  if (flags.get('terminal')) {
    for (const r of runs) writeStdout(`${r.name}\n${terminalLossCurve(r.log)}\n\n`);
  }
  process.stderr.write(`wrote ${out}\n`);
}

/**
 * Legend names for run folders: each folder's own name, or, when two share a name (a/baby and b/baby), the
 * paths as the user typed them, which are then what tells them apart.
 */
export function runNames(dirs: readonly string[]): string[] {
  const trimmed = dirs.map((d) => normalize(d).replace(/[\\/]+$/, '') || d);
  const names = trimmed.map((d) => basename(resolve(d)));
  return new Set(names).size === names.length ? names : trimmed;
}

/**
 * Separates positional arguments (run folders) from options, which the shared flag parser then checks. A
 * non-boolean option takes the next argument as its value, so `--out a.svg runs/a` names one run; after a
 * bare `--` everything is positional (a folder whose name starts with --).
 */
export function splitPositionals(args: readonly string[], specs: readonly FlagSpec[]): { positionals: string[]; flagArgs: string[] } {
  const byName = new Map(specs.map((s) => [s.name, s]));
  const positionals: string[] = [],
    flagArgs: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') {
      positionals.push(...args.slice(i + 1));
      break;
    }
    if (!arg.startsWith('--')) {
      positionals.push(arg);
      continue;
    }
    flagArgs.push(arg);
    const spec = byName.get(arg.slice(2));
    if (spec !== undefined && spec.type !== 'bool' && i + 1 < args.length) flagArgs.push(args[++i]!);
  }
  return { positionals, flagArgs };
}
