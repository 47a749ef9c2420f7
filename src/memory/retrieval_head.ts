/**
 * A retrieval head: one attention head over a memory, on top of vectors from anywhere (a tsgpt model's hidden
 * states, or another embedder's). A query q and a stored item k (both width d) are projected to rank r and
 * scored as attention scores them:
 *
 *   score(q, k) = (W_q q) . (W_k k) / (sqrt(r) * T)          W_q, W_k [r, d]; T the temperature
 *
 * and the softmax of a query's scores over the items is the attention's read of the memory. Trained on pairs
 * (a query, the item that answers it), the softmax is a classifier: in a batch of B pairs, query i's right
 * class is item i and the other B - 1 items are its negatives, so the loss is the cross-entropy of the [B, B]
 * score matrix against targets 0 .. B-1 (CLIP's and dense retrieval's in-batch loss, in one direction).
 *
 * The temperature is learned, as its logarithm (CLIP's choice), unless a fixed one is asked for. The scale of
 * W_q W_k^T could sharpen the softmax on its own, but AdamW's weight decay pulls that scale towards zero while
 * the log-temperature, one number, is not decayed (nanoGPT's groups decay only matrices): the projections then
 * learn which directions match and the temperature how sharp the read is, which is the number a system that
 * mixes values by these weights (kNN-LM) needs calibrated. Log space makes its steps multiplicative and keeps
 * it positive.
 *
 * The projections start as the identity when r = d (the head starts exactly where plain dot-product retrieval
 * is), else as r orthonormal rows drawn from the seed (a random subspace, which keeps dot products in
 * expectation). Browser-safe.
 */
import { crossEntropy } from '../engine/ops/cross_entropy.js';
import { linear } from '../engine/ops/linear.js';
import type { Rng } from '../engine/random.js';
import { intTensor, parameter, tensor, untracked, type Tensor } from '../engine/tensor.js';
import { Linear } from '../nn/layers.js';
import { Module } from '../nn/module.js';
import { divideByTemperature } from './temperature.js';

export interface RetrievalHeadOptions {
  /** The projections' output width r, 1 to d (default d). */
  rank?: number;
  /** The temperature to start from (default 1). */
  temperature?: number;
  /** Learn the temperature (default true); false keeps it fixed. */
  learnTemperature?: boolean;
  /** W_q and W_k to start from, each [r, d] (default: the identity, or random orthonormal rows). */
  weights?: { query: Float32Array; key: Float32Array };
}

export class RetrievalHead extends Module {
  /** The input vectors' width d. */
  readonly width: number;
  /** The projections' width r. */
  readonly rank: number;
  /** W_q [r, d]: a Linear without bias, registered as query.weight. */
  readonly query: Linear;
  /** W_k [r, d]: key.weight. */
  readonly key: Linear;
  /** log T, one value; a parameter (log_temperature) only when learned. */
  readonly logTemperature: Tensor;
  readonly learnsTemperature: boolean;

  constructor(width: number, rng: Rng, opts: RetrievalHeadOptions = {}) {
    super();
    const rank = opts.rank ?? width;
    if (!Number.isSafeInteger(width) || width < 1) throw new RangeError(`retrieval head: width must be a positive integer, got ${width}`);
    if (!Number.isSafeInteger(rank) || rank < 1 || rank > width) {
      throw new RangeError(`retrieval head: rank must be an integer from 1 to the width ${width}, got ${rank}`);
    }
    const temperature = opts.temperature ?? 1;
    if (!(temperature > 0 && Number.isFinite(temperature)))
      throw new RangeError(`retrieval head: temperature ${temperature} is not positive`);
    this.width = width;
    this.rank = rank;
    this.query = this.registerModule('query', new Linear(width, rank, rng, { bias: false }));
    this.key = this.registerModule('key', new Linear(width, rank, rng, { bias: false }));
    const start = opts.weights === undefined ? initialProjection(width, rank, rng) : null;
    this.query.weight.data.set(opts.weights?.query ?? start!);
    this.key.weight.data.set(opts.weights?.key ?? start!);
    this.learnsTemperature = opts.learnTemperature ?? true;
    const logT = untracked(() => tensor([Math.log(temperature)]));
    this.logTemperature = this.learnsTemperature
      ? this.registerParameter(
          'log_temperature',
          parameter(() => logT),
        )
      : logT;
  }

  get temperature(): number {
    return Math.exp(this.logTemperature.data[0]!);
  }

  /** The softmax's inputs [B, M]: every query [B, d] scored against every item [M, d]. */
  scores(queries: Tensor, items: Tensor): Tensor {
    return divideByTemperature(
      linear(this.projectQueries(queries), this.projectItems(items)),
      this.logTemperature,
      1 / Math.sqrt(this.rank),
    );
  }

  /** The in-batch loss of B pairs (row i of items answers row i of queries): mean cross-entropy of [B, B] scores. */
  loss(queries: Tensor, items: Tensor): Tensor {
    const B = queries.shape[0]!;
    if (items.shape[0] !== B) throw new RangeError(`retrieval head: ${B} queries and ${items.shape[0]} items`);
    return crossEntropy(this.scores(queries, items), intTensor(Array.from({ length: B }, (_, i) => i)));
  }

  /** W_q q for every row [n, d] -> [n, r]. */
  projectQueries(queries: Tensor): Tensor {
    return this.query.forward(queries);
  }

  /** W_k k for every row [n, d] -> [n, r]. */
  projectItems(items: Tensor): Tensor {
    return this.key.forward(items);
  }

  override dispose(): void {
    super.dispose();
    this.logTemperature.dispose();
  }
}

/** The identity's first r rows when r = d, else r orthonormal rows (Gram-Schmidt on Gaussian rows), [r, d]. */
function initialProjection(width: number, rank: number, rng: Rng): Float32Array {
  const out = new Float32Array(rank * width);
  if (rank === width) {
    for (let i = 0; i < rank; i++) out[i * width + i] = 1;
    return out;
  }
  const rows: Float64Array[] = [];
  while (rows.length < rank) {
    const v = new Float64Array(width);
    for (let j = 0; j < width; j++) v[j] = rng.normal();
    for (const u of rows) {
      let dot = 0;
      for (let j = 0; j < width; j++) dot += u[j]! * v[j]!;
      for (let j = 0; j < width; j++) v[j]! -= dot * u[j]!;
    }
    let norm = 0;
    for (let j = 0; j < width; j++) norm += v[j]! * v[j]!;
    norm = Math.sqrt(norm);
    // A draw (numerically) inside the span of the rows so far is drawn again.
    if (norm < 1e-6) continue;
    for (let j = 0; j < width; j++) v[j]! /= norm;
    rows.push(v);
  }
  rows.forEach((v, i) => out.set(v, i * width));
  return out;
}
