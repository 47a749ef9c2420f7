/**
 * Same-process A/B of a training step: two builds of tsgpt (two dist/ folders, e.g. one built from an older
 * commit) load side by side, each with its own arena and threads, and take turns, a few steps each, for many
 * rounds; the machine's drift then falls on both alike. Prints each side's min and median ms per step and the
 * ratios B/A (below 1: B is faster). Run it alone: two processes timing on two cores measure nothing.
 *
 *   git worktree add /tmp/old <commit> && (cd /tmp/old && npm ci)
 *   node dist/bench/ab_step.js --a /tmp/old/dist --b dist [--preset baby] [--threads 2] [--rounds 40] [--steps 5]
 *
 * Both sides train on the same random tokens from the same seed, so they also do the same arithmetic: an A/A
 * run (the same folder twice) shows the noise floor of the ratios.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const args = process.argv.slice(2);
const option = (name: string, fallback?: string): string => {
  const i = args.indexOf(`--${name}`);
  const v = i >= 0 ? args[i + 1] : fallback;
  if (v === undefined) throw new Error(`--${name} is required`);
  return v;
};
const preset = option('preset', 'baby');
const threads = Number(option('threads', '2'));
const rounds = Number(option('rounds', '40'));
const stepsPerTurn = Number(option('steps', '5'));

interface Side {
  label: string;
  step: () => void;
  times: number[];
}

/** Loads one build and makes a trainer on it; the modules are that build's own (its arena, its kernels). */
async function load(label: string, dist: string): Promise<Side> {
  const at = (path: string) => import(pathToFileURL(resolve(dist, path)).href);
  const [flags, wasm, backend, threadsModule, random, models, config, trainer] = await Promise.all([
    at('src/cli/wasm_flags.js'),
    at('src/engine/wasm/wasm_kernels.js'),
    at('src/engine/backend.js'),
    at('src/node/kernel_threads.js'),
    at('src/engine/random.js'),
    at('src/models/index.js'),
    at('src/train/config.js'),
    at('src/train/trainer.js'),
  ]);
  flags.enableRelaxedSimd();
  const kernels = wasm.createWasmKernelsSync(undefined, { threads, spawnWorker: threadsModule.spawnNodeKernelWorker });
  const run = { ...config.PRESETS[preset] };
  const rng = new random.Rng(run.seed);
  const tokens = Int32Array.from({ length: 200_000 }, () => rng.int(65));
  const model = models.createModel(config.modelConfigFor(run, 65), rng);
  const t = new trainer.Trainer(model, run, tokens.subarray(0, 180_000), tokens.subarray(180_000), rng);
  // Each build's ops call its own kernels(): switch to this side's before every turn.
  const step = () => {
    backend.setKernels(kernels);
    t.trainStep();
  };
  for (let i = 0; i < 10; i++) step(); // warm-up: the arena's free lists, the JIT
  return { label, step, times: [] };
}

const a = await load('A', option('a'));
const b = await load('B', option('b'));
for (let r = 0; r < rounds; r++) {
  for (const side of r % 2 === 0 ? [a, b] : [b, a]) {
    for (let i = 0; i < stepsPerTurn; i++) {
      const t0 = performance.now();
      side.step();
      side.times.push(performance.now() - t0);
    }
  }
}
const sorted = (xs: number[]) => [...xs].sort((x, y) => x - y);
const median = (xs: number[]) => sorted(xs)[Math.floor(xs.length / 2)]!;
const min = (xs: number[]) => sorted(xs)[0]!;
for (const s of [a, b]) {
  console.log(
    `${s.label}: ${preset} step min ${min(s.times).toFixed(2)} ms, median ${median(s.times).toFixed(2)} ms (${s.times.length} steps)`,
  );
}
console.log(
  `B/A: min ${(min(b.times) / min(a.times)).toFixed(3)}x, median ${(median(b.times) / median(a.times)).toFixed(3)}x ` +
    `(${threads} threads, ${rounds} rounds of ${stepsPerTurn} steps each)`,
);
process.exit(0);
