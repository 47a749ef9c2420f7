/**
 * The loss curve as an SVG: training loss at every step as a light line, the periodic evaluations (train and
 * validation loss) as lines with points on top, on shared axes with ticks, grid, titles and a legend. Several
 * runs overlay in one chart, one colour per run.
 */
import { bestEval, downsampleSteps, type LossLog } from './loss_log.js';
import { runColour } from './palette.js';
import { axes, chartTitle, grid, legend, line, MUTED, type Style } from './chart.js';
import { linearScale, niceTicks } from './scale.js';
import { svgDocument, text } from './svg.js';

export interface LossCurveRun {
  /** Shown in the legend (a run folder's name). */
  name: string;
  log: LossLog;
}

export interface LossCurveOptions {
  title?: string;
  width?: number;
  height?: number;
}

/** Evaluations get point markers up to this many; beyond it the markers would merge into a thick line. */
const MAX_MARKERS = 60;
/** Single-run colours: training blue, validation vermillion (Okabe-Ito, safe for colour blindness). */
const TRAIN = '#0072b2',
  VAL = '#d55e00';

export function lossCurveSvg(runs: readonly LossCurveRun[], options: LossCurveOptions = {}): string {
  const W = options.width ?? 760,
    H = options.height ?? 440;
  const single = runs.length === 1;
  const m = { top: single ? 58 : 44, right: 24, bottom: 56, left: 68 };
  const pw = W - m.left - m.right,
    ph = H - m.top - m.bottom;

  const series = runs.map((r) => ({ ...r, steps: downsampleSteps(r.log.steps, Math.max(50, Math.floor(pw))) }));
  const xs: number[] = [],
    ys: number[] = [];
  for (const r of series) {
    for (const p of r.steps) {
      if (Number.isFinite(p.loss)) {
        xs.push(p.step);
        ys.push(p.loss);
      }
    }
    for (const e of r.log.evals) {
      for (const v of [e.trainLoss, e.valLoss]) {
        if (Number.isFinite(v)) {
          xs.push(e.step);
          ys.push(v);
        }
      }
    }
  }
  const empty = ys.length === 0;
  const xt = niceTicks(Math.min(0, ...xs), empty ? 1 : Math.max(...xs), 8, false);
  const yt = niceTicks(empty ? 0 : Math.min(...ys), empty ? 1 : Math.max(...ys), 6, true);
  const x = linearScale(xt.lo, xt.hi, m.left, m.left + pw);
  const y = linearScale(yt.lo, yt.hi, m.top + ph, m.top);

  let body = '';
  // Grid first so that everything else is drawn over it.
  const frame = { xt, yt, x, y, m, pw, ph };
  body += grid(frame);
  body += axes(frame, 'step');

  const names = runs.map((r) => r.name);
  const title = options.title ?? (single ? `Loss: ${names[0]}` : `Loss: ${names.join(', ')}`);
  body += chartTitle(W, title);
  if (single) body += text(W / 2, 42, summary(runs[0]!.log), { class: 'subtitle', 'font-size': 12, 'text-anchor': 'middle', fill: MUTED });

  if (empty) {
    body += text(m.left + pw / 2, m.top + ph / 2, 'no losses logged yet', {
      class: 'empty',
      'text-anchor': 'middle',
      fill: MUTED,
      'font-size': 14,
    });
  }
  const legendRows: { style: Style; label: string }[] = [];
  series.forEach((r, i) => {
    const colour = single ? TRAIN : runColour(i);
    const stepStyle: Style = { colour, opacity: single ? 0.35 : 0.22, width: 1 };
    const trainStyle: Style = { colour, dash: '5 3', marker: 'hollow', width: 1.5 };
    const valStyle: Style = { colour: single ? VAL : colour, marker: 'filled', width: 2 };
    const tag = single ? '' : `${r.name}: `;
    body += line(
      r.steps.map((p) => [x(p.step), y(p.loss)]),
      stepStyle,
      'series train-steps',
    );
    const evals = r.log.evals;
    const markers = evals.length <= MAX_MARKERS;
    body += line(
      evals.map((e) => [x(e.step), y(e.trainLoss)]),
      trainStyle,
      'series train-evals',
      markers
        ? evals.map((e) => ({ cx: x(e.step), cy: y(e.trainLoss), tip: `${tag}step ${e.step}: train loss ${e.trainLoss.toFixed(4)}` }))
        : [],
    );
    body += line(
      evals.map((e) => [x(e.step), y(e.valLoss)]),
      valStyle,
      'series val-evals',
      markers ? evals.map((e) => ({ cx: x(e.step), cy: y(e.valLoss), tip: `${tag}step ${e.step}: val loss ${e.valLoss.toFixed(4)}` })) : [],
    );
    if (single) {
      if (r.steps.length > 0) legendRows.push({ style: stepStyle, label: 'training loss, each step' });
      legendRows.push({ style: trainStyle, label: 'training loss, evaluated' });
      legendRows.push({ style: valStyle, label: 'validation loss, evaluated' });
    } else {
      const best = bestEval(r.log);
      legendRows.push({ style: valStyle, label: `${r.name}${best ? ` (best val ${best.valLoss.toFixed(4)})` : ''}` });
    }
  });
  if (!single) {
    legendRows.push({ style: { colour: MUTED, marker: 'filled', width: 2 }, label: 'solid: validation loss' });
    legendRows.push({ style: { colour: MUTED, dash: '5 3', marker: 'hollow', width: 1.5 }, label: 'dashed: training loss, evaluated' });
    legendRows.push({ style: { colour: MUTED, opacity: 0.35, width: 1 }, label: 'light: training loss, each step' });
  }
  body += legend(legendRows, m.left + pw - 8, m.top + 8, pw - 16);
  return svgDocument({ width: W, height: H, title, body });
}

/** One line under the title: where the run got to and its best validation loss. */
function summary(log: LossLog): string {
  const best = bestEval(log);
  const last = Math.max(log.steps.at(-1)?.step ?? 0, log.evals.at(-1)?.step ?? 0);
  const parts = [`${last} steps`, `${log.evals.length} evaluations`];
  if (best !== null) parts.push(`best validation loss ${best.valLoss.toFixed(4)} at step ${best.step}`);
  return parts.join(' · ');
}
