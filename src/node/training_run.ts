/**
 * One training run in its run folder, from the lock to the last save. The Trainer computes (it does no I/O);
 * TrainingRun keeps the folder: it locks it, keeps log.jsonl, saves a snapshot at every evaluation, at least
 * every SAVE_EVERY_MS and when stopped, redraws loss.svg, turns Ctrl-C and SIGTERM into a stop after the
 * current step, and turns divergence and file-system failures into one clear line that says what is left.
 *
 * A new run writes nothing of its own but the lock before its first checkpoint: its log lines wait in memory,
 * so a finished run in the same folder stays whole until the new run has a checkpoint to replace it with.
 *
 * Tests reach inside through `hooks` (a full disk at a chosen write, pauses inside saves, a NaN gradient);
 * the command line sets none.
 */
import { join } from 'node:path';
import { Rng } from '../engine/random.js';
import { writeFileAtomicSync } from './atomic_write.js';
import { TsgptError } from '../errors.js';
import { createModel, type ModelConfig } from '../models/index.js';
import type { Tokenizer } from '../tokenizers/tokenizer.js';
import type { PresetName, RunConfig } from '../train/config.js';
import { type EvalReport, NonFiniteError, type StepReport, Trainer } from '../train/trainer.js';
import { RUN_FORMAT, RUN_FORMAT_VERSION, type RunFile } from '../checkpoint/run_config.js';
import { writeLossCurve } from './loss_curve_file.js';
import { makeFolder, removeEmptyFolders } from './make_folder.js';
import { describeFsError, isFsError } from './read_bounded.js';
import { LOG_FILE, RESUME_DIR, type RunWrite, type SaveHooks, saveCheckpoint } from './run_folder.js';
import { lockRunFolder, type RunLock } from './run_lock.js';
import { RunLog } from './run_log.js';
import { restoreTrainer, type ResumableRun } from './run_resume.js';
import { StopSignals } from './stop_signals.js';

/** A snapshot at least this often even when evaluations are far apart, so a kill costs at most this much. */
export const SAVE_EVERY_MS = 10 * 60 * 1000;

/** Everything a run needs before its first step, new or resumed, checked before anything is written. */
export interface RunPlan {
  /** The run folder. */
  dir: string;
  config: RunConfig;
  model: ModelConfig;
  tokenizer: Tokenizer;
  /** Where the corpus came from, the SHA-256 of its text and its length in UTF-16 units. */
  data: { source: string; sha256: string; characters: number };
  trainTokens: Int32Array;
  valTokens: Int32Array;
  /** The preset a new run started from (null when resuming). */
  preset: PresetName | null;
  /** The snapshot a resumed run continues from; null for a new run. */
  resume: ResumableRun | null;
  /** A fine-tuned run's starting weights, by parameter name (--init-from); absent: the model's own init. */
  initialWeights?: ReadonlyMap<string, Float32Array>;
  /** Where they came from (a released GPT-2's name or a folder), for the log. */
  initFrom?: string;
  /**
   * Files the tokenizer needs beside config.json (a fine-tuned Hugging Face folder's vocab.json and
   * merges.txt), written with the first checkpoint, before its weights.
   */
  tokenizerFiles?: readonly { name: string; text: string }[];
}

/** Seams for tests: each is called at its moment and may throw (a full disk) or block (to widen a window). */
export interface TrainingRunHooks extends SaveHooks {
  /** After each backward pass, before the gradients are checked: a test corrupts one here. */
  afterBackward?(trainer: Trainer, step: number): void;
}

/** What the run reports as it goes, for the command to print; none of them may throw. */
export interface TrainingRunEvents {
  /** The model is built (and restored, resuming) and the folder is locked. */
  ready?(trainer: Trainer): void;
  step?(r: StepReport): void;
  /** After the evaluation's checkpoint is saved. */
  eval?(e: EvalReport): void;
  /** The first Ctrl-C or SIGTERM (or requestStop): the run stops after this step. */
  stopRequested?(signal: NodeJS.Signals): void;
  /** Something went wrong that does not stop training (the loss curve could not be drawn). */
  warning?(message: string): void;
}

export interface TrainingRunOptions {
  events?: TrainingRunEvents;
  hooks?: TrainingRunHooks;
  /** Stop on SIGINT and SIGTERM (default true); without, only requestStop() stops the run early. */
  listenForSignals?: boolean;
  saveEveryMs?: number;
}

export interface RunOutcome {
  /** The signal that stopped the run before max-iters; null when it ran to the end. */
  stoppedBy: NodeJS.Signals | null;
  step: number;
  /** The last evaluation's losses (NaN when none ran in this process). */
  last: { trainLoss: number; valLoss: number };
  bestValLoss: number;
  seconds: number;
}

/** What each write is, in a message. */
const WRITES: Record<RunWrite, string> = {
  lock: 'the lock',
  log: LOG_FILE,
  snapshot: 'a snapshot in resume/',
  'best weights': 'model.safetensors',
  config: 'config.json',
  'loss curve': 'loss.svg',
};

export class TrainingRun {
  private readonly events: TrainingRunEvents;
  private readonly hooks: TrainingRunHooks;
  /** config.json as this run last wrote it (or found it, resuming): what the folder's readers see. */
  private committed: RunFile | null;
  private log: RunLog | null = null;
  private savedAt = performance.now();
  private stopSignal: NodeJS.Signals | null = null;
  /** The write begun last, for the message when it fails: every write begins with beforeWrite. */
  private writing: RunWrite | null = null;

  constructor(
    readonly plan: RunPlan,
    private readonly options: TrainingRunOptions = {},
  ) {
    this.events = options.events ?? {};
    const hooks = options.hooks ?? {};
    // Every write in a save passes through beforeWrite, which is how a failure knows what it was writing.
    this.hooks = {
      ...hooks,
      beforeWrite: (what) => {
        this.writing = what;
        hooks.beforeWrite?.(what);
      },
    };
    this.committed = plan.resume?.file ?? null;
  }

  /** Stops the run after the current step, as the first Ctrl-C does. */
  requestStop(signal: NodeJS.Signals): void {
    if (this.stopSignal !== null) return;
    this.stopSignal = signal;
    this.events.stopRequested?.(signal);
  }

  /** Trains to max-iters or until stopped; rejects with a TsgptError that says what the folder still holds. */
  async run(): Promise<RunOutcome> {
    const { dir } = this.plan;
    const made = makeFolder(dir, `run folder ${dir}`);
    let lock: RunLock;
    try {
      this.hooks.beforeWrite?.('lock');
      lock = lockRunFolder(dir);
    } catch (err) {
      removeEmptyFolders(made);
      throw isFsError(err) ? new TsgptError(`cannot lock run folder ${dir}: ${describeFsError(err)}`) : err;
    }
    const signals = this.options.listenForSignals === false ? null : new StopSignals((s) => this.requestStop(s));
    try {
      return await this.train();
    } catch (err) {
      throw this.explain(err);
    } finally {
      signals?.dispose();
      lock.release();
      // A run that saved nothing takes back the folders it made (and an empty resume/ left by a failed save).
      if (this.committed === null) removeEmptyFolders([...made, join(dir, RESUME_DIR)]);
    }
  }

  private async train(): Promise<RunOutcome> {
    const { plan } = this;
    const { config, dir } = plan;
    const started = performance.now();
    const rng = new Rng(config.seed);
    const trainer = new Trainer(createModel(plan.model, rng), config, plan.trainTokens, plan.valTokens, rng);
    if (plan.resume !== null) restoreTrainer(trainer, plan.resume);
    else if (plan.initialWeights !== undefined) {
      for (const [name, p] of trainer.model.namedParameters()) {
        const values = plan.initialWeights.get(name);
        if (values === undefined || values.length !== p.data.length) throw new Error(`no starting weights for ${name}`);
        p.data.set(values);
      }
    }
    const corrupt = this.hooks.afterBackward;
    if (corrupt !== undefined) trainer.afterBackward = (step) => corrupt(trainer, step);

    const logPath = join(dir, LOG_FILE);
    this.log = plan.resume === null ? RunLog.held(logPath) : this.write('log', () => RunLog.resumed(logPath, trainer.step));
    this.events.ready?.(trainer);
    const time = new Date().toISOString();
    if (plan.resume === null) {
      const initFrom = plan.initFrom === undefined ? {} : { init_from: plan.initFrom };
      this.append({ type: 'start', time, preset: plan.preset, config, model: plan.model, data: plan.data.source, ...initFrom });
    } else {
      this.append({ type: 'resume', time, step: trainer.step, config });
    }

    let last = { trainLoss: NaN, valLoss: NaN };
    const saveEveryMs = this.options.saveEveryMs ?? SAVE_EVERY_MS;
    try {
      await trainer.run({
        shouldStop: () => this.stopSignal !== null,
        onStep: (r) => {
          const tokensPerS = (r.tokens / r.ms) * 1000;
          this.append({ type: 'step', step: r.step, loss: r.loss, lr: r.lr, grad_norm: r.gradNorm, ms: r.ms, tokens_per_s: tokensPerS });
          this.events.step?.(r);
          if (performance.now() - this.savedAt > saveEveryMs) this.save(trainer, null);
        },
        onEval: (e) => {
          last = { trainLoss: e.trainLoss, valLoss: e.valLoss };
          this.append({ type: 'eval', step: e.step, train_loss: e.trainLoss, val_loss: e.valLoss, best: e.best });
          this.save(trainer, e.best ? e : null);
          this.events.eval?.(e);
          this.drawLossCurve();
        },
      });
    } catch (err) {
      if (!(err instanceof NonFiniteError)) throw err;
      this.appendIfPossible({ type: 'error', step: err.step, tensor: err.tensor, message: err.message });
      const step = this.checkpointStep;
      const left = step === undefined ? 'no checkpoint was saved' : `the last good checkpoint (step ${step}) stays in ${plan.dir}`;
      throw new TsgptError(`${err.message}; ${left}`);
    }
    const outcome = { step: trainer.step, last, bestValLoss: trainer.bestValLoss, seconds: (performance.now() - started) / 1000 };
    if (this.stopSignal !== null) {
      if (trainer.step !== this.checkpointStep) this.save(trainer, null);
      this.append({ type: 'stop', step: trainer.step, signal: this.stopSignal });
      return { stoppedBy: this.stopSignal, ...outcome };
    }
    this.append({
      type: 'end',
      step: trainer.step,
      train_loss: last.trainLoss,
      val_loss: last.valLoss,
      best_val_loss: trainer.bestValLoss,
      seconds: outcome.seconds,
    });
    return { stoppedBy: null, ...outcome };
  }

  /**
   * Saves a snapshot of the trainer; with `best` (an evaluation that beat every earlier one) the weights also
   * become model.safetensors. Without a best yet there is nothing sample could load, so nothing is saved.
   */
  private save(trainer: Trainer, best: EvalReport | null): void {
    const { plan } = this;
    let training: RunFile['training'];
    if (best !== null) training = { ...trainer.state(), trainLoss: best.trainLoss, valLoss: best.valLoss };
    else if (this.committed !== null) training = withoutPointer(this.committed.training);
    else return;
    const file: RunFile = {
      format: RUN_FORMAT,
      version: RUN_FORMAT_VERSION,
      model: plan.model,
      tokenizer: plan.tokenizer.toJSON() as RunFile['tokenizer'],
      run: plan.config,
      data: plan.data.source,
      dataSha256: plan.data.sha256,
      training,
    };
    const log = this.log!;
    this.committed = saveCheckpoint(
      plan.dir,
      {
        model: trainer.model,
        optimizer: trainer.optimizer,
        muon: trainer.muon,
        state: trainer.resumeState(),
        file,
        newBest: best !== null,
        previous: this.committed,
        beforeWeights: log.published
          ? undefined
          : () => {
              this.write('log', () => log.publish());
              for (const f of plan.tokenizerFiles ?? []) this.write('config', () => writeFileAtomicSync(join(plan.dir, f.name), f.text));
            },
      },
      this.hooks,
    );
    this.savedAt = performance.now();
  }

  /** The picture follows the log: redrawn after every evaluation, so a run in progress can be looked at. */
  private drawLossCurve(): void {
    try {
      this.write('loss curve', () => writeLossCurve(this.plan.dir));
    } catch (err) {
      if (!(err instanceof TsgptError) && !isFsError(err)) throw err;
      this.events.warning?.(`no loss curve: ${err instanceof TsgptError ? err.message : describeFsError(err)}`);
    }
  }

  private append(entry: object): void {
    this.write('log', () => this.log!.append(entry));
  }

  /** For a line about a failure already being reported: a second failure (the same full disk) must not hide it. */
  private appendIfPossible(entry: object): void {
    try {
      this.append(entry);
    } catch {
      // The failure being reported is the one that matters.
    }
  }

  private write<T>(what: RunWrite, fn: () => T): T {
    this.hooks.beforeWrite?.(what);
    return fn();
  }

  /** The step of the checkpoint config.json points at, if there is one. */
  private get checkpointStep(): number | undefined {
    return this.committed?.training.resume?.step;
  }

  /** A failure as one line for the user; a bug stays as it is. */
  private explain(err: unknown): unknown {
    const { dir } = this.plan;
    if (isFsError(err)) {
      const what = this.writing === null ? 'to' : `${WRITES[this.writing]} in`;
      const step = this.checkpointStep;
      const left = step === undefined ? 'no checkpoint of this run was saved' : `its last complete checkpoint (step ${step}) is intact`;
      return new TsgptError(`cannot write ${what} run folder ${dir}: ${describeFsError(err)}; ${left}`);
    }
    // The size check before training leans high, but activations are estimated: the arena can still run out.
    if (err instanceof RangeError && /arena out of memory/.test(err.message)) {
      return new TsgptError(`out of tensor memory (${err.message}); lower --batch-size, --block-size or the model size`);
    }
    return err;
  }
}

function withoutPointer(training: RunFile['training']): RunFile['training'] {
  const { resume: _, ...rest } = training;
  return rest;
}
