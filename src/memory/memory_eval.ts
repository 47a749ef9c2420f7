/**
 * Measuring a memory: the loss (nats per token) on a text with and without it, and a sweep that tunes the
 * scoring on one part of the text and reports the result on the rest.
 *
 * The expensive part is done once: the text goes through the model in windows (forwardHidden), giving every
 * position's probability of the right next token and its query; the memory is searched once for a generous
 * set of candidates per query. Each setting of the scoring is then a cheap pass over that evidence, so a
 * sweep over k, temperature, lambda and the context bonus costs seconds.
 */
import { TsgptError } from '../errors.js';
import type { GPT } from '../models/gpt.js';
import { MAX_MATCH } from './context_index.js';
import type { Memory } from './memory.js';
import type { MemoryScoring } from './memory_config.js';
import { readInWindows } from './windows.js';

/** For each position: the model's probability of the next token, and the memory's candidates for it. */
export interface Evidence {
  positions: number;
  /** Candidates kept per position (the widest k a sweep may try, plus context matches). */
  width: number;
  pModel: Float64Array;
  /** Per candidate: its scaled attention score (without bonus), shared context, whether its value is the target. */
  score: Float32Array;
  match: Uint8Array;
  hit: Uint8Array;
}

export interface EvidenceOptions {
  /** The most neighbours a setting will read (default: the memory's scoring's k). */
  kMax?: number;
  stride?: number;
  batch?: number;
  onProgress?: (done: number, total: number) => void;
}

/** Runs the text through the model and the memory once (see the top of the file). */
export function collectEvidence(model: GPT, memory: Memory, tokens: Int32Array, opts: EvidenceOptions = {}): Evidence {
  const N = tokens.length - 1;
  if (N < 1) throw new TsgptError('the text to evaluate on needs at least two tokens');
  const kMax = Math.min(opts.kMax ?? memory.config.scoring.k, memory.count);
  const V = model.vocabSize;
  const width = 2 * kMax;
  const ev: Evidence = {
    positions: N,
    width,
    pModel: new Float64Array(N),
    score: new Float32Array(N * width).fill(-Infinity),
    match: new Uint8Array(N * width),
    hit: new Uint8Array(N * width),
  };
  // Candidates: the kMax best by attention score and up to kMax by shared context (a bonus only turns that on).
  const gather: MemoryScoring = { ...memory.config.scoring, k: kMax, matchBonus: 1 };
  readInWindows(
    model,
    tokens,
    memory.config.point,
    { stride: opts.stride, batch: opts.batch, logits: true },
    ({ from, to, hidden, logits }) => {
      const contexts: Int32Array[] = [];
      for (let p = from; p < to; p++) contexts.push(tokens.subarray(Math.max(0, p + 1 - MAX_MATCH), p + 1));
      memory.candidates(hidden, contexts, gather).forEach((found, j) => {
        const p = from + j;
        ev.pModel[p] = probabilityOf(logits!.subarray(j * V, (j + 1) * V), tokens[p + 1]!);
        found.forEach((c, m) => {
          const at = p * width + m;
          ev.score[at] = c.score;
          ev.match[at] = c.match;
          ev.hit[at] = memory.value(c.index) === tokens[p + 1] ? 1 : 0;
        });
      });
      opts.onProgress?.(to, N);
    },
  );
  return ev;
}

/** softmax(logits)[target], in float64. */
function probabilityOf(logits: Float32Array, target: number): number {
  let max = -Infinity;
  for (const v of logits) if (v > max) max = v;
  let sum = 0;
  for (const v of logits) sum += Math.exp(v - max);
  return Math.exp(logits[target]! - max) / sum;
}

export interface LossReport {
  /** Mean negative log-probability of the next token, in nats, over positions [from, to). */
  loss: number;
  lossWithMemory: number;
  positions: number;
}

/** The loss with and without the memory over positions [from, to) of the evidence, for one scoring. */
export function lossWithMemory(ev: Evidence, s: MemoryScoring, from = 0, to = ev.positions): LossReport {
  const { pMem, lambda } = memoryTerms(ev, rank(ev, s.matchBonus), s);
  return mixedLoss(ev, pMem, (p) => lambda[p]!, from, to);
}

/**
 * Each position's candidates, best first by attention score plus bonus times shared context: their places in
 * the evidence, in rows of ev.width (a row ends at the first -1).
 */
function rank(ev: Evidence, bonus: number): Int16Array {
  const order = new Int16Array(ev.positions * ev.width).fill(-1);
  const total = new Float64Array(ev.width);
  const row: number[] = [];
  for (let p = 0; p < ev.positions; p++) {
    row.length = 0;
    for (let c = 0; c < ev.width; c++) {
      const at = p * ev.width + c;
      if (ev.score[at] === -Infinity) break;
      total[c] = ev.score[at]! + bonus * ev.match[at]!;
      row.push(c);
    }
    row.sort((a, b) => total[b]! - total[a]! || a - b);
    order.set(row, p * ev.width);
  }
  return order;
}

/**
 * For one ranking and one (k, temperature): each position's memory probability of the right token, and the
 * lambda its gate gives (0 where the memory found nothing).
 */
function memoryTerms(ev: Evidence, order: Int16Array, s: MemoryScoring): { pMem: Float64Array; lambda: Float64Array } {
  const pMem = new Float64Array(ev.positions),
    lambda = new Float64Array(ev.positions);
  for (let p = 0; p < ev.positions; p++) {
    const base = p * ev.width;
    const first = order[base]!;
    if (first < 0) continue;
    const max = ev.score[base + first]! + s.matchBonus * ev.match[base + first]!;
    let sum = 0,
      hit = 0,
      longest = 0;
    for (let j = 0; j < s.k && j < ev.width; j++) {
      const c = order[base + j]!;
      if (c < 0) break;
      const at = base + c;
      const w = Math.exp((ev.score[at]! + s.matchBonus * ev.match[at]! - max) / s.temperature);
      sum += w;
      if (ev.hit[at]) hit += w;
      if (ev.match[at]! > longest) longest = ev.match[at]!;
    }
    pMem[p] = hit / sum;
    lambda[p] = s.matchBonus > 0 && longest >= s.matchMin ? s.matchLambda : s.lambda;
  }
  return { pMem, lambda };
}

/** Mean negative log-probability over [from, to), alone and mixed with the memory by lambdaAt(p). */
function mixedLoss(ev: Evidence, pMem: Float64Array, lambdaAt: (p: number) => number, from: number, to: number): LossReport {
  let base = 0,
    mixed = 0;
  for (let p = from; p < to; p++) {
    const pm = ev.pModel[p]!,
      l = lambdaAt(p);
    base -= Math.log(pm);
    mixed -= Math.log(l * pMem[p]! + (1 - l) * pm);
  }
  const n = to - from;
  return { loss: base / n, lossWithMemory: mixed / n, positions: n };
}

export interface SweepResult {
  /** The best scoring on the first half of the positions. */
  best: MemoryScoring;
  /** Its losses on the first half (where it was chosen) and on the second (what is reported). */
  tuned: LossReport;
  reported: LossReport;
  tried: number;
}

/**
 * Tries every combination of the grid on the first half of the positions, keeps the lowest loss with the
 * memory, and reports that setting on the second half, which took no part in choosing it. The ranking is made
 * once per bonus and the memory's probabilities once per (bonus, k, temperature): lambdas cost one pass each.
 */
export function sweep(ev: Evidence, base: MemoryScoring, grid: SweepGrid = defaultGrid(base)): SweepResult {
  const half = ev.positions >> 1;
  let best: { scoring: MemoryScoring; report: LossReport } | null = null;
  let tried = 0;
  for (const matchBonus of grid.matchBonus) {
    const order = rank(ev, matchBonus);
    for (const k of grid.k) {
      for (const temperature of grid.temperature) {
        // Marks for what the gate does at each position: 1 opens it (matchLambda), 0.5 leaves it shut (lambda),
        // 0 is a memory that found nothing (no share at all).
        const probe = { ...base, k, temperature, matchBonus, lambda: 0.5, matchLambda: 1 };
        const { pMem, lambda: gate } = memoryTerms(ev, order, probe);
        for (const lambda of grid.lambda) {
          for (const matchLambda of matchBonus > 0 ? grid.matchLambda : [lambda]) {
            const report = mixedLoss(ev, pMem, (p) => (gate[p] === 1 ? matchLambda : gate[p] === 0 ? 0 : lambda), 0, half);
            tried++;
            if (best === null || report.lossWithMemory < best.report.lossWithMemory) {
              best = { scoring: { ...base, k, temperature, matchBonus, lambda, matchLambda }, report };
            }
          }
        }
      }
    }
  }
  return { best: best!.scoring, tuned: best!.report, reported: lossWithMemory(ev, best!.scoring, half, ev.positions), tried };
}

export interface SweepGrid {
  k: number[];
  temperature: number[];
  lambda: number[];
  matchBonus: number[];
  matchLambda: number[];
}

/** Around the memory's own settings: k up to its k, temperatures from a quarter to four times its own. */
export function defaultGrid(base: MemoryScoring): SweepGrid {
  return {
    k: [8, 32, 128].filter((k) => k <= base.k).concat(base.k > 128 || ![8, 32, 128].includes(base.k) ? [base.k] : []),
    temperature: [0.25, 0.5, 1, 2, 4].map((f) => f * base.temperature),
    lambda: [0.1, 0.25, 0.4, 0.5, 0.6, 0.75, 0.9],
    matchBonus: [0, 0.05, 0.2, 0.5],
    matchLambda: [0.75, 0.9, 0.97],
  };
}
