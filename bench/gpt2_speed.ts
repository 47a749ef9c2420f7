/**
 * GPT-2 124M (random weights) in tsgpt against PyTorch on this machine (run by hand, never in CI):
 *
 *   node dist/bench/gpt2_speed.js [--nanogpt DIR] [--threads N] [--new-tokens 128] [--steps 3] [--json] [--n-layer 12]
 *
 * tsgpt's measurements come first, in this process; then, with --nanogpt (a checkout of nanoGPT outside the
 * repository), bench/torch_gpt2.py makes PyTorch's in its own process, after tsgpt's model is freed: one after
 * the other, never at once. Each side reports
 *   sampling   tokens/s of --new-tokens new tokens after an 8-token prompt, temperature 1, no top-k, with the
 *              key/value cache (tsgpt's decoder; PyTorch: a cached loop over nanoGPT's modules), best of two
 *              runs after a warm-up; PyTorch also without a cache (nanoGPT's generate);
 *   training   ms per step of batch 4, context 64 (forward, backward, clipping at 1.0, AdamW), the median of
 *              --steps steps after one warm-up;
 *   bandwidth  GB/s of one thread reading 256 MB (memcmp of two 128 MB buffers), best of 5; PyTorch's script
 *              measures numpy's sum of a 256 MB array;
 *   bound      sampling as a share of the memory-bandwidth bound: every new token reads every float32 weight
 *              once (the tied embedding once: the head reads it all, the lookup one row of it; one row of the
 *              position table), so tokens/s can be at most bandwidth / those bytes;
 *   memory     the peak resident set (process.resourceUsage().maxRSS) after sampling and after training.
 * --n-layer makes a smaller model, for checking the script, not for figures.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { enableRelaxedSimd } from '../src/cli/wasm_flags.js';
import { kernels, setKernels } from '../src/engine/backend.js';
import { Rng } from '../src/engine/random.js';
import { createWasmKernelsSync } from '../src/engine/wasm/wasm_kernels.js';
import { createModel, type GPTConfig } from '../src/models/index.js';
import { spawnNodeKernelWorker } from '../src/node/kernel_threads.js';
import { generate } from '../src/sample/generate.js';
import { PRESETS, type RunConfig } from '../src/train/config.js';
import { Trainer } from '../src/train/trainer.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : fallback;
};
const threads = Number(option('threads', '2'));
const newTokens = Number(option('new-tokens', '128'));
const steps = Number(option('steps', '3'));
const nLayer = Number(option('n-layer', '12'));
const nanogpt = args.includes('--nanogpt') ? option('nanogpt', '') : undefined;
const JSON_OUTPUT = args.includes('--json');
const PROMPT = 8;
const [BATCH, CONTEXT] = [4, 64];

enableRelaxedSimd();
setKernels(createWasmKernelsSync(undefined, { threads, spawnWorker: spawnNodeKernelWorker }));

/**
 * Read bandwidth of one thread, GB/s: Buffer.compare of two equal 128 MB buffers, which is libc's memcmp reading
 * both to the end with vector loads (a JavaScript loop over a typed array is held back by its own instructions:
 * it reached 2.5 GB/s where numpy's sum reached 6.3 here), best of five.
 */
function bandwidthGbs(): number {
  const a = Buffer.alloc(128 << 20, 1);
  const b = Buffer.alloc(128 << 20, 1);
  let best = Infinity;
  for (let round = 0; round < 5; round++) {
    const t0 = performance.now();
    if (Buffer.compare(a, b) !== 0) throw new Error('bandwidth: the buffers differ');
    best = Math.min(best, performance.now() - t0);
  }
  return (a.byteLength + b.byteLength) / best / 1e6;
}

const peakRssMb = () => process.resourceUsage().maxRSS / 1024; // Node reports kilobytes

// GPT-2 124M as nanoGPT's model.py builds it (exact GELU, biases, tied head), with random weights.
const modelConfig: GPTConfig = {
  kind: 'gpt',
  style: 'nanogpt',
  activation: 'gelu',
  vocabSize: 50257,
  blockSize: 1024,
  nLayer,
  nHead: 12,
  nEmbd: 768,
  dropout: 0,
  bias: true,
};
const rng = new Rng(1337);
const model = createModel(modelConfig, rng);
const parameters = model.namedParameters().reduce((n, [, p]) => n + p.data.length, 0);
// What one new token reads: every weight once, except the position table, of which one row.
const bytesPerToken = 4 * (parameters - (modelConfig.blockSize - 1) * modelConfig.nEmbd);
const prompt = Array.from({ length: PROMPT }, () => rng.int(modelConfig.vocabSize));

function sampleRate(tokens: number): number {
  const t0 = performance.now();
  let n = 0;
  for (const _ of generate(model, prompt, { maxNewTokens: tokens, temperature: 1, rng: new Rng(7), useCache: true })) n++;
  return (n / (performance.now() - t0)) * 1000;
}

sampleRate(4); // warm-up: the JIT, and the transposed weight copies the decoder makes once
const sampleTokensPerS = Math.max(sampleRate(newTokens), sampleRate(newTokens));
const rssAfterSampling = peakRssMb();

const config: RunConfig = {
  ...PRESETS.baby,
  ...modelConfig,
  activation: 'gelu',
  batchSize: BATCH,
  blockSize: CONTEXT,
  learningRate: 6e-4,
  beta2: 0.95,
  weightDecay: 0.1,
  gradClip: 1,
  gradientAccumulationSteps: 1,
};
const tokens = Int32Array.from({ length: 100_000 }, () => rng.int(modelConfig.vocabSize));
const trainer = new Trainer(model, config, tokens.subarray(0, 90_000), tokens.subarray(90_000), rng);
trainer.trainStep(); // warm-up
const times: number[] = [];
for (let s = 0; s < steps; s++) {
  const t0 = performance.now();
  trainer.trainStep();
  times.push(performance.now() - t0);
}
times.sort((a, b) => a - b);
const rssPeak = peakRssMb();
trainer.optimizer.dispose();
model.dispose();
const bandwidth = bandwidthGbs();

const ours = {
  framework: 'tsgpt',
  threads: kernels().threads,
  parameters,
  bytes_per_token: bytesPerToken,
  sample_new_tokens: newTokens,
  sample_tokens_per_s_cached: sampleTokensPerS,
  train_ms_per_step: times[Math.floor(times.length / 2)]!,
  train_ms_per_step_best: times[0]!,
  bandwidth_gbs: bandwidth,
  bound_tokens_per_s: (bandwidth * 1e9) / bytesPerToken,
  share_of_bound: sampleTokensPerS / ((bandwidth * 1e9) / bytesPerToken),
  peak_rss_mb_after_sampling: rssAfterSampling,
  peak_rss_mb: rssPeak,
};

let torch: Record<string, number | string> | null = null;
if (nanogpt !== undefined) {
  const script = fileURLToPath(new URL('../../bench/torch_gpt2.py', import.meta.url));
  const r = spawnSync(
    '/usr/bin/python3',
    [script, '--nanogpt', nanogpt, '--new-tokens', String(newTokens), '--steps', String(steps), '--n-layer', String(nLayer), '--json'],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`bench/torch_gpt2.py failed:\n${r.stderr}`);
  torch = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Record<string, number | string>;
  torch.bound_tokens_per_s = (Number(torch.bandwidth_gbs) * 1e9) / bytesPerToken;
  torch.share_of_bound = Number(torch.sample_tokens_per_s_cached) / Number(torch.bound_tokens_per_s);
}

if (JSON_OUTPUT) {
  console.log(JSON.stringify({ tsgpt: ours, torch }));
} else {
  const f = (v: unknown, digits = 1) => (typeof v === 'number' ? v.toFixed(digits) : String(v ?? '-'));
  console.log(
    `GPT-2 ${nLayer === 12 ? '124M' : `with ${nLayer} layers`} (${parameters.toLocaleString('en')} parameters, ` +
      `${(bytesPerToken / 1e6).toFixed(0)} MB of float32 weights read per token), random weights`,
  );
  console.log(
    `| | tsgpt (${ours.threads} threads) | ${torch === null ? 'PyTorch (not run: give --nanogpt DIR)' : `${torch.framework} (${torch.threads} intra-op, OpenBLAS ${torch.blas_threads})`} |`,
  );
  console.log('|---|---|---|');
  const rows: [string, unknown, unknown, number?][] = [
    [`sampling ${newTokens} tokens, KV cache, tokens/s`, ours.sample_tokens_per_s_cached, torch?.sample_tokens_per_s_cached, 2],
    [
      `sampling ${torch?.sample_uncached_tokens ?? ''} tokens, no cache (nanoGPT's generate), tokens/s`,
      null,
      torch?.sample_tokens_per_s_uncached,
      2,
    ],
    [`training step, batch ${BATCH} x ${CONTEXT}, AdamW, ms (median)`, ours.train_ms_per_step, torch?.train_ms_per_step, 0],
    ['read bandwidth, one thread, GB/s (memcmp; numpy sum)', ours.bandwidth_gbs, torch?.bandwidth_gbs, 2],
    ['bandwidth bound, tokens/s', ours.bound_tokens_per_s, torch?.bound_tokens_per_s, 2],
    ['sampling as a share of the bound', ours.share_of_bound, torch?.share_of_bound, 2],
    ['peak RSS after sampling, MB', ours.peak_rss_mb_after_sampling, torch?.peak_rss_mb_after_sampling, 0],
    ['peak RSS after training, MB', ours.peak_rss_mb, torch?.peak_rss_mb, 0],
  ];
  for (const [what, a, b, digits] of rows) console.log(`| ${what} | ${a === null ? '-' : f(a, digits)} | ${f(b, digits)} |`);
}
process.exit(0);
