/**
 * The worker's side of TrainingWorker: one model at a time (trained here, or loaded from a run folder), and
 * the requests a page makes of it: train, stop, resume, sample, attention maps, load a run folder, save the
 * run as a zip. Training is the Trainer's loop, as `tsgpt train` runs it, so at the same seed and kernel
 * build the losses are the command line's bit for bit; the log, the best weights and the snapshot are kept
 * the way TrainingRun keeps them, so the saved folder is one `tsgpt sample --from` and
 * `tsgpt train --resume` accept.
 *
 * It talks through a `post` function and gets requests through handle(), so it runs in a worker
 * (serveTrainingWorker) and, for tests, in Node.
 */
import { RUN_FORMAT, RUN_FORMAT_VERSION, type RunFile } from '../checkpoint/run_config.js';
import { encodeOptimizer } from '../checkpoint/optimizer_state.js';
import { bestMetadata, type LoadedRun } from '../checkpoint/run_files.js';
import { encodeWeights } from '../checkpoint/weights.js';
import { splitTrainVal } from '../data/split.js';
import { Rng } from '../engine/random.js';
import { TsgptError } from '../errors.js';
import { sha256Hex } from '../io/sha256.js';
import { createModel, GPT, type LanguageModel, reportedParameterCount } from '../models/index.js';
import { generate } from '../sample/generate.js';
import { CharTokenizer } from '../tokenizers/char.js';
import { modelConfigFor, type RunConfig } from '../train/config.js';
import { type EvalReport, Trainer } from '../train/trainer.js';
import { yieldToEventLoop } from '../train/yield.js';
import { loadRunFromFiles, runFolderZip } from './run_folder.js';
import type {
  AttentionResult,
  ModelSummary,
  Replies,
  Request,
  RequestMessage,
  SampleRequest,
  ThreadReport,
  TrainingOutcome,
  WorkerMessage,
} from './training_protocol.js';

/** Sends a message to the page, transferring the listed buffers. */
export type Post = (message: WorkerMessage, transfer?: Transferable[]) => void;

/** Sets up the kernels for the worker's thread (createBrowserKernels, then setKernels) and says how it went. */
export type KernelSetup = (request: Extract<Request, { type: 'init' }>) => Promise<ThreadReport>;

/** Sampled text is sent in pieces at most this far apart, and the worker looks for a stop between them. */
const TEXT_EVERY_MS = 30;

/** A run trained here: the trainer, and what a saved folder needs beside its weights. */
interface Session {
  trainer: Trainer;
  config: RunConfig;
  tokenizer: CharTokenizer;
  source: string;
  dataSha256: string;
  /** log.jsonl's lines, as TrainingRun writes them. */
  log: string[];
  /** The weights of the best evaluation so far and config.json's training section for them. */
  best: { weights: Uint8Array; training: RunFile['training'] } | null;
}

export class TrainingHost {
  private session: Session | null = null;
  private loaded: (LoadedRun & { tokenizer: CharTokenizer }) | null = null;
  /** What is running now ('train', 'sample'), or null: one thing at a time, except stop. */
  private busy: string | null = null;
  private stopRequested = false;

  constructor(
    private readonly post: Post,
    private readonly setup: KernelSetup,
  ) {}

  /** Answers one request: its reply, or an error that says what went wrong. */
  async handle(message: RequestMessage): Promise<void> {
    const { id } = message;
    try {
      const value = await this.answer(message);
      const transfer = value instanceof Uint8Array ? [value.buffer] : isAttention(value) ? value.maps.flat().map((m) => m.buffer) : [];
      this.post({ type: 'reply', id, value }, transfer as Transferable[]);
    } catch (e) {
      const user = e instanceof TsgptError;
      this.post({ type: 'error', id, message: user ? e.message : e instanceof Error ? (e.stack ?? e.message) : String(e), user });
    }
  }

  private async answer(m: RequestMessage): Promise<Replies[Request['type']]> {
    switch (m.type) {
      case 'init':
        return this.setup(m);
      case 'stop':
        this.stopRequested = this.busy !== null;
        return null;
      case 'train':
        return this.exclusive('train', () => this.train(m.id, m.text, m.source, m.config, m.preset));
      case 'resume':
        return this.exclusive('train', () => this.resume(m.id, m.maxIters));
      case 'sample':
        return this.exclusive('sample', () => this.sample(m.id, m.request));
      case 'attention':
        return this.exclusive('attention', async () => this.attention(m.text));
      case 'load':
        return this.exclusive('load', async () => this.load(m.id, new Map(m.files), m.label));
      case 'save':
        return this.exclusive('save', async () => this.save(m.folder));
    }
  }

  private async exclusive<T>(what: string, fn: () => Promise<T>): Promise<T> {
    if (this.busy !== null) throw new TsgptError(`cannot ${what} while the worker is busy (${this.busy}ing); stop it first`);
    this.busy = what;
    this.stopRequested = false;
    try {
      return await fn();
    } finally {
      this.busy = null;
    }
  }

  private async train(id: number, text: string, source: string, given: RunConfig, preset: string | null): Promise<TrainingOutcome> {
    this.dispose();
    const config = { ...given };
    if (text.length === 0) throw new TsgptError('the text to train on is empty');
    const tokenizer = CharTokenizer.fromText(text);
    const tokens = tokenizer.encode(text);
    const { train, val } = splitTrainVal(tokens);
    if (val.length <= config.blockSize || train.length <= config.blockSize) {
      throw new TsgptError(
        `the text is too short for block size ${config.blockSize}: its validation split has ${val.length} tokens ` +
          `(the last 10% of ${tokens.length}), and a batch needs windows of ${config.blockSize + 1}; use a longer text or a smaller block size`,
      );
    }
    const model = modelConfigFor(config, tokenizer.vocabSize);
    const rng = new Rng(config.seed);
    const trainer = outOfMemoryAsError(() => new Trainer(createModel(model, rng), config, train, val, rng));
    const dataSha256 = sha256Hex(new TextEncoder().encode(text));
    this.session = { trainer, config, tokenizer, source, dataSha256, log: [], best: null };
    this.log({ type: 'start', time: new Date().toISOString(), preset, config, model, data: source });
    this.post({ type: 'model', id, summary: this.summary() });
    return this.runTrainer(id);
  }

  private async resume(id: number, maxIters: number | undefined): Promise<TrainingOutcome> {
    const s = this.session;
    if (s === null) throw new TsgptError('there is no training run to resume here');
    if (maxIters !== undefined) {
      if (!Number.isInteger(maxIters) || maxIters <= s.trainer.step) {
        throw new TsgptError(`max iters ${maxIters} is not beyond step ${s.trainer.step}, where the run stands`);
      }
      s.config.maxIters = maxIters;
    }
    if (s.trainer.step >= s.config.maxIters) throw new TsgptError(`the run is complete (step ${s.trainer.step} of ${s.config.maxIters})`);
    this.log({ type: 'resume', time: new Date().toISOString(), step: s.trainer.step, config: s.config });
    return this.runTrainer(id);
  }

  private async runTrainer(id: number): Promise<TrainingOutcome> {
    const s = this.session!;
    const { trainer } = s;
    await outOfMemoryAsErrorAsync(() =>
      trainer.run({
        shouldStop: () => this.stopRequested,
        onStep: (r) => {
          this.log({
            type: 'step',
            step: r.step,
            loss: r.loss,
            lr: r.lr,
            grad_norm: r.gradNorm,
            ms: r.ms,
            tokens_per_s: (r.tokens / r.ms) * 1000,
          });
          this.post({ type: 'step', id, report: r });
        },
        onEval: (e) => {
          this.log({ type: 'eval', step: e.step, train_loss: e.trainLoss, val_loss: e.valLoss, best: e.best });
          if (e.best) this.keepBest(e);
          this.post({ type: 'eval', id, report: e });
        },
      }),
    );
    const stopped = trainer.step < s.config.maxIters;
    const best = trainer.bestValLoss;
    if (stopped) this.log({ type: 'stop', step: trainer.step, signal: 'page' });
    else this.log({ type: 'end', step: trainer.step, best_val_loss: best });
    return { step: trainer.step, maxIters: s.config.maxIters, stopped, bestValLoss: Number.isFinite(best) ? best : null };
  }

  /** An evaluation that beat every earlier one: its weights become the run's model.safetensors, as TrainingRun's do. */
  private keepBest(e: EvalReport): void {
    const s = this.session!;
    const training = { ...s.trainer.state(), trainLoss: e.trainLoss, valLoss: e.valLoss };
    const weights = encodeWeights(s.trainer.model, bestMetadata(this.runFile(training)));
    s.best = { weights, training };
  }

  private runFile(training: RunFile['training']): RunFile {
    const s = this.session!;
    return {
      format: RUN_FORMAT,
      version: RUN_FORMAT_VERSION,
      model: modelConfigFor(s.config, s.tokenizer.vocabSize),
      tokenizer: s.tokenizer.toJSON(),
      run: { ...s.config },
      training,
      data: s.source,
      dataSha256: s.dataSha256,
    };
  }

  private async sample(id: number, r: SampleRequest): Promise<{ text: string; stopped: boolean }> {
    const { model, tokenizer } = this.current();
    let start = r.start;
    if (start === '') {
      // As tsgpt sample: nanoGPT starts from a newline, when the vocabulary has one.
      if (!tokenizer.chars.includes('\n')) throw new TsgptError('the vocabulary has no newline to start from; give a start text');
      start = '\n';
    }
    const prompt = tokenizer.encode(start, { label: 'the start text' });
    const rng = new Rng(r.seed);
    let text = tokenizer.decode(prompt);
    let pending = text;
    let sentAt = performance.now();
    for (const token of generate(model, prompt, { maxNewTokens: r.tokens, temperature: r.temperature, topK: r.topK, topP: r.topP, rng })) {
      const piece = tokenizer.decode([token]);
      text += piece;
      pending += piece;
      if (performance.now() - sentAt >= TEXT_EVERY_MS) {
        this.post({ type: 'text', id, text: pending });
        pending = '';
        await yieldToEventLoop();
        sentAt = performance.now();
        if (this.stopRequested) break;
      }
    }
    if (pending !== '') this.post({ type: 'text', id, text: pending });
    return { text, stopped: this.stopRequested };
  }

  private attention(text: string): AttentionResult {
    const { model, tokenizer } = this.current();
    if (!(model instanceof GPT)) throw new TsgptError('this is a bigram model, which has no attention; attention maps need a GPT');
    const all = tokenizer.encode(text, { label: 'the text' });
    if (all.length === 0) throw new TsgptError('the text is empty');
    const ids = all.subarray(Math.max(0, all.length - model.blockSize));
    return { tokens: Array.from(ids, (t) => tokenizer.decode([t])), maps: model.attentionMaps(ids), cropped: all.length - ids.length };
  }

  private load(id: number, files: Map<string, Uint8Array>, label: string): ModelSummary {
    const run = loadRunFromFiles(files, label);
    const { tokenizer } = run;
    if (!(tokenizer instanceof CharTokenizer)) {
      run.model.dispose();
      throw new TsgptError(`${label} uses a BPE tokenizer; the playground reads character-level runs only`);
    }
    this.dispose();
    this.loaded = { ...run, tokenizer };
    const summary = this.summary();
    this.post({ type: 'model', id, summary });
    return summary;
  }

  private save(folder: string): Uint8Array<ArrayBuffer> {
    const s = this.session;
    if (s === null || s.best === null) throw new TsgptError('there is no run trained here to save yet (its first evaluation saves it)');
    const { trainer } = s;
    return runFolderZip(
      {
        file: this.runFile(s.best.training),
        weights: s.best.weights,
        log: s.log.join(''),
        snapshot: {
          state: trainer.resumeState(),
          weights: encodeWeights(trainer.model, { step: String(trainer.step) }),
          moments: encodeOptimizer(trainer.optimizer, trainer.muon),
        },
      },
      folder,
    );
  }

  private current(): { model: LanguageModel; tokenizer: CharTokenizer } {
    if (this.session !== null) return { model: this.session.trainer.model, tokenizer: this.session.tokenizer };
    if (this.loaded !== null) return this.loaded;
    throw new TsgptError('there is no model yet: train one or load a run folder');
  }

  private summary(): ModelSummary {
    const s = this.session;
    if (s !== null) {
      const { trainer } = s;
      return {
        model: modelConfigFor(s.config, s.tokenizer.vocabSize),
        run: { ...s.config },
        parameters: reportedParameterCount(trainer.model),
        vocabulary: [...s.tokenizer.chars],
        step: trainer.step,
        valLoss: s.best?.training.valLoss ?? null,
        data: s.source,
      };
    }
    const { file, model, tokenizer } = this.loaded!;
    return {
      model: file.model,
      run: file.run,
      parameters: reportedParameterCount(model),
      vocabulary: [...tokenizer.chars],
      step: file.training.step,
      valLoss: file.training.valLoss,
      data: file.data,
    };
  }

  private log(entry: object): void {
    this.session!.log.push(`${JSON.stringify(entry)}\n`);
  }

  /** Frees the current model (and optimizer) before another takes its place. */
  private dispose(): void {
    if (this.session !== null) {
      this.session.trainer.model.dispose();
      this.session.trainer.disposeOptimizers();
      this.session = null;
    }
    this.loaded?.model.dispose();
    this.loaded = null;
  }
}

function isAttention(value: unknown): value is AttentionResult {
  return typeof value === 'object' && value !== null && 'maps' in value && 'tokens' in value;
}

/** The arena running out is something the user can fix (a smaller model or batch): one clear line. */
function outOfMemory(e: unknown): unknown {
  if (e instanceof RangeError && /arena out of memory|WebAssembly.Memory/.test(e.message)) {
    return new TsgptError(`out of tensor memory (${e.message}); use a smaller batch size, block size or model`);
  }
  return e;
}

function outOfMemoryAsError<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw outOfMemory(e);
  }
}

async function outOfMemoryAsErrorAsync<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw outOfMemory(e);
  }
}
