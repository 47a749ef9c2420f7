/**
 * The live loss curve: the training loss of every step and each evaluation's train and validation loss, drawn
 * by the same function as `tsgpt plot` (viz.lossCurveSvg) at the width of its box, at most a few times a second.
 */
import { type EvalReport, type StepReport, viz } from '../src/index.js';

/** Redraws at most this often while steps stream in; an evaluation redraws at once. */
const REDRAW_MS = 250;

export class LossChart {
  private log: viz.LossLog = { steps: [], evals: [] };
  private drawnAt = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly box: HTMLElement,
    private readonly name: () => string,
  ) {
    new ResizeObserver(() => this.draw()).observe(box);
  }

  clear(): void {
    this.log = { steps: [], evals: [] };
    this.box.innerHTML = '<p class="empty">The loss curve appears here as the model trains.</p>';
  }

  step(r: StepReport): void {
    this.log.steps.push({ step: r.step, loss: r.loss });
    this.soon();
  }

  evaluation(e: EvalReport): void {
    this.log.evals.push({ step: e.step, trainLoss: e.trainLoss, valLoss: e.valLoss });
    this.draw();
  }

  private soon(): void {
    if (this.timer !== null) return;
    const wait = Math.max(0, REDRAW_MS - (performance.now() - this.drawnAt));
    this.timer = setTimeout(() => {
      this.timer = null;
      this.draw();
    }, wait);
  }

  private draw(): void {
    if (this.log.steps.length === 0 && this.log.evals.length === 0) return;
    // Narrower than this, the title and legend would not fit: the picture is drawn at this width and scaled down.
    const width = Math.max(460, Math.floor(this.box.clientWidth));
    const height = Math.round(Math.min(380, Math.max(220, width * 0.55)));
    this.box.innerHTML = viz.inlineSvg(viz.lossCurveSvg([{ name: this.name(), log: this.log }], { width, height }));
    this.drawnAt = performance.now();
  }
}
