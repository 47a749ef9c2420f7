/**
 * tsgpt plot: the loss curves of one or more run folders as one SVG (one colour per run), plus the Node
 * edges of the loss plots that `tsgpt train` uses: writeLossCurve (runDir/loss.svg, rewritten after each
 * evaluation) and lossCurveForTerminal (the compact text curve printed when training ends).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, join, normalize, resolve } from 'node:path';
import { LOG_FILE } from '../node/run_folder.js';
import { TsgptError } from '../errors.js';
import { writeFileAtomicSync } from '../node/atomic_write.js';
import { lossCurveSvg } from '../viz/loss_curve.js';
import { parseLossLog, type LossLog } from '../viz/loss_log.js';
import { terminalLossCurve } from '../viz/terminal_curve.js';
import { formatFlagHelp, parseFlags, type FlagSpec } from './flags.js';

export const LOSS_CURVE_FILE = 'loss.svg';

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
  writeText(out, lossCurveSvg(runs, { title: flags.get('title') as string | undefined }));
  if (flags.get('terminal')) {
    for (const r of runs) process.stdout.write(`${r.name}\n${terminalLossCurve(r.log)}\n\n`);
  }
  process.stderr.write(`wrote ${out}\n`);
}

/**
 * Writes runDir/loss.svg from runDir/log.jsonl and returns its path. Safe to call while training appends to
 * the log (a torn last line is skipped) and atomic, so a viewer never shows half a picture.
 */
export function writeLossCurve(runDir: string): string {
  const out = join(runDir, LOSS_CURVE_FILE);
  writeText(out, lossCurveSvg([{ name: basename(resolve(runDir)), log: readLossLog(runDir) }]));
  return out;
}

/** The run's loss curve as a few lines of text (no trailing newline), for the end of training. */
export function lossCurveForTerminal(runDir: string, width?: number): string {
  return terminalLossCurve(readLossLog(runDir), { width });
}

/** Reads and parses runDir/log.jsonl; a missing folder or log is a one-line TsgptError. */
export function readLossLog(runDir: string): LossLog {
  if (!existsSync(runDir) || !statSync(runDir).isDirectory()) throw new TsgptError(`no run folder at ${runDir}`);
  const path = join(runDir, LOG_FILE);
  if (!existsSync(path)) throw new TsgptError(`${runDir} has no ${LOG_FILE}; is it a folder written by 'tsgpt train'?`);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new TsgptError(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return parseLossLog(text, path);
}

/** Writes a text file atomically, turning a file-system failure into one clear line. */
export function writeText(path: string, content: string): void {
  try {
    writeFileAtomicSync(path, content);
  } catch (e) {
    throw new TsgptError(`cannot write ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
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
