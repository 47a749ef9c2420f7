/**
 * Issue 15's yardstick: tsgpt's `fast` preset against nanoGPT's own `baby` run, on this machine, in one session.
 * Runs nanoGPT's train.py with the baby CPU settings, then `tsgpt train --preset fast`, one after the other
 * (never at once: two timings on 2 cores measure nothing), and prints nanoGPT's wall time, final validation
 * loss and time to the first evaluation at or below the target; tsgpt's time to the target, final loss and
 * tokens per second; and the ratio of tsgpt's time to the target over nanoGPT's whole run (the goal: 0.5 or
 * less). Then it times sampling 300 tokens: nanoGPT's sample.py on the checkpoint its run wrote against
 * `tsgpt sample --tokens 300` on tsgpt's run.
 *
 * Run by hand, never in CI:
 *   node dist/bench/fast_vs_nanogpt.js --nanogpt PATH/TO/nanoGPT [--preset fast] [--data tinyshakespeare.txt]
 *     [--python /usr/bin/python3] [--max-iters N --eval-interval N --target LOSS] [--threads N] [--scratch DIR] [--keep]
 *     [--sample-rounds N]
 *   node dist/bench/fast_vs_nanogpt.js --nanogpt PATH --scratch DIR --sample-only   # sampling again, on DIR's kept runs
 * nanoGPT's checkout is only read: its train.py, model.py, sample.py, configurator.py, its config and its
 * data/shakespeare_char/prepare.py are copied into a scratch folder, with the corpus placed next to prepare.py
 * as input.txt (so prepare.py never downloads). Needs Debian's python3-torch and python3-numpy; sample.py
 * imports tiktoken even for a character model, and Debian has none, so a stand-in module that refuses to be
 * used goes on PYTHONPATH (the scratch run has meta.pkl, so sample.py never calls it).
 *
 * How each time is taken:
 *  - wall times: from launching the process to its exit (start-up, evaluations and checkpoints included, for
 *    both, as a user waits for them);
 *  - time to the target: from launching the process to the moment the first evaluation line at or below it
 *    appears on the run's output (nanoGPT's "step N: train loss X, val loss Y" on stdout, unbuffered; tsgpt's
 *    same line on stderr);
 *  - tokens per second: each side's own per-step times (nanoGPT's "iter N: ... time T ms" lines after the first,
 *    tsgpt's log.jsonl step records), evaluations excluded;
 *  - sampling: nanoGPT's generate() alone, timed inside sample.py by bench/nanogpt_timed_sample.py (Python's
 *    start-up, importing torch and loading the checkpoint excluded); tsgpt sample has no timer of its own, so its
 *    whole command with --tokens 300 minus the same command with --tokens 0 (start-up, compiling the kernels and
 *    loading the run excluded the same way). --sample-rounds N (default 3) repeats the three commands in turn and
 *    takes each one's median, so that a moment of other work on the machine does not decide the ratio.
 */
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isPresetName, PRESETS } from '../src/train/config.js';

const cli = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const repo = fileURLToPath(new URL('../../', import.meta.url));
const timedSample = join(repo, 'bench', 'nanogpt_timed_sample.py');

/** nanoGPT's README command for its CPU run, with evaluation over 20 batches and every step logged (issue 15). */
const NANOGPT_BABY = [
  'config/train_shakespeare_char.py',
  '--device=cpu',
  '--compile=False',
  '--eval_iters=20',
  '--log_interval=1',
  '--block_size=64',
  '--batch_size=12',
  '--n_layer=4',
  '--n_head=4',
  '--n_embd=128',
  '--max_iters=2000',
  '--lr_decay_iters=2000',
  '--dropout=0.0',
];
const SAMPLE_TOKENS = 300;

function fail(message: string): never {
  process.stderr.write(`fast_vs_nanogpt: error: ${message}\n`);
  process.exit(1);
}

function option(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return undefined;
  const v = process.argv[i + 1];
  if (v === undefined || v.startsWith('--')) fail(`--${name} needs a value`);
  return v;
}

function count(name: string): number | undefined {
  const v = option(name);
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) < 1) fail(`--${name} takes a whole number >= 1, got "${v}"`);
  return Number(v);
}

interface Timed {
  /** Seconds from launch to exit. */
  wall: number;
  /** Each output line with the seconds from launch at which it arrived. */
  lines: { at: number; text: string }[];
  stdout: string;
  stderr: string;
  status: number | null;
}

/** Runs a command to its end, timestamping every line of `watch` (its stdout or stderr) as it arrives. */
function timedRun(cmd: string, args: string[], cwd: string, watch: 'stdout' | 'stderr', env?: NodeJS.ProcessEnv): Promise<Timed> {
  return new Promise((done) => {
    const started = performance.now();
    const child = spawn(cmd, args, { cwd, env: env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out = { stdout: '', stderr: '' };
    const lines: Timed['lines'] = [];
    let partial = '';
    for (const stream of ['stdout', 'stderr'] as const) {
      child[stream].setEncoding('utf8').on('data', (s: string) => {
        out[stream] += s;
        if (stream !== watch) return;
        const at = (performance.now() - started) / 1000;
        const parts = (partial + s).split(/\r?\n|\r/);
        partial = parts.pop()!;
        for (const text of parts) lines.push({ at, text });
      });
    }
    child.on('close', (status) => {
      if (partial !== '') lines.push({ at: (performance.now() - started) / 1000, text: partial });
      done({ wall: (performance.now() - started) / 1000, lines, ...out, status });
    });
  });
}

/** The evaluation lines ("step N: train loss X, val loss Y"), which nanoGPT and tsgpt print alike. */
function evaluations(run: Timed): { step: number; valLoss: number; at: number }[] {
  const out: { step: number; valLoss: number; at: number }[] = [];
  for (const { at, text } of run.lines) {
    const m = /^step (\d+): train loss [\d.]+, val loss ([\d.]+)/.exec(text.trim());
    if (m !== null) out.push({ step: Number(m[1]), valLoss: Number(m[2]), at });
  }
  return out;
}

function checked(run: Timed, what: string): Timed {
  if (run.status !== 0) fail(`${what} exited with ${run.status}:\n${(run.stderr || run.stdout).slice(-3000)}`);
  return run;
}

/** The environment nanoGPT's scripts run in: the stand-in tiktoken of nanogptScratch on the path, output unbuffered. */
function nanogptEnv(scratch: string): NodeJS.ProcessEnv {
  return { ...process.env, PYTHONPATH: join(scratch, 'stub'), PYTHONUNBUFFERED: '1' };
}

/** A scratch copy of nanoGPT with its character dataset prepared from `corpus`, and a stand-in tiktoken. */
function nanogptScratch(nanogpt: string, scratch: string, corpus: string, python: string): { dir: string; env: NodeJS.ProcessEnv } {
  const dir = join(scratch, 'nanogpt');
  for (const file of [
    'train.py',
    'model.py',
    'sample.py',
    'configurator.py',
    'config/train_shakespeare_char.py',
    'data/shakespeare_char/prepare.py',
  ]) {
    const from = join(nanogpt, file);
    if (!existsSync(from)) fail(`${nanogpt} is not a nanoGPT checkout: it has no ${file}`);
    mkdirSync(dirname(join(dir, file)), { recursive: true });
    copyFileSync(from, join(dir, file));
  }
  copyFileSync(timedSample, join(dir, 'nanogpt_timed_sample.py'));
  copyFileSync(corpus, join(dir, 'data/shakespeare_char/input.txt'));
  const stub = join(scratch, 'stub');
  mkdirSync(stub, { recursive: true });
  writeFileSync(
    join(stub, 'tiktoken.py'),
    'def get_encoding(name):\n    raise RuntimeError("tiktoken stand-in: fast_vs_nanogpt samples character models only")\n',
  );
  const env = nanogptEnv(scratch);
  const prepared = spawnSync(python, ['prepare.py'], { cwd: join(dir, 'data/shakespeare_char'), env, encoding: 'utf8' });
  if (prepared.status !== 0) fail(`nanoGPT's prepare.py failed:\n${prepared.stderr.slice(-3000)}`);
  return { dir, env };
}

/** Tokens per second over all of a tsgpt run's steps, from its log.jsonl step records (each a rate and a time). */
function stepTokensPerSecond(steps: readonly { ms: number; tokens_per_s: number }[]): number {
  const tokens = steps.reduce((s, r) => s + (r.tokens_per_s * r.ms) / 1000, 0);
  const ms = steps.reduce((s, r) => s + r.ms, 0);
  return ms > 0 ? (tokens / ms) * 1000 : NaN;
}

function describeTarget(e: { step: number; at: number } | undefined, target: number): string {
  return e === undefined ? `never <= ${target}` : `first eval <= ${target} at step ${e.step}, ${e.at.toFixed(1)} s after launch`;
}

async function main(): Promise<void> {
  const nanogpt = option('nanogpt') ?? fail('--nanogpt DIR (a checkout of karpathy/nanoGPT) is required');
  const preset = option('preset') ?? 'fast';
  if (!isPresetName(preset)) fail(`tsgpt has no preset "${preset}" (it has ${Object.keys(PRESETS).join(', ')})`);
  const defaultCorpus = join(repo, '..', 'shared', 'data', 'tinyshakespeare.txt');
  const corpus = resolve(option('data') ?? (process.env.TSGPT_DATA || defaultCorpus));
  if (!existsSync(corpus)) fail(`no corpus at ${corpus} (give --data PATH to Tiny Shakespeare)`);
  const python = option('python') ?? '/usr/bin/python3';
  const maxIters = count('max-iters');
  const evalInterval = count('eval-interval');
  const threads = option('threads');
  // Issue 15's target; another only to try the bench's arithmetic on a short trial.
  const targetText = option('target') ?? '1.88';
  const TARGET = Number(targetText);
  if (!(TARGET > 0)) fail(`--target takes a positive number, got "${targetText}"`);
  const scratch = option('scratch') ?? mkdtempSync(join(tmpdir(), 'fast-vs-nanogpt-'));
  mkdirSync(scratch, { recursive: true });
  const say = (line: string) => process.stdout.write(`${line}\n`);
  if (maxIters !== undefined || evalInterval !== undefined || option('target') !== undefined)
    say('note: --max-iters, --eval-interval or --target given: a trial of the bench, its figures say nothing');

  const nanoOut = join(scratch, 'out-nanogpt');
  const tsgptOut = join(scratch, 'tsgpt-run');
  if (process.argv.includes('--sample-only')) {
    // The runs a kept scratch folder holds (an earlier run with --scratch DIR or --keep): sampling alone.
    if (option('scratch') === undefined) fail('--sample-only needs --scratch DIR, a folder an earlier run kept');
    for (const dir of [join(scratch, 'nanogpt'), nanoOut, tsgptOut])
      if (!existsSync(dir)) fail(`${dir} is missing: --sample-only samples the runs an earlier full run kept in --scratch`);
    await timeSampling({ dir: join(scratch, 'nanogpt'), env: nanogptEnv(scratch) }, nanoOut, tsgptOut, python, threads, say);
    return;
  }
  const nano = nanogptScratch(resolve(nanogpt), scratch, corpus, python);
  const nanoArgs = [
    ...NANOGPT_BABY,
    `--out_dir=${nanoOut}`,
    ...(maxIters === undefined ? [] : [`--max_iters=${maxIters}`, `--lr_decay_iters=${maxIters}`]),
    ...(evalInterval === undefined ? [] : [`--eval_interval=${evalInterval}`]),
  ];
  process.stderr.write(`running nanoGPT's train.py in ${nano.dir} ...\n`);
  const nanoRun = checked(await timedRun(python, ['-u', 'train.py', ...nanoArgs], nano.dir, 'stdout', nano.env), "nanoGPT's train.py");
  const nanoEvals = evaluations(nanoRun);
  if (nanoEvals.length === 0) fail("nanoGPT's train.py printed no evaluation");
  const tokensPerIter = Number(/tokens per iteration will be: ([\d,]+)/.exec(nanoRun.stdout)?.[1]?.replace(/,/g, '') ?? NaN);
  const iterMs = [...nanoRun.stdout.matchAll(/^iter (\d+): loss [\d.]+, time ([\d.]+)ms/gm)]
    .filter((m) => m[1] !== '0')
    .map((m) => Number(m[2]));

  const tsgptArgs = [
    cli,
    'train',
    '--preset',
    preset,
    '--data',
    corpus,
    '--out',
    tsgptOut,
    // The preset's schedule stays (a short trial's decay would end inside the preset's warm-up, which tsgpt refuses).
    ...(maxIters === undefined ? [] : ['--max-iters', String(maxIters)]),
    ...(evalInterval === undefined ? [] : ['--eval-interval', String(evalInterval)]),
    ...(threads === undefined ? [] : ['--threads', threads]),
  ];
  process.stderr.write(`running tsgpt train --preset ${preset} ...\n`);
  const ours = checked(await timedRun(process.execPath, tsgptArgs, repo, 'stderr'), `tsgpt train --preset ${preset}`);
  const ourEvals = evaluations(ours);
  const steps = readFileSync(join(tsgptOut, 'log.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { type: string; ms: number; tokens_per_s: number })
    .filter((r) => r.type === 'step');

  const nanoReached = nanoEvals.find((e) => e.valLoss <= TARGET);
  const ourReached = ourEvals.find((e) => e.valLoss <= TARGET);
  const nanoFinal = nanoEvals.at(-1)!,
    ourFinal = ourEvals.at(-1)!;
  say(
    `nanoGPT train.py (baby CPU settings): wall ${nanoRun.wall.toFixed(1)} s; final val loss ${nanoFinal.valLoss.toFixed(4)} ` +
      `(step ${nanoFinal.step}); ${describeTarget(nanoReached, TARGET)}; ${Math.round((tokensPerIter * 1000) / mean(iterMs)).toLocaleString('en-US')} tokens/s`,
  );
  say(
    `tsgpt train --preset ${preset}: wall ${ours.wall.toFixed(1)} s; final val loss ${ourFinal.valLoss.toFixed(4)} (step ${ourFinal.step}); ` +
      `${describeTarget(ourReached, TARGET)}; ${Math.round(stepTokensPerSecond(steps)).toLocaleString('en-US')} tokens/s`,
  );
  say(
    ourReached === undefined
      ? `ratio: tsgpt never reached ${TARGET}, so there is no ratio (goal: 0.5 or less of nanoGPT's whole run)`
      : `ratio: tsgpt's time to ${TARGET} / nanoGPT's whole run = ${(ourReached.at / nanoRun.wall).toFixed(3)} (goal: 0.5 or less)`,
  );

  await timeSampling(nano, nanoOut, tsgptOut, python, threads, say);
  // A scratch folder the bench made goes unless --keep; one the user named stays.
  const remove = !process.argv.includes('--keep') && option('scratch') === undefined;
  say(`scratch folder: ${scratch}${remove ? ' (removed; --keep keeps it)' : ''}`);
  if (remove) rmSync(scratch, { recursive: true, force: true });
}

/**
 * Sampling 300 tokens, each side from its own run, --sample-rounds times in turn (nanoGPT's sample.py with its
 * defaults but for one sample on the CPU; tsgpt sample with sample.py's temperature and top-k, from the same
 * start, "\n"); prints every round and the medians' ratio.
 */
async function timeSampling(
  nano: { dir: string; env: NodeJS.ProcessEnv },
  nanoOut: string,
  tsgptOut: string,
  python: string,
  threads: string | undefined,
  say: (line: string) => void,
): Promise<void> {
  const rounds = count('sample-rounds') ?? 3;
  const sampleArgs = (tokens: number) => [
    cli,
    'sample',
    '--from',
    tsgptOut,
    '--start',
    '\n',
    '--temperature',
    '0.8',
    '--top-k',
    '200',
    '--tokens',
    String(tokens),
    ...(threads === undefined ? [] : ['--threads', threads]),
  ];
  const nanoSeconds: number[] = [],
    ourSeconds: number[] = [];
  const rate = (s: number) => `${Math.round(SAMPLE_TOKENS / s).toLocaleString('en-US')} tokens/s`;
  for (let r = 1; r <= rounds; r++) {
    const nanoSample = checked(
      await timedRun(
        python,
        [
          'nanogpt_timed_sample.py',
          `--out_dir=${nanoOut}`,
          '--num_samples=1',
          `--max_new_tokens=${SAMPLE_TOKENS}`,
          '--device=cpu',
          '--compile=False',
        ],
        nano.dir,
        'stderr',
        nano.env,
      ),
      "nanoGPT's sample.py",
    );
    const generateSeconds = Number(/generate_seconds ([\d.e+-]+)\s*$/.exec(nanoSample.stderr)?.[1] ?? NaN);
    const empty = checked(await timedRun(process.execPath, sampleArgs(0), repo, 'stdout'), 'tsgpt sample --tokens 0');
    const full = checked(
      await timedRun(process.execPath, sampleArgs(SAMPLE_TOKENS), repo, 'stdout'),
      `tsgpt sample --tokens ${SAMPLE_TOKENS}`,
    );
    const ours = full.wall - empty.wall;
    nanoSeconds.push(generateSeconds);
    ourSeconds.push(ours);
    say(
      `sampling ${SAMPLE_TOKENS} tokens, round ${r}: nanoGPT sample.py ${generateSeconds.toFixed(3)} s in generate() (${rate(generateSeconds)}; ` +
        `whole command ${nanoSample.wall.toFixed(1)} s); tsgpt sample ${ours.toFixed(3)} s (${rate(ours)}: ` +
        `${full.wall.toFixed(2)} s with --tokens ${SAMPLE_TOKENS} minus ${empty.wall.toFixed(2)} s with --tokens 0); ` +
        `${(generateSeconds / ours).toFixed(1)}x`,
    );
  }
  const nanoMedian = median(nanoSeconds),
    ourMedian = median(ourSeconds);
  say(
    `sampling ${SAMPLE_TOKENS} tokens, medians of ${rounds}: nanoGPT ${rate(nanoMedian)}, tsgpt ${rate(ourMedian)}; ` +
      `tsgpt/nanoGPT speed ${(nanoMedian / ourMedian).toFixed(1)}x (goal: 10x or more)`,
  );
}

function median(values: number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function mean(values: number[]): number {
  return values.length === 0 ? NaN : values.reduce((s, v) => s + v, 0) / values.length;
}

await main();
