/**
 * Timing a preset: training steps on random tokens (speed does not depend on the text), and sampling with and
 * without the key/value cache (and, for a rotary model, rolling the cache past the block size or cropping). Warm-up steps come first: the first steps fill the arena's free lists and let
 * the JIT compile the kernels.
 */
import { kernels } from '../engine/backend.js';
import { matmulNT } from '../engine/matmul_layouts.js';
import { Rng } from '../engine/random.js';
import { Tensor } from '../engine/tensor.js';
import type { PastContext } from '../models/decoder.js';
import { createModel } from '../models/index.js';
import { generate } from '../sample/generate.js';
import { modelConfigFor, type RunConfig } from '../train/config.js';
import { Trainer } from '../train/trainer.js';
import { trainingStepFlops } from './flops.js';

export interface BenchResult {
  preset: string;
  kernels: string;
  threads: number;
  steps: number;
  ms_per_step: number;
  tokens_per_s: number;
  gflops: number;
  /** This machine's matmul ceiling on these kernels and threads: a hot, cache-resident 768x128 @ 128x384. */
  ceiling_gflops: number;
  /** gflops / ceiling_gflops. */
  share_of_ceiling: number;
  sample_tokens: number;
  /** With the cache: past the block size, a rotary model rolls it (its default), others crop. */
  sample_tokens_per_s: number;
  sample_tokens_per_s_uncached: number;
  /** A rotary model's sampling with the cache but cropping past the block size, as nanoGPT; null without rotary. */
  sample_tokens_per_s_crop: number | null;
  /** Sampling blockSize - 1 tokens from one, so every step fits the context: where the cache matters most. */
  sample_block_tokens_per_s: number;
  sample_block_tokens_per_s_uncached: number;
}

export interface BenchOptions {
  preset: string;
  config: RunConfig;
  kernels: string;
  warmupSteps: number;
  steps: number;
  sampleTokens: number;
  vocabSize?: number;
}

export function benchPreset(o: BenchOptions): BenchResult {
  const vocabSize = o.vocabSize ?? 65;
  const rng = new Rng(o.config.seed);
  const tokens = Int32Array.from({ length: 200_000 }, () => rng.int(vocabSize));
  const modelConfig = modelConfigFor(o.config, vocabSize);
  const model = createModel(modelConfig, rng);
  const trainer = new Trainer(model, o.config, tokens.subarray(0, 180_000), tokens.subarray(180_000), rng);
  const ceilingBefore = matmulCeilingGflops();
  for (let i = 0; i < o.warmupSteps; i++) trainer.trainStep();
  const started = performance.now();
  for (let i = 0; i < o.steps; i++) trainer.trainStep();
  const msPerStep = (performance.now() - started) / o.steps;
  const tokensPerStep = o.config.batchSize * o.config.blockSize * o.config.gradientAccumulationSteps;
  const flops = trainingStepFlops(modelConfig, o.config.batchSize, o.config.blockSize) * o.config.gradientAccumulationSteps;

  // Tokens per second of generating `tokens` tokens from one, repeated for a second, after a second of the
  // same (at least two runs each): the steady rate, once the JIT has compiled the sampling code.
  const sampleRate = (useCache: boolean, tokens: number, pastContext?: PastContext) => {
    const run = () => {
      let n = 0;
      for (const _ of generate(model, [0], { maxNewTokens: tokens, temperature: 1, rng: new Rng(1), useCache, pastContext })) n++;
      return n;
    };
    const timed = () => {
      const t0 = performance.now();
      let n = 0,
        runs = 0;
      do {
        n += run();
        runs++;
      } while (runs < 2 || performance.now() - t0 < 1000);
      return (n / (performance.now() - t0)) * 1000;
    };
    timed();
    return timed();
  };
  const gflops = flops / msPerStep / 1e6;
  // Measured before and after the steps, the better kept: the ceiling is what the machine can do at its best.
  const ceiling = Math.max(ceilingBefore, matmulCeilingGflops());
  const block = modelConfig.blockSize - 1;
  const result: BenchResult = {
    preset: o.preset,
    kernels: o.kernels,
    threads: kernels().threads,
    steps: o.steps,
    ms_per_step: msPerStep,
    tokens_per_s: (tokensPerStep / msPerStep) * 1000,
    gflops,
    ceiling_gflops: ceiling,
    share_of_ceiling: gflops / ceiling,
    sample_tokens: o.sampleTokens,
    sample_tokens_per_s: sampleRate(true, o.sampleTokens),
    sample_tokens_per_s_uncached: sampleRate(false, o.sampleTokens),
    sample_tokens_per_s_crop: model.pastContexts.includes('roll') ? sampleRate(true, o.sampleTokens, 'crop') : null,
    sample_block_tokens_per_s: sampleRate(true, block),
    sample_block_tokens_per_s_uncached: sampleRate(false, block),
  };
  trainer.disposeOptimizers();
  model.dispose();
  return result;
}

/**
 * The best matmul rate of the active kernels here: the reference product (768x128 @ 128x384) on
 * operands that stay in cache, repeated, best of five rounds. Training's GFLOPS are read against it.
 */
export function matmulCeilingGflops(): number {
  const [M, N, K] = [768, 384, 128];
  const rng = new Rng(3);
  const [out, a, b] = [M * N, M * K, N * K].map((n) => {
    const t = new Tensor([n]);
    t.data.forEach((_, i, d) => (d[i] = rng.normal()));
    return t;
  }) as [Tensor, Tensor, Tensor];
  const k = kernels();
  const reps = 20;
  let best = Infinity;
  for (let round = 0; round < 6; round++) {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) matmulNT(k, out.data, a.data, b.data, M, N, K, false);
    const dt = (performance.now() - t0) / reps;
    if (round > 0) best = Math.min(best, dt); // round 0 warms up
  }
  for (const t of [out, a, b]) t.dispose();
  return (2 * M * N * K) / best / 1e6;
}
