/**
 * The messages between a page and its training worker (TrainingWorker and TrainingHost). Every request has an
 * id; the worker answers each with one reply of the same id (or an error), and streams progress (steps,
 * evaluations, sampled text) as events carrying the id of the request they belong to. Everything is
 * structured-cloneable; byte arrays are transferred, not copied.
 */
import type { WasmVariant } from '../engine/wasm/kernel_module.js';
import type { ModelConfig } from '../models/index.js';
import type { RunConfig } from '../train/config.js';
import type { EvalReport, StepReport } from '../train/trainer.js';

/** How the worker computes, as createBrowserKernels reports it. */
export interface ThreadReport {
  /** Threads computing, the worker's own included. */
  threads: number;
  variant: WasmVariant;
  isolated: boolean;
  /** Why fewer threads than cores are used, or null. */
  note: string | null;
}

/** What the worker's model is, for a page to show. */
export interface ModelSummary {
  model: ModelConfig;
  /** The run's hyperparameters (null for a run folder that records none). */
  run: RunConfig | null;
  /** Parameters as nanoGPT counts them (position embeddings not counted). */
  parameters: number;
  /** The characters of the vocabulary. */
  vocabulary: string[];
  /** Steps trained, and the validation loss of the best weights (null before any evaluation). */
  step: number;
  valLoss: number | null;
  /** Where its text came from. */
  data: string;
}

export interface SampleRequest {
  /** Text to continue; every character must be in the vocabulary. */
  start: string;
  tokens: number;
  temperature: number;
  /** 0: every token. */
  topK: number;
  /** 1: every token. */
  topP: number;
  seed: number;
}

export interface AttentionResult {
  /** The text of each position shown (the text's last blockSize characters). */
  tokens: string[];
  /** maps[layer][head]: T x T row-major causal attention weights. */
  maps: Float32Array[][];
  /** Characters cut from the front because the text was longer than the model's context. */
  cropped: number;
}

export type TrainingOutcome = { step: number; maxIters: number; stopped: boolean; bestValLoss: number | null };

export type Request =
  | { type: 'init'; threads: number | 'auto'; relaxed: boolean; kernelWorkerUrl?: string }
  | { type: 'train'; text: string; source: string; config: RunConfig; preset: string | null }
  | { type: 'resume'; maxIters?: number }
  | { type: 'stop' }
  | { type: 'sample'; request: SampleRequest }
  | { type: 'attention'; text: string }
  | { type: 'load'; files: [string, Uint8Array][]; label: string }
  | { type: 'save'; folder: string };

/** What each request is answered with. */
export interface Replies {
  init: ThreadReport;
  train: TrainingOutcome;
  resume: TrainingOutcome;
  stop: null;
  sample: { text: string; stopped: boolean };
  attention: AttentionResult;
  load: ModelSummary;
  save: Uint8Array<ArrayBuffer>;
}

export type RequestMessage = Request & { id: number };

export type WorkerMessage =
  | { type: 'reply'; id: number; value: unknown }
  /** `user`: a mistake the user can fix (a TsgptError), shown as its message; otherwise a bug. */
  | { type: 'error'; id: number; message: string; user: boolean }
  | { type: 'model'; id: number; summary: ModelSummary }
  | { type: 'step'; id: number; report: StepReport }
  | { type: 'eval'; id: number; report: EvalReport }
  | { type: 'text'; id: number; text: string };
