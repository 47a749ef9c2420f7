/**
 * Reading the losses out of a run's log.jsonl text (one JSON object a line, as tsgpt train writes it). Pure:
 * it takes the file's text, so the same code plots a log in Node or in a browser.
 */
import { TsgptError } from '../errors.js';

export interface StepPoint {
  step: number;
  /** The training loss of that step's batch; NaN when it was not finite (the log holds null then). */
  loss: number;
}

export interface EvalPoint {
  step: number;
  trainLoss: number;
  valLoss: number;
}

export interface LossLog {
  /** Sorted by step, one point per step. */
  steps: StepPoint[];
  /** Sorted by step, one point per evaluation. */
  evals: EvalPoint[];
}

/**
 * Parses log.jsonl text. The log is appended while training runs, so a torn last line is skipped rather than
 * refused; a broken line anywhere else means the file is not what it claims to be. When a step appears twice
 * (a resumed run appends to its log) the later record wins.
 */
export function parseLossLog(text: string, label: string): LossLog {
  const lines = text.split('\n');
  while (lines.length > 0 && lines[lines.length - 1]!.trim() === '') lines.pop();
  const steps = new Map<number, StepPoint>(),
    evals = new Map<number, EvalPoint>();
  let records = 0;
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    let record: unknown;
    try {
      record = JSON.parse(line);
    } catch {
      if (i === lines.length - 1) return;
      throw new TsgptError(`${label}: line ${i + 1} is not JSON; is this a tsgpt log.jsonl?`);
    }
    if (typeof record !== 'object' || record === null || Array.isArray(record)) {
      throw new TsgptError(`${label}: line ${i + 1} is not a JSON object; is this a tsgpt log.jsonl?`);
    }
    records++;
    const r = record as Record<string, unknown>;
    const step = r.step;
    if (typeof step !== 'number' || !Number.isFinite(step)) return;
    if (r.type === 'step') steps.set(step, { step, loss: finite(r.loss) });
    else if (r.type === 'eval') evals.set(step, { step, trainLoss: finite(r.train_loss), valLoss: finite(r.val_loss) });
  });
  if (records === 0 && lines.length > 0) throw new TsgptError(`${label}: holds no log records; is this a tsgpt log.jsonl?`);
  const byStep = (a: { step: number }, b: { step: number }) => a.step - b.step;
  return { steps: [...steps.values()].sort(byStep), evals: [...evals.values()].sort(byStep) };
}

function finite(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : NaN;
}

/** The evaluation with the lowest validation loss, or null when none has a finite one. */
export function bestEval(log: LossLog): EvalPoint | null {
  let best: EvalPoint | null = null;
  for (const e of log.evals) if (Number.isFinite(e.valLoss) && (best === null || e.valLoss < best.valLoss)) best = e;
  return best;
}

/**
 * Training losses averaged in consecutive groups so that at most `maxPoints` remain: thousands of noisy
 * steps drawn at one per pixel column look the same as the full series and keep an SVG small.
 */
export function downsampleSteps(steps: readonly StepPoint[], maxPoints: number): StepPoint[] {
  if (steps.length <= maxPoints) return [...steps];
  const group = Math.ceil(steps.length / Math.max(1, maxPoints));
  const out: StepPoint[] = [];
  for (let i = 0; i < steps.length; i += group) {
    const slice = steps.slice(i, i + group).filter((p) => Number.isFinite(p.loss));
    if (slice.length === 0) {
      out.push({ step: steps[i]!.step, loss: NaN });
      continue;
    }
    const step = slice.reduce((s, p) => s + p.step, 0) / slice.length;
    const loss = slice.reduce((s, p) => s + p.loss, 0) / slice.length;
    out.push({ step, loss });
  }
  return out;
}
