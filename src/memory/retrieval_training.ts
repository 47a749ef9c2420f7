/**
 * Training a retrieval head on pairs with tsgpt's own engine: batches of B distinct training pairs (each pass
 * over the set in a new random order), the in-batch softmax loss, AdamW with nanoGPT's groups (the projections
 * decay, the log-temperature does not), nanoGPT's warm-up and cosine schedule, the gradient clipped by its
 * global norm, and the best weights on validation pairs kept. No files and no clocks beyond performance.now(); the caller prints. Browser-safe.
 */
import { noGrad } from '../engine/autograd.js';
import { linear } from '../engine/ops/linear.js';
import type { Rng } from '../engine/random.js';
import { tensor, tidy } from '../engine/tensor.js';
import { TsgptError } from '../errors.js';
import { AdamW, gradientNorm } from '../train/adamw.js';
import { learningRateAt } from '../train/schedule.js';
import { yieldToEventLoop } from '../train/yield.js';
import type { RetrievalHead } from './retrieval_head.js';
import { evaluateRetrieval, type RetrievalMetrics } from './retrieval_metrics.js';
import { shuffledIndices, type VectorPairs } from './vector_pairs.js';

export interface HeadTrainingConfig {
  steps: number;
  batchSize: number;
  learningRate: number;
  weightDecay: number;
  /** Global gradient-norm limit (0: none). */
  gradClip: number;
  /** Steps between measurements on the validation pairs. */
  evalInterval: number;
}

export const HEAD_TRAINING_DEFAULTS: HeadTrainingConfig = {
  steps: 2000,
  batchSize: 256,
  learningRate: 3e-3,
  weightDecay: 0.01,
  gradClip: 1,
  evalInterval: 100,
};

/** AdamW's moments: PyTorch's defaults. */
const BETAS = { beta1: 0.9, beta2: 0.999, eps: 1e-8 } as const;

export interface HeadStepReport {
  /** Steps done, 1 .. steps. */
  step: number;
  loss: number;
  lr: number;
  temperature: number;
  ms: number;
}

/** Batches of training pairs the starting temperature is fitted on, at most. */
const CALIBRATION_BATCHES = 8;

/**
 * The temperature to start from: the one at which the head as it starts (the identity when r = d) has the
 * lowest in-batch loss on the first few batches of training pairs, so that training starts from a calibrated
 * softmax, neither flat nor saturated, whatever the vectors' scale (a model's LayerNorm'd states, its raw
 * residual stream, unit-length embeddings). The loss is convex in 1/T (a log-sum-exp of a linear function
 * minus a linear function), so a golden-section search over log T finds it, between 1e-4 and 10 times the
 * scores' spread (their standard deviation).
 */
export function calibratedTemperature(head: RetrievalHead, pairs: VectorPairs, batchSize: number): number {
  const B = Math.min(batchSize, pairs.count),
    w = pairs.width,
    batches = Math.max(1, Math.min(CALIBRATION_BATCHES, Math.floor(pairs.count / B)));
  const scores = noGrad(() =>
    tidy(() => {
      const out: Float64Array[] = [];
      for (let b = 0; b < batches; b++) {
        const q = head.projectQueries(tensor(pairs.queries.subarray(b * B * w, (b + 1) * B * w), [B, w]));
        const k = head.projectItems(tensor(pairs.items.subarray(b * B * w, (b + 1) * B * w), [B, w]));
        out.push(Float64Array.from(linear(q, k).data, (v) => v / Math.sqrt(head.rank)));
      }
      return out;
    }),
  );
  let sum = 0,
    sumOfSquares = 0,
    n = 0;
  for (const s of scores) for (const v of s) [sum, sumOfSquares, n] = [sum + v, sumOfSquares + v * v, n + 1];
  const spread = Math.sqrt(Math.max(0, sumOfSquares / n - (sum / n) ** 2));
  if (!(spread > 0 && Number.isFinite(spread))) return 1;
  const loss = (logT: number): number => {
    const beta = Math.exp(-logT);
    let total = 0;
    for (const s of scores) {
      for (let i = 0; i < B; i++) {
        let max = -Infinity;
        for (let j = 0; j < B; j++) max = Math.max(max, beta * s[i * B + j]!);
        let z = 0;
        for (let j = 0; j < B; j++) z += Math.exp(beta * s[i * B + j]! - max);
        total += max + Math.log(z) - beta * s[i * B + i]!;
      }
    }
    return total;
  };
  // Golden-section search over log T in [a, b]: c and d are its inner points, the bracket shrinks by 0.618 a step.
  const ratio = (Math.sqrt(5) - 1) / 2;
  let a = Math.log(spread) - 4 * Math.LN10,
    b = Math.log(spread) + Math.LN10;
  let c = b - ratio * (b - a),
    d = a + ratio * (b - a),
    fc = loss(c),
    fd = loss(d);
  while (b - a > 1e-3) {
    if (fc <= fd) {
      [b, d, fd] = [d, c, fc];
      c = b - ratio * (b - a);
      fc = loss(c);
    } else {
      [a, c, fc] = [c, d, fd];
      d = a + ratio * (b - a);
      fd = loss(d);
    }
  }
  return Math.exp((a + b) / 2);
}

export interface HeadEvalReport {
  /** Steps done when measured (0: the head as it started). */
  step: number;
  metrics: RetrievalMetrics;
  /** The best MRR on the validation pairs so far: these are the weights training ends with, unless a later one beats them. */
  best: boolean;
}

export interface HeadTrainingCallbacks {
  onStep?(r: HeadStepReport): void;
  onEval?(r: HeadEvalReport): void;
}

export interface HeadTrainingResult {
  /** The last step's in-batch loss (null after no step). */
  lastLoss: number | null;
  /** The step whose weights the head ends with. */
  bestStep: number;
  /** Their metrics on the validation pairs (null without validation pairs). */
  best: RetrievalMetrics | null;
}

/**
 * Trains `head` in place. With validation pairs (taken from the training pairs, never the held-out ones), the
 * head is measured on them at the start, every evalInterval steps and at the end, and ends with the weights of
 * the best measurement by MRR, the start included, as nanoGPT keeps the checkpoint of the best validation
 * loss: the in-batch loss can fall while the ranking among all items gets worse, and a head should never
 * leave the retrieval it tunes worse than it found it on pairs it can check. Without them, the head ends
 * with the last step's weights.
 */
export async function trainRetrievalHead(
  head: RetrievalHead,
  train: VectorPairs,
  validation: VectorPairs | null,
  config: HeadTrainingConfig,
  rng: Rng,
  callbacks: HeadTrainingCallbacks = {},
): Promise<HeadTrainingResult> {
  const B = config.batchSize,
    w = train.width;
  if (B < 2 || B > train.count) throw new RangeError(`trainRetrievalHead: batch ${B} with ${train.count} training pairs`);
  if (w !== head.width) throw new RangeError(`trainRetrievalHead: pairs of width ${w} for a head of width ${head.width}`);
  const params = head.parameters();
  const optimizer = new AdamW(head.namedParameters(), { ...BETAS, weightDecay: config.weightDecay });
  const schedule = {
    learningRate: config.learningRate,
    minLr: config.learningRate / 10,
    warmupIters: Math.min(100, Math.floor(config.steps / 10)),
    lrDecayIters: config.steps,
    decayLr: true,
  };
  let best: RetrievalMetrics | null = null,
    bestStep = 0,
    bestWeights: Float32Array[] = [];
  const measure = (step: number): void => {
    if (validation === null) return;
    const metrics = evaluateRetrieval(validation, head);
    const better = best === null || metrics.mrr > best.mrr;
    if (better) [best, bestStep, bestWeights] = [metrics, step, params.map((p) => Float32Array.from(p.data))];
    callbacks.onEval?.({ step, metrics, best: better });
  };
  const queries = new Float32Array(B * w),
    items = new Float32Array(B * w);
  let order = shuffledIndices(train.count, rng),
    next = 0,
    lastLoss: number | null = null;
  try {
    measure(0);
    for (let step = 0; step < config.steps; step++) {
      const started = performance.now();
      // A new pass over the training pairs, in a new order, when this one has fewer than B left: a batch
      // never holds one pair twice (its item would be its own negative).
      if (next + B > train.count) [order, next] = [shuffledIndices(train.count, rng), 0];
      for (let b = 0; b < B; b++) {
        const p = order[next++]!;
        queries.set(train.queries.subarray(p * w, (p + 1) * w), b * w);
        items.set(train.items.subarray(p * w, (p + 1) * w), b * w);
      }
      const loss = tidy(() => {
        const l = head.loss(tensor(queries, [B, w]), tensor(items, [B, w]));
        const value = l.item();
        if (!Number.isFinite(value)) throw new TsgptError(`step ${step + 1}: the loss is ${value}; try a lower --lr`);
        l.backward();
        return value;
      });
      const { norm, scale } = gradientNorm(params, config.gradClip);
      if (!Number.isFinite(norm)) throw new TsgptError(`step ${step + 1}: the gradient is ${norm}; try a lower --lr`);
      const lr = learningRateAt(step, schedule);
      optimizer.update(lr, scale, true);
      lastLoss = loss;
      callbacks.onStep?.({ step: step + 1, loss, lr, temperature: head.temperature, ms: performance.now() - started });
      if ((step + 1) % config.evalInterval === 0 || step + 1 === config.steps) measure(step + 1);
      // Lets signals and a browser page's events through between steps.
      if ((step & 31) === 31) await yieldToEventLoop();
    }
  } finally {
    optimizer.dispose();
  }
  if (best !== null) params.forEach((p, i) => p.data.set(bestWeights[i]!));
  return { lastLoss, bestStep, best };
}
