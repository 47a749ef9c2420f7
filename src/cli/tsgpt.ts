/**
 * The tsgpt command. Dispatches to a subcommand; a TsgptError (a mistake the user can fix) is printed as one
 * line with exit code 1, a usage mistake with exit code 2. Anything else is a bug and keeps its stack trace.
 * main.ts runs it; a test's entry script runs it with hooks (see TrainContext).
 */
import { readFileSync } from 'node:fs';
import { setKernels } from '../engine/backend.js';
import { createWasmKernelsSync } from '../engine/wasm/wasm_kernels.js';
import { TsgptError } from '../errors.js';
import type { TrainContext } from './train_command.js';
import { OutputClosed, writeStdout } from './stdout.js';
import { enableRelaxedSimd } from './wasm_flags.js';
import { coreCount, spawnNodeKernelWorker } from '../node/kernel_threads.js';

/** What a command gets beyond its arguments: nothing in tsgpt itself sets any of it; tests may. */
export type CommandContext = TrainContext;

/** What a command's module gives: what runs it and its own --help text. */
interface Command {
  run: (args: readonly string[], context: CommandContext) => Promise<unknown>;
  help: string;
  /** The threads to compute on when --threads is not given, from the command's arguments (undefined: every core). */
  threads?: (args: readonly string[]) => number | undefined;
}

/**
 * Every command: its line in tsgpt --help, and its module, imported only when that command runs. Importing all
 * of them made every start slower: a mistyped flag took 0.38 to 0.48 s to answer, 0.30 to 0.38 s now, and
 * `tsgpt --help` 0.39 to 0.51 s, 0.18 s now (the tests start tsgpt hundreds of times).
 */
const COMMANDS: Record<string, { summary: string; load: () => Promise<Command> }> = {
  train: {
    summary: 'train a model (Tiny Shakespeare unless --data is given)',
    load: async () => {
      const m = await import('./train_command.js');
      return { run: m.trainCommand, help: m.TRAIN_HELP };
    },
  },
  sample: {
    summary: 'generate text from a trained run folder',
    load: async () => {
      const m = await import('./sample_command.js');
      return { run: m.sampleCommand, help: m.SAMPLE_HELP, threads: m.samplingThreads };
    },
  },
  plot: {
    summary: 'draw the loss curves of one or more run folders as an SVG',
    load: async () => {
      const m = await import('./plot_command.js');
      return { run: m.plotCommand, help: m.PLOT_HELP };
    },
  },
  attention: {
    summary: 'draw the attention maps of a GPT run over a text (SVG + HTML page)',
    load: async () => {
      const m = await import('./attention_command.js');
      return { run: m.attentionCommand, help: m.ATTENTION_HELP };
    },
  },
  report: {
    summary: 'write a self-contained HTML report of a run folder',
    load: async () => {
      const m = await import('./report_command.js');
      return { run: m.reportCommand, help: m.REPORT_HELP };
    },
  },
  memory: {
    summary: 'build, measure and search a memory a run reads by attention (kNN-LM)',
    load: async () => {
      const m = await import('./memory_command.js');
      return { run: m.memoryCommand, help: m.MEMORY_HELP };
    },
  },
  ladder: {
    summary: 'train each stage of the lecture and compare their losses',
    load: async () => {
      const m = await import('./ladder_command.js');
      return { run: m.ladderCommand, help: m.LADDER_HELP };
    },
  },
  bench: {
    summary: 'time training steps and sampling of a preset on this machine',
    load: async () => {
      const m = await import('./bench_command.js');
      return { run: m.benchCommand, help: m.BENCH_HELP };
    },
  },
  tokenize: {
    summary: "print a file's tokens and ids (GPT-2's, by character, or a trained BPE's)",
    load: async () => {
      const m = await import('./tokenize_command.js');
      return { run: m.tokenizeCommand, help: m.TOKENIZE_HELP };
    },
  },
  tokenizer: {
    summary: 'train a byte-level BPE tokenizer on a text (tokenizer train)',
    load: async () => {
      const m = await import('./tokenizer_command.js');
      return { run: m.tokenizerCommand, help: m.TOKENIZER_HELP };
    },
  },
  export: {
    summary: "write a run as nanoGPT's ckpt.pt (and meta.pkl), which its train.py resumes",
    load: async () => {
      const m = await import('./export_command.js');
      return { run: m.exportCommand, help: m.EXPORT_HELP };
    },
  },
  import: {
    summary: "make a run folder from nanoGPT's ckpt.pt, to sample from or train on",
    load: async () => {
      const m = await import('./import_command.js');
      return { run: m.importCommand, help: m.IMPORT_HELP };
    },
  },
  serve: {
    summary: 'serve the playground: train, sample and look inside a model in your browser',
    load: async () => {
      const m = await import('./serve_command.js');
      return { run: m.serveCommand, help: m.SERVE_HELP };
    },
  },
};

/** Options every command takes; main() reads and removes them before the command sees its arguments. */
const GLOBAL_OPTIONS = `  --threads N threads the kernels compute on (default: every core, here ${coreCount()}; tsgpt sample:
              one for a run too small for any product to be split); results are the same bit for bit
              whatever N`;

const HELP = `tsgpt: a GPT built from scratch in TypeScript, trained and sampled on the CPU

Usage: tsgpt <command> [options]

Commands:
${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`)
  .join('\n')}

Options:
  --help      show this help ('tsgpt <command> --help' for a command's options)
  --version   print the version
${GLOBAL_OPTIONS}

Examples:
  tsgpt train --preset bigram
  tsgpt train --preset baby --out runs/baby
  tsgpt sample --from runs/baby --start "ROMEO:" --temperature 0.8 --top-k 40 --tokens 300`;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/**
 * The kernels every command runs on: WebAssembly SIMD (relaxed SIMD where this Node allows it) unless
 * TSGPT_KERNELS=reference asks for the plain TypeScript ones, which the tests compare everything against.
 * TSGPT_SIMD=plain forces the build without fused multiply-add, whose bits are the same on every machine
 * (a browser page asks for it with relaxed: false, or the playground's &simd=plain).
 */
function selectKernels(threads: number): void {
  const choice = process.env.TSGPT_KERNELS || 'wasm';
  if (choice === 'reference') return;
  if (choice !== 'wasm') throw new TsgptError(`TSGPT_KERNELS must be "wasm" or "reference", got "${choice}"`);
  const simd = process.env.TSGPT_SIMD || 'relaxed';
  if (simd !== 'relaxed' && simd !== 'plain') throw new TsgptError(`TSGPT_SIMD must be "relaxed" or "plain", got "${simd}"`);
  if (simd === 'relaxed') enableRelaxedSimd();
  setKernels(createWasmKernelsSync(undefined, { threads, relaxed: simd === 'relaxed', spawnWorker: spawnNodeKernelWorker }));
}

/** Takes `--threads N` (or `--threads=N`) out of a command's arguments; returns the count and the rest. */
function takeThreads(args: readonly string[]): { threads: number; given: boolean; rest: string[] } {
  const rest: string[] = [];
  let text: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--threads') {
      text = args[++i];
      if (text === undefined) throw new TsgptError('--threads needs a value, a whole number of threads');
    } else if (a.startsWith('--threads=')) text = a.slice('--threads='.length);
    else rest.push(a);
  }
  if (text === undefined) return { threads: coreCount(), given: false, rest };
  const threads = Number(text);
  if (!/^\d+$/.test(text) || threads < 1 || threads > 256) {
    throw new TsgptError(`--threads must be a whole number from 1 to 256, got "${text}"`);
  }
  return { threads, given: true, rest };
}

async function main(argv: readonly string[], context: CommandContext): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    writeStdout(`${HELP}\n`);
    return command === undefined ? 2 : 0;
  }
  if (command === '--version' || command === '-v') {
    writeStdout(`${version()}\n`);
    return 0;
  }
  const listed = COMMANDS[command];
  if (listed === undefined) {
    process.stderr.write(`tsgpt: unknown command "${command}"; commands are ${Object.keys(COMMANDS).join(', ')} (see tsgpt --help)\n`);
    return 2;
  }
  const entry = await listed.load();
  // Every command's --help is answered here, before the kernels are compiled or any flag is checked.
  if (rest.includes('--help') || rest.includes('-h')) {
    writeStdout(`${entry.help}\n\nOptions of every command:\n${GLOBAL_OPTIONS}\n`);
    return 0;
  }
  const { threads, given, rest: commandArgs } = takeThreads(rest);
  selectKernels(given ? threads : (entry.threads?.(commandArgs) ?? threads));
  // A command that resolves to a number sets the exit status (train: 130 when Ctrl-C stopped it).
  const status = await entry.run(commandArgs, context);
  return typeof status === 'number' ? status : 0;
}

/** Runs tsgpt with these arguments in this process and sets its exit status. */
export function runTsgpt(argv: readonly string[], context: CommandContext = {}): void {
  main(argv, context).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      if (e instanceof OutputClosed) {
        // A closed pipe (tsgpt sample | head): stop quietly, as Unix tools do.
        process.exitCode = 0;
      } else if (e instanceof TsgptError) {
        process.stderr.write(`tsgpt: error: ${e.message}\n`);
        process.exitCode = 1;
      } else {
        throw e;
      }
    },
  );
}
