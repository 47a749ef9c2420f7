/**
 * The modern ladder's plot: validation loss against training seconds, one colour per stage, each seed a thin
 * line and the seeds' mean a thick one with points, and the target loss as a dashed line across. Time rather
 * than steps is the x axis because a stage may buy its gain by cheaper steps as well as by better ones.
 */
import { axes, chartTitle, grid, legend, line, MUTED, type Style } from './chart.js';
import { runColour } from './palette.js';
import { linearScale, niceTicks } from './scale.js';
import { el, svgDocument, text } from './svg.js';

export interface LadderCurvePoint {
  step: number;
  /** Training seconds before this evaluation. */
  seconds: number;
  valLoss: number;
}

export interface LadderCurveStage {
  name: string;
  /** Each seed's evaluations, in order. */
  seeds: readonly (readonly LadderCurvePoint[])[];
  /** The seeds' mean curve (meanCurve in measure/seed_summary.ts). */
  mean: readonly LadderCurvePoint[];
  /** The mean validation loss at the budget, for the legend. */
  finalValLoss: number;
}

export interface LadderCurveOptions {
  target: number;
  title?: string;
  width?: number;
  height?: number;
}

/** Mean curves get point markers up to this many evaluations (as the loss curves do). */
const MAX_MARKERS = 60;

/**
 * The evaluation at step 0 (the untrained model, about ln(vocabulary)) is left out: it would stretch the loss
 * axis to twice the range where the stages differ.
 */
export function ladderCurveSvg(stages: readonly LadderCurveStage[], options: LadderCurveOptions): string {
  const W = options.width ?? 760,
    H = options.height ?? 440;
  const m = { top: 44, right: 24, bottom: 56, left: 68 };
  const pw = W - m.left - m.right,
    ph = H - m.top - m.bottom;
  const trained = (points: readonly LadderCurvePoint[]) => points.filter((p) => p.step > 0 && Number.isFinite(p.valLoss));
  const all = stages.flatMap((s) => [...s.seeds.flatMap(trained), ...trained(s.mean)]);
  const ys = [...all.map((p) => p.valLoss), options.target];
  const xt = niceTicks(0, Math.max(1e-3, ...all.map((p) => p.seconds)), 8, false);
  const yt = niceTicks(Math.min(...ys), Math.max(...ys), 6, true);
  const x = linearScale(xt.lo, xt.hi, m.left, m.left + pw);
  const y = linearScale(yt.lo, yt.hi, m.top + ph, m.top);

  const title = options.title ?? 'Validation loss against training seconds';
  const frame = { xt, yt, x, y, m, pw, ph };
  let body = grid(frame) + axes(frame, 'training seconds (evaluations excluded)') + chartTitle(W, title);
  const targetStyle: Style = { colour: MUTED, dash: '6 4', width: 1.5 };
  body += el(
    'g',
    { class: 'target' },
    line(
      [
        [m.left, y(options.target)],
        [m.left + pw, y(options.target)],
      ],
      targetStyle,
      'target-line',
    ) + text(m.left + 6, y(options.target) - 5, `target ${options.target}`, { 'font-size': 11, fill: MUTED }),
  );

  const legendRows: { style: Style; label: string }[] = [];
  stages.forEach((stage, i) => {
    const colour = runColour(i);
    const seedStyle: Style = { colour, opacity: 0.3, width: 1 };
    const meanStyle: Style = { colour, marker: 'filled', width: 2 };
    if (stage.seeds.length > 1) {
      for (const seed of stage.seeds) {
        body += line(
          trained(seed).map((p) => [x(p.seconds), y(p.valLoss)]),
          seedStyle,
          'series seed',
        );
      }
    }
    const mean = trained(stage.mean);
    const markers =
      mean.length <= MAX_MARKERS
        ? mean.map((p) => ({
            cx: x(p.seconds),
            cy: y(p.valLoss),
            tip: `${stage.name}: step ${p.step}, ${p.seconds.toFixed(1)} s: val loss ${p.valLoss.toFixed(4)}`,
          }))
        : [];
    body += line(
      mean.map((p) => [x(p.seconds), y(p.valLoss)]),
      meanStyle,
      'series stage',
      markers,
    );
    legendRows.push({ style: meanStyle, label: `${stage.name} (val ${stage.finalValLoss.toFixed(4)} at the budget)` });
  });
  if (stages.some((s) => s.seeds.length > 1))
    legendRows.push({ style: { colour: MUTED, opacity: 0.3, width: 1 }, label: 'thin: each seed; thick: their mean' });
  legendRows.push({ style: targetStyle, label: 'target loss' });
  body += legend(legendRows, m.left + pw - 8, m.top + 8, pw - 16);
  return svgDocument({ width: W, height: H, title, body });
}
