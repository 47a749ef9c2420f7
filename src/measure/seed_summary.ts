/**
 * A stage's budgeted runs over several seeds, summarised: means and spreads of the loss at the budget and of
 * the time to the target, and the gain of one stage over another, in the speedrun's terms (how many times
 * faster the target is reached).
 */
import type { BudgetEval, BudgetResult } from './budget_training.js';

/** A mean and the sample standard deviation around it (0 for a single value). */
export interface Spread {
  mean: number;
  sd: number;
}

export function spread(values: readonly number[]): Spread {
  const n = values.length;
  if (n === 0) return { mean: NaN, sd: NaN };
  const mean = values.reduce((s, v) => s + v, 0) / n;
  if (n === 1) return { mean, sd: 0 };
  const variance = values.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1);
  return { mean, sd: Math.sqrt(variance) };
}

export interface StageSummary {
  seeds: number;
  /** Validation loss at the budget. */
  valLoss: Spread;
  steps: Spread;
  trainSeconds: Spread;
  tokensPerSecond: Spread;
  /** How many seeds reached the target. */
  reachedSeeds: number;
  /** Steps and training seconds to the target, over the seeds that reached it. */
  targetSteps: Spread;
  targetSeconds: Spread;
}

export function summariseSeeds(runs: readonly BudgetResult[]): StageSummary {
  const reached = runs.map((r) => r.reached).filter((e): e is BudgetEval => e !== null);
  return {
    seeds: runs.length,
    valLoss: spread(runs.map((r) => r.final.valLoss)),
    steps: spread(runs.map((r) => r.steps)),
    trainSeconds: spread(runs.map((r) => r.trainSeconds)),
    tokensPerSecond: spread(runs.map((r) => r.tokensPerSecond)),
    reachedSeeds: reached.length,
    targetSteps: spread(reached.map((e) => e.step)),
    targetSeconds: spread(reached.map((e) => e.seconds)),
  };
}

/**
 * How many times faster `stage` reaches the target than `before` (the speedrun's measure: time before / time
 * after), or null unless every seed of both reached it: a mean over the lucky seeds would flatter a stage.
 */
export function targetSpeedup(before: StageSummary, stage: StageSummary): number | null {
  const all = (s: StageSummary) => s.seeds > 0 && s.reachedSeeds === s.seeds;
  if (!all(before) || !all(stage)) return null;
  return before.targetSeconds.mean / stage.targetSeconds.mean;
}

/**
 * The seeds' curves averaged: at each evaluation step every seed made, the mean training seconds and the mean
 * validation loss. Seeds stopped by the budget at different steps share only the steps they all reached.
 */
export function meanCurve(runs: readonly BudgetResult[]): { seconds: number; valLoss: number; step: number }[] {
  if (runs.length === 0) return [];
  const bySteps = runs.map((r) => new Map(r.evals.map((e) => [e.step, e])));
  const out: { seconds: number; valLoss: number; step: number }[] = [];
  for (const e of runs[0]!.evals) {
    const points = bySteps.map((m) => m.get(e.step));
    if (points.some((p) => p === undefined)) continue;
    const all = points as BudgetEval[];
    out.push({
      step: e.step,
      seconds: spread(all.map((p) => p.seconds)).mean,
      valLoss: spread(all.map((p) => p.valLoss)).mean,
    });
  }
  return out;
}
