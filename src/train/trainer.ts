/**
 * The training loop, as nanoGPT's train.py runs it: evaluate every evalInterval steps (and at the end),
 * then one optimizer step made of gradientAccumulationSteps micro-batches, with the learning rate from the
 * schedule and the gradient clipped by its global norm. With optimizer 'muon', Muon updates the blocks' hidden
 * matrices and AdamW the rest (optimizer_groups.ts); the schedule scales both rates by the same factor, and the
 * clipping factor, from the norm of every gradient, applies to both. No files and no clocks beyond performance.now():
 * the caller (CLI, browser page, test) decides what to print and what to save through the callbacks.
 */
import { backwardPassCount, noGrad } from '../engine/autograd.js';
import { TsgptError } from '../errors.js';
import { Rng, type RngState } from '../engine/random.js';
import { tidy } from '../engine/tensor.js';
import { getBatch } from '../data/batches.js';
import type { LanguageModel } from '../models/language_model.js';
import { AdamW, firstNonFinite, gradientNorm } from './adamw.js';
import type { RunConfig } from './config.js';
import { Muon } from './muon.js';
import { optimizerGroups } from './optimizer_groups.js';
import { learningRateAt } from './schedule.js';
import { yieldToEventLoop } from './yield.js';

export interface StepReport {
  step: number;
  loss: number;
  lr: number;
  gradNorm: number;
  ms: number;
  tokens: number;
}

export interface EvalReport {
  step: number;
  trainLoss: number;
  valLoss: number;
  /** True when this evaluation has the lowest validation loss so far. */
  best: boolean;
}

export interface TrainerCallbacks {
  onStep?(r: StepReport): void | Promise<void>;
  onEval?(r: EvalReport): void | Promise<void>;
  /** Asked before each step: return true to stop early (the step counter stays where it is). */
  shouldStop?(): boolean;
}

/** What a run must remember to continue exactly where it stopped. */
export interface TrainerState {
  step: number;
  bestValLoss: number | null;
  dataRng: RngState;
  evalRng: RngState;
  modelRng: RngState;
}

/** Everything beyond the weights and AdamW's moments that a resumed run needs to continue bit for bit. */
export interface ResumeState extends TrainerState {
  /** AdamW's update count: its bias corrections depend on it. Muon's, when there is one, is the same. */
  optimizerStep: number;
  /** The step whose evaluation has already run, so that resuming there does not evaluate (and draw) again. */
  evaluatedStep: number | null;
}

/**
 * A loss or gradient that is NaN or infinite: training cannot recover from it (every later update would be
 * NaN too), so it stops before the optimizer touches the weights. `tensor` names what went bad: a parameter
 * whose gradient is not finite, or the loss itself.
 */
export class NonFiniteError extends TsgptError {
  constructor(
    readonly step: number,
    readonly tensor: string,
    detail: string,
  ) {
    super(`step ${step}: ${detail}`);
  }
}

export class Trainer {
  /** AdamW, over every parameter, or (with Muon) over those Muon does not take. */
  readonly optimizer: AdamW;
  /** Muon over the blocks' hidden matrices, or null (optimizer 'adamw'). */
  readonly muon: Muon | null;
  step = 0;
  bestValLoss = Infinity;
  /** Draws the training batches. */
  readonly dataRng: Rng;
  /** Draws the evaluation batches: separate, so how often you evaluate does not change what you train on. */
  readonly evalRng: Rng;
  /** The step of the last evaluation run() made (null before the first). */
  evaluatedStep: number | null = null;
  /**
   * Called in each step after the backward pass, before the gradients are checked and applied, with the
   * number the step will have: to inspect gradients, or (in tests) to corrupt them on purpose.
   */
  afterBackward: ((step: number) => void) | null = null;
  /**
   * backwardPassCount() when the last update left every gradient at zero (it clears them as it reads them),
   * or -1: while it has not moved, the next step need not zero them again.
   */
  private gradsZeroAtPass = -1;

  constructor(
    readonly model: LanguageModel,
    readonly config: RunConfig,
    readonly trainTokens: Int32Array,
    readonly valTokens: Int32Array,
    readonly modelRng: Rng,
  ) {
    const groups = optimizerGroups(model, config.optimizer);
    // With Muon, AdamW still decays the 2-D parameters it keeps (embeddings, head) as nanoGPT does.
    this.optimizer = new AdamW(groups.adamw, {
      beta1: config.beta1,
      beta2: config.beta2,
      eps: 1e-8,
      weightDecay: config.weightDecay,
    });
    // Muon as the speedrun's first Muon records ran it: Nesterov momentum, five Newton-Schulz steps, no weight
    // decay (later records added a decoupled one), here in float32 where the speedrun runs Newton-Schulz in
    // bfloat16 on a GPU, and with the learning rate on nanoGPT's schedule where the speedrun holds it and then
    // decays it linearly.
    this.muon = groups.muon === null ? null : new Muon(groups.muon, { momentum: config.muonMomentum, nesterov: true, nsSteps: 5 });
    this.dataRng = new Rng(config.seed + 1);
    this.evalRng = new Rng(config.seed + 2);
  }

  /** The mean loss over evalIters random batches of each split, in eval mode without gradients. */
  estimateLoss(): { train: number; val: number } {
    const { batchSize, blockSize, evalIters } = this.config;
    const wasTraining = this.model.training;
    this.model.eval();
    const mean = (tokens: Int32Array) => {
      let sum = 0;
      for (let i = 0; i < evalIters; i++) {
        sum += tidy(() =>
          noGrad(() => {
            const { x, y } = getBatch(tokens, batchSize, blockSize, this.evalRng);
            return this.model.forward(x, y).loss!.item();
          }),
        );
      }
      return sum / evalIters;
    };
    const result = { train: mean(this.trainTokens), val: mean(this.valTokens) };
    this.model.train(wasTraining);
    return result;
  }

  /** One optimizer step; returns the mean loss of its micro-batches. */
  trainStep(): StepReport {
    const c = this.config;
    const started = performance.now();
    const lr = learningRateAt(this.step, c);
    // The last update left every gradient at zero, unless a backward pass has run since (or that step stopped
    // half-way, or this is the first).
    if (this.gradsZeroAtPass !== backwardPassCount()) this.model.zeroGrad();
    this.gradsZeroAtPass = -1;
    let loss = 0;
    for (let micro = 0; micro < c.gradientAccumulationSteps; micro++) {
      loss += tidy(() => {
        const { x, y } = getBatch(this.trainTokens, c.batchSize, c.blockSize, this.dataRng);
        const l = this.model.forward(x, y).loss!;
        // Each micro-batch contributes 1/steps of its gradient, so the sum is the gradient of the mean loss.
        l.backward(1 / c.gradientAccumulationSteps);
        return l.item();
      });
    }
    loss /= c.gradientAccumulationSteps;
    this.afterBackward?.(this.step + 1);
    const { norm, scale } = gradientNorm(this.model.parameters(), c.gradClip);
    // The norm sums every gradient's squares, so one finite number here clears them all at no extra cost.
    if (!Number.isFinite(loss) || !Number.isFinite(norm)) this.failNonFinite(loss);
    this.optimizer.update(lr, scale, true);
    // The schedule's factor for this step (1 with a constant rate), applied to Muon's own peak rate.
    this.muon?.update(c.muonLr * (lr / c.learningRate), scale, true);
    this.gradsZeroAtPass = backwardPassCount();
    this.step++;
    return {
      step: this.step,
      loss,
      lr,
      gradNorm: norm,
      ms: performance.now() - started,
      tokens: c.batchSize * c.blockSize * c.gradientAccumulationSteps,
    };
  }

  /** Names the first parameter whose gradient is not finite (or says the loss is) and throws. */
  private failNonFinite(loss: number): never {
    const step = this.step + 1;
    const bad = firstNonFinite(this.model.namedParameters());
    const hint = 'training stopped before the update; a lower learning rate or gradient clipping may help';
    if (!Number.isFinite(loss)) {
      const first = bad === null ? '' : ` (the first non-finite gradient is ${bad.name}'s, at index ${bad.index})`;
      throw new NonFiniteError(step, bad?.name ?? 'loss', `the loss is ${loss}${first}; ${hint}`);
    }
    if (bad !== null)
      throw new NonFiniteError(step, bad.name, `the gradient of ${bad.name} is ${bad.value} at index ${bad.index}; ${hint}`);
    // Every gradient is finite but the sum of their squares overflowed.
    throw new NonFiniteError(step, 'gradient norm', `the gradient norm overflowed to Infinity; ${hint}`);
  }

  /** Trains from the current step to maxIters, evaluating on schedule. Resolves when done or stopped. */
  async run(cb: TrainerCallbacks = {}): Promise<void> {
    const c = this.config;
    for (;;) {
      if ((this.step % c.evalInterval === 0 || this.step === c.maxIters) && this.evaluatedStep !== this.step) {
        const { train, val } = this.estimateLoss();
        this.evaluatedStep = this.step;
        for (const [split, loss] of [
          ['training', train],
          ['validation', val],
        ] as const) {
          if (!Number.isFinite(loss)) {
            throw new NonFiniteError(this.step, `${split} loss`, `the ${split} loss is ${loss} at evaluation; the weights have diverged`);
          }
        }
        const best = val < this.bestValLoss;
        if (best) this.bestValLoss = val;
        await cb.onEval?.({ step: this.step, trainLoss: train, valLoss: val, best });
      }
      if (this.step >= c.maxIters || cb.shouldStop?.()) return;
      const report = this.trainStep();
      await cb.onStep?.(report);
      await yieldToEventLoop();
    }
  }

  state(): TrainerState {
    return {
      step: this.step,
      bestValLoss: Number.isFinite(this.bestValLoss) ? this.bestValLoss : null,
      dataRng: this.dataRng.getState(),
      evalRng: this.evalRng.getState(),
      modelRng: this.modelRng.getState(),
    };
  }

  /** state() plus the counters a resumed run needs; with the weights and AdamW's moments, a whole checkpoint. */
  resumeState(): ResumeState {
    return { ...this.state(), optimizerStep: this.optimizer.step, evaluatedStep: this.evaluatedStep };
  }

  /**
   * Puts the trainer back where resumeState() was taken (the caller restores the weights and moments). The
   * model's generator is the one the model draws dropout from, so restoring it here restores the model's too.
   */
  restore(s: ResumeState): void {
    this.step = s.step;
    this.bestValLoss = s.bestValLoss ?? Infinity;
    this.dataRng.setState(s.dataRng);
    this.evalRng.setState(s.evalRng);
    this.modelRng.setState(s.modelRng);
    this.optimizer.step = s.optimizerStep;
    if (this.muon !== null) this.muon.step = s.optimizerStep;
    this.evaluatedStep = s.evaluatedStep;
  }

  /** Frees the optimizers' state (the model is the caller's). */
  disposeOptimizers(): void {
    this.optimizer.dispose();
    this.muon?.dispose();
  }
}
