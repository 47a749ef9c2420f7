/**
 * The live loss curve: the training loss of every step and each evaluation's train and validation loss, drawn
 * by the same function as `tsgpt plot` (viz.lossCurveSvg) at the width of its box, at most once a second.
 */
import { type EvalReport, type StepReport, viz } from '../src/index.js';
import { Throttled } from './throttled.js';

/**
 * Redraws at most this often while steps stream in; an evaluation redraws at once. Each redraw is a new SVG
 * that the browser parses, lays out and paints: with the chart 4 times a second and the figures as often,
 * `baby` trained about 3% slower on 2 cores than with once and twice a second (README, "In the browser").
 */
const REDRAW_MS = 1000;

export class LossChart {
  private log: viz.LossLog = { steps: [], evals: [] };
  private readonly redraw = new Throttled(REDRAW_MS, () => this.draw());

  constructor(
    private readonly box: HTMLElement,
    private readonly name: () => string,
  ) {
    new ResizeObserver(() => this.redraw.now()).observe(box);
  }

  clear(): void {
    this.log = { steps: [], evals: [] };
    this.box.innerHTML = '<p class="empty">The loss curve appears here as the model trains.</p>';
  }

  step(r: StepReport): void {
    this.log.steps.push({ step: r.step, loss: r.loss });
    this.redraw.request();
  }

  evaluation(e: EvalReport): void {
    this.log.evals.push({ step: e.step, trainLoss: e.trainLoss, valLoss: e.valLoss });
    this.redraw.now();
  }

  /** Draws what has come in now, without waiting for the next redraw: when training ends or stops. */
  drawNow(): void {
    this.redraw.now();
  }

  private draw(): void {
    if (this.log.steps.length === 0 && this.log.evals.length === 0) return;
    // Narrower than this, the title and legend would not fit: the picture is drawn at this width and scaled down.
    const width = Math.max(460, Math.floor(this.box.clientWidth));
    const height = Math.round(Math.min(380, Math.max(220, width * 0.55)));
    this.box.innerHTML = viz.inlineSvg(viz.lossCurveSvg([{ name: this.name(), log: this.log }], { width, height }));
  }
}
