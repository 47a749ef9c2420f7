/**
 * Training against a wall-clock budget, as the speedrun measures: how low the validation loss gets in so many
 * seconds of training, and how many steps and seconds it takes to reach a target loss.
 *
 * Only the optimizer steps count as training time. Evaluations run on their own clock: evaluating more often
 * must not make a stage look slower, nor leave it fewer steps in the budget. The losses at a given step never
 * depend on the clock (the schedule is in steps, evaluation draws from its own generator), so a seed gives the
 * same curve in every run and on any thread count; the clock decides only where the budget cuts it.
 */
import { TsgptError } from '../errors.js';
import type { Trainer } from '../train/trainer.js';
import { yieldToEventLoop } from '../train/yield.js';

export interface BudgetOptions {
  /** Seconds of training (optimizer steps only) before the run stops. */
  budgetSeconds: number;
  /** Evaluate every this many steps (and at the last step). */
  evalEvery: number;
  /** The validation loss whose first evaluation at or below it is timed. */
  target: number;
  /** A clock in milliseconds (performance.now unless a test gives its own). */
  now?: () => number;
  onEval?(point: BudgetEval): void;
}

export interface BudgetEval {
  step: number;
  /** Training seconds spent before this evaluation. */
  seconds: number;
  trainLoss: number;
  valLoss: number;
}

export interface BudgetResult {
  /** Steps taken when the run stopped. */
  steps: number;
  /** Seconds of optimizer steps. */
  trainSeconds: number;
  /** Seconds of evaluations, not counted in trainSeconds. */
  evalSeconds: number;
  /** The evaluation at the last step: the loss at the budget. */
  final: BudgetEval;
  /** The first evaluation at or below the target, or null when none was. */
  reached: BudgetEval | null;
  tokensPerSecond: number;
  /** Every evaluation, in order, the final one included. */
  evals: BudgetEval[];
  /** Whether the budget or the config's maxIters ended the run. */
  stoppedBy: 'budget' | 'max-iters';
}

/**
 * Trains `trainer` from its current step until its training time reaches the budget or its step count reaches
 * config.maxIters, evaluating (config.evalIters batches a split) at step 0, every evalEvery steps and at the end.
 */
export async function trainWithinBudget(trainer: Trainer, options: BudgetOptions): Promise<BudgetResult> {
  const now = options.now ?? (() => performance.now());
  const { maxIters, batchSize, blockSize, gradientAccumulationSteps } = trainer.config;
  const evals: BudgetEval[] = [];
  let trainMs = 0,
    evalMs = 0;
  const evaluate = () => {
    const started = now();
    const { train, val } = trainer.estimateLoss();
    evalMs += now() - started;
    if (!Number.isFinite(val) || !Number.isFinite(train)) {
      throw new TsgptError(`step ${trainer.step}: the validation loss is ${val} at evaluation; the weights have diverged`);
    }
    const point = { step: trainer.step, seconds: trainMs / 1000, trainLoss: train, valLoss: val };
    evals.push(point);
    options.onEval?.(point);
  };
  let stoppedBy: BudgetResult['stoppedBy'];
  for (;;) {
    if (trainer.step % options.evalEvery === 0) evaluate();
    if (trainer.step >= maxIters) {
      stoppedBy = 'max-iters';
      break;
    }
    if (trainMs / 1000 >= options.budgetSeconds) {
      stoppedBy = 'budget';
      break;
    }
    const started = now();
    trainer.trainStep();
    trainMs += now() - started;
    // Outside the clock: lets signals and I/O through, as Trainer.run does.
    await yieldToEventLoop();
  }
  if (evals.at(-1)?.step !== trainer.step) evaluate();
  const tokens = trainer.step * batchSize * blockSize * gradientAccumulationSteps;
  return {
    steps: trainer.step,
    trainSeconds: trainMs / 1000,
    evalSeconds: evalMs / 1000,
    final: evals.at(-1)!,
    reached: evals.find((e) => e.valLoss <= options.target) ?? null,
    tokensPerSecond: trainMs > 0 ? tokens / (trainMs / 1000) : 0,
    evals,
    stoppedBy,
  };
}
