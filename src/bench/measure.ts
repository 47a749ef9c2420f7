/**
 * Timing a preset: training steps on random tokens (speed does not depend on the text), and sampling with and
 * without the key/value cache. Warm-up steps come first: the first steps fill the arena's free lists and let
 * the JIT compile the kernels.
 */
import { Rng } from '../engine/random.js';
import { createModel } from '../models/index.js';
import { generate } from '../sample/generate.js';
import { modelConfigFor, type RunConfig } from '../train/config.js';
import { Trainer } from '../train/trainer.js';
import { trainingStepFlops } from './flops.js';

export interface BenchResult {
  preset: string;
  kernels: string;
  steps: number;
  ms_per_step: number;
  tokens_per_s: number;
  gflops: number;
  sample_tokens: number;
  sample_tokens_per_s: number;
  sample_tokens_per_s_uncached: number;
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
  for (let i = 0; i < o.warmupSteps; i++) trainer.trainStep();
  const started = performance.now();
  for (let i = 0; i < o.steps; i++) trainer.trainStep();
  const msPerStep = (performance.now() - started) / o.steps;
  const tokensPerStep = o.config.batchSize * o.config.blockSize * o.config.gradientAccumulationSteps;
  const flops = trainingStepFlops(modelConfig, o.config.batchSize, o.config.blockSize) * o.config.gradientAccumulationSteps;

  const sampleRate = (useCache: boolean) => {
    const options = { maxNewTokens: o.sampleTokens, temperature: 1, rng: new Rng(1), useCache };
    for (const _ of generate(model, [0], { ...options, maxNewTokens: Math.min(20, o.sampleTokens) })) { /* warm-up */ }
    const t0 = performance.now();
    let n = 0;
    for (const _ of generate(model, [0], options)) n++;
    return (n / (performance.now() - t0)) * 1000;
  };
  const result: BenchResult = {
    preset: o.preset, kernels: o.kernels, steps: o.steps,
    ms_per_step: msPerStep, tokens_per_s: (tokensPerStep / msPerStep) * 1000, gflops: flops / msPerStep / 1e6,
    sample_tokens: o.sampleTokens, sample_tokens_per_s: sampleRate(true), sample_tokens_per_s_uncached: sampleRate(false),
  };
  trainer.optimizer.dispose();
  model.dispose();
  return result;
}
