/**
 * Training in a worker, so a page stays responsive: TrainingWorker is the page's handle on a module worker
 * (./train_worker.ts) that owns the model and the kernels' threads; each method is a request that resolves
 * with the worker's answer, and training and sampling report progress through callbacks as they go.
 *
 *   const worker = await TrainingWorker.start({ threads: 'auto' });
 *   await worker.train(text, { ...PRESETS.baby, maxIters: 500 }, { onStep: (r) => ..., onEval: (e) => ... });
 *   await worker.sample({ start: 'ROMEO:', tokens: 200, temperature: 0.8, topK: 40, topP: 1, seed: 1337 }, (t) => ...);
 *   const zip = await worker.saveRun('my-run');   // a run folder, zipped: tsgpt sample --from accepts it
 */
import { setKernels } from '../engine/backend.js';
import { TsgptError } from '../errors.js';
import type { RunConfig } from '../train/config.js';
import type { EvalReport, StepReport } from '../train/trainer.js';
import { describeWorkerError, startModuleWorker } from './module_worker.js';
import { readRunFolderFiles, type RunFolderInput } from './run_folder.js';
import { createBrowserKernels } from './threads.js';
import { TrainingHost } from './training_host.js';
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

export interface TrainingWorkerOptions {
  /** Threads the worker computes on, its own included: 'auto' (default) is every core where the page is cross-origin isolated. */
  threads?: number | 'auto';
  /** Use the relaxed-SIMD build where the engine has it (default true); false forces plain SIMD, whose bits match on every machine. */
  relaxed?: boolean;
  /** The worker's script (default: train_worker.js beside this module, as the package and its bundle ship it). */
  workerUrl?: string | URL;
  /** The kernels' helper threads' script (default: kernel_worker.js beside this module). */
  kernelWorkerUrl?: string | URL;
}

export interface TrainCallbacks {
  /** The model is built: its size and vocabulary. */
  onModel?(summary: ModelSummary): void;
  onStep?(report: StepReport): void;
  onEval?(report: EvalReport): void;
}

/** What a pending request gets: its reply, its failure, and its progress events. */
interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
  event?(message: WorkerMessage): void;
}

export class TrainingWorker {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private failure: Error | null = null;
  /** How the worker computes: threads, kernel build, and why fewer threads than cores, if so. */
  threads!: ThreadReport;

  private constructor(
    private readonly worker: Worker,
    readonly url: string,
  ) {
    worker.addEventListener('message', (e: MessageEvent<WorkerMessage>) => this.receive(e.data));
    worker.addEventListener('error', (e) => {
      e.preventDefault();
      this.fail(new TsgptError(`the training worker failed (${url}): ${describeWorkerError(e)}`));
    });
  }

  /** Starts the worker and its kernels; resolves once every helper thread is running. */
  static async start(options: TrainingWorkerOptions = {}): Promise<TrainingWorker> {
    const url = String(options.workerUrl ?? new URL('./train_worker.js', import.meta.url));
    const w = new TrainingWorker(startModuleWorker(url, 'tsgpt training'), url);
    try {
      w.threads = await w.request({
        type: 'init',
        threads: options.threads ?? 'auto',
        relaxed: options.relaxed !== false,
        ...(options.kernelWorkerUrl !== undefined ? { kernelWorkerUrl: String(options.kernelWorkerUrl) } : {}),
      });
    } catch (e) {
      w.terminate();
      throw e;
    }
    return w;
  }

  /**
   * Trains a new model on `text` (its characters are the vocabulary, split 90/10 into training and
   * validation as tsgpt train does) until config.maxIters or stop(); replaces the worker's model.
   */
  train(text: string, config: RunConfig, callbacks: TrainCallbacks & { source?: string; preset?: string } = {}): Promise<TrainingOutcome> {
    const { source = 'text given in the browser', preset = null } = callbacks;
    return this.request({ type: 'train', text, source, config, preset }, progress(callbacks));
  }

  /** Continues a stopped run (to `maxIters`, if given, else to its own), bit for bit as if it had not stopped. */
  resume(callbacks: TrainCallbacks & { maxIters?: number } = {}): Promise<TrainingOutcome> {
    return this.request(
      { type: 'resume', ...(callbacks.maxIters !== undefined ? { maxIters: callbacks.maxIters } : {}) },
      progress(callbacks),
    );
  }

  /** Stops training after the current step, or sampling after the current piece; the request in progress resolves. */
  stop(): Promise<null> {
    return this.request({ type: 'stop' });
  }

  /** Generates from the worker's model as tsgpt sample does (same seed, same text); `onText` gets the text as it streams. */
  sample(request: SampleRequest, onText?: (text: string) => void): Promise<Replies['sample']> {
    return this.request({ type: 'sample', request }, (m) => {
      if (m.type === 'text') onText?.(m.text);
    });
  }

  /** Every layer's and head's attention over the last block of `text`. */
  attention(text: string): Promise<AttentionResult> {
    return this.request({ type: 'attention', text });
  }

  /** Loads a run folder (Files, a zip, contents by path) into the worker, checked as tsgpt sample checks it. */
  async loadRun(input: RunFolderInput, label = 'the run folder'): Promise<ModelSummary> {
    const files = await readRunFolderFiles(input, label);
    return this.request({ type: 'load', files: [...files], label });
  }

  /** The run trained here as a zip of its run folder, which unpacks into `folder/`. */
  saveRun(folder = 'tsgpt-run'): Promise<Uint8Array<ArrayBuffer>> {
    return this.request({ type: 'save', folder });
  }

  terminate(): void {
    this.worker.terminate();
    this.fail(new TsgptError('the training worker was terminated'));
  }

  private request<K extends Request['type']>(r: Extract<Request, { type: K }>, event?: (m: WorkerMessage) => void): Promise<Replies[K]> {
    if (this.failure !== null) return Promise.reject(this.failure);
    const id = this.nextId++;
    const message: RequestMessage = { ...r, id };
    return new Promise<Replies[K]>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, ...(event !== undefined ? { event } : {}) });
      this.worker.postMessage(message);
    });
  }

  private receive(m: WorkerMessage): void {
    const p = this.pending.get(m.id);
    if (p === undefined) return;
    if (m.type === 'reply' || m.type === 'error') {
      this.pending.delete(m.id);
      if (m.type === 'reply') p.resolve(m.value);
      else p.reject(m.user ? new TsgptError(m.message) : new Error(`the training worker failed: ${m.message}`));
    } else p.event?.(m);
  }

  private fail(error: Error): void {
    this.failure ??= error;
    for (const p of this.pending.values()) p.reject(error);
    this.pending.clear();
  }
}

function progress(callbacks: TrainCallbacks): (m: WorkerMessage) => void {
  return (m) => {
    if (m.type === 'model') callbacks.onModel?.(m.summary);
    else if (m.type === 'step') callbacks.onStep?.(m.report);
    else if (m.type === 'eval') callbacks.onEval?.(m.report);
  };
}

/**
 * The worker's side: call once at the top of a worker script (train_worker.ts does). Requests are answered in
 * order of arrival; a stop is answered at once, even while training runs.
 */
export function serveTrainingWorker(): void {
  const scope = globalThis as unknown as {
    postMessage(m: WorkerMessage, transfer: Transferable[]): void;
    addEventListener(type: 'message', fn: (e: MessageEvent<RequestMessage>) => void): void;
  };
  const host = new TrainingHost(
    (m, transfer = []) => scope.postMessage(m, transfer),
    async (init) => {
      const b = await createBrowserKernels({
        threads: init.threads,
        relaxed: init.relaxed,
        ...(init.kernelWorkerUrl !== undefined ? { kernelWorkerUrl: init.kernelWorkerUrl } : {}),
      });
      setKernels(b.kernels);
      return { threads: b.threads, variant: b.variant, isolated: b.isolated, note: b.note };
    },
  );
  scope.addEventListener('message', (e) => void host.handle(e.data));
}
