/**
 * The loss curve as an SVG: training loss at every step as a light line, the periodic evaluations (train and
 * validation loss) as lines with points on top, on shared axes with ticks, grid, titles and a legend. Several
 * runs overlay in one chart, one colour per run.
 */
import { bestEval, downsampleSteps, type LossLog } from './loss_log.js';
import { runColour } from './palette.js';
import { formatTick, linearScale, niceTicks } from './scale.js';
import { el, pathData, svgDocument, text, textWidth, tooltip } from './svg.js';

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
const INK = '#222222',
  MUTED = '#666666',
  GRID = '#e6e6e6';

interface Style {
  colour: string;
  dash?: string;
  marker?: 'hollow' | 'filled';
  opacity?: number;
  width: number;
}

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
  body += el(
    'g',
    { class: 'grid', stroke: GRID, 'stroke-width': 1 },
    yt.values.map((v) => el('line', { x1: m.left, x2: m.left + pw, y1: y(v), y2: y(v) })).join('') +
      xt.values.map((v) => el('line', { x1: x(v), x2: x(v), y1: m.top, y2: m.top + ph })).join(''),
  );
  body += axes(xt, yt, x, y, m, pw, ph);

  const names = runs.map((r) => r.name);
  const title = options.title ?? (single ? `Loss: ${names[0]}` : `Loss: ${names.join(', ')}`);
  body += text(W / 2, 24, fit(title, W - 40, 16), {
    class: 'title',
    'font-size': 16,
    'font-weight': 'bold',
    'text-anchor': 'middle',
    fill: INK,
  });
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

function axes(
  xt: ReturnType<typeof niceTicks>,
  yt: ReturnType<typeof niceTicks>,
  x: (v: number) => number,
  y: (v: number) => number,
  m: { top: number; left: number },
  pw: number,
  ph: number,
): string {
  const bottom = m.top + ph;
  const xAxis =
    el('line', { class: 'axis-line', x1: m.left, x2: m.left + pw, y1: bottom, y2: bottom, stroke: INK }) +
    xt.values
      .map(
        (v) =>
          el('line', { class: 'tick', x1: x(v), x2: x(v), y1: bottom, y2: bottom + 5, stroke: INK }) +
          text(x(v), bottom + 18, formatTick(v, xt.step), { class: 'tick-label', 'text-anchor': 'middle', fill: INK }),
      )
      .join('') +
    text(m.left + pw / 2, bottom + 42, 'step', { class: 'axis-title', 'text-anchor': 'middle', fill: INK, 'font-size': 13 });
  const yAxis =
    el('line', { class: 'axis-line', x1: m.left, x2: m.left, y1: m.top, y2: bottom, stroke: INK }) +
    yt.values
      .map(
        (v) =>
          el('line', { class: 'tick', x1: m.left - 5, x2: m.left, y1: y(v), y2: y(v), stroke: INK }) +
          text(m.left - 8, y(v) + 4, formatTick(v, yt.step), { class: 'tick-label', 'text-anchor': 'end', fill: INK }),
      )
      .join('') +
    text(18, m.top + ph / 2, 'cross-entropy loss', {
      class: 'axis-title',
      'text-anchor': 'middle',
      fill: INK,
      'font-size': 13,
      transform: `rotate(-90 18 ${m.top + ph / 2})`,
    });
  return el('g', { class: 'axis x' }, xAxis) + el('g', { class: 'axis y' }, yAxis);
}

function line(points: [number, number][], s: Style, cls: string, markers: { cx: number; cy: number; tip: string }[] = []): string {
  const d = pathData(points);
  let out =
    d === ''
      ? ''
      : el('path', {
          d,
          fill: 'none',
          stroke: s.colour,
          'stroke-width': s.width,
          'stroke-dasharray': s.dash,
          'stroke-opacity': s.opacity,
          'stroke-linejoin': 'round',
        });
  for (const p of markers) {
    if (!Number.isFinite(p.cy)) continue;
    out += el(
      'circle',
      {
        cx: p.cx,
        cy: p.cy,
        r: 3,
        fill: s.marker === 'hollow' ? '#ffffff' : s.colour,
        stroke: s.colour,
        'stroke-width': 1.5,
      },
      tooltip(p.tip),
    );
  }
  return out === '' ? '' : el('g', { class: cls }, out);
}

/** The legend box, anchored at its top-right corner (inside the plot, where falling losses leave room). */
function legend(rows: { style: Style; label: string }[], right: number, top: number, maxWidth: number): string {
  if (rows.length === 0) return '';
  const fontSize = 11,
    rowH = 17,
    glyph = 26,
    pad = 8;
  const labels = rows.map((r) => fit(r.label, maxWidth - glyph - 3 * pad, fontSize));
  const w = Math.min(maxWidth, Math.max(...labels.map((l) => textWidth(l, fontSize))) + glyph + 3 * pad);
  const h = rows.length * rowH + pad;
  const left = right - w;
  let out = el('rect', { x: left, y: top, width: w, height: h, fill: '#ffffff', 'fill-opacity': 0.9, stroke: '#cccccc', rx: 3 });
  rows.forEach((r, i) => {
    const cy = top + pad / 2 + rowH * i + rowH / 2;
    const s = r.style;
    out += el('line', {
      x1: left + pad,
      x2: left + pad + glyph,
      y1: cy,
      y2: cy,
      stroke: s.colour,
      'stroke-width': s.width,
      'stroke-dasharray': s.dash,
      'stroke-opacity': s.opacity,
    });
    if (s.marker !== undefined) {
      out += el('circle', {
        cx: left + pad + glyph / 2,
        cy,
        r: 3,
        fill: s.marker === 'hollow' ? '#ffffff' : s.colour,
        stroke: s.colour,
        'stroke-width': 1.5,
      });
    }
    out += text(left + 2 * pad + glyph, cy + 4, labels[i]!, { class: 'legend-label', 'font-size': fontSize, fill: INK });
  });
  return el('g', { class: 'legend' }, out);
}

/** Shortens a label with an ellipsis so that it fits `width` pixels. */
function fit(label: string, width: number, fontSize: number): string {
  const chars = [...label];
  const max = Math.max(1, Math.floor(width / (fontSize * 0.6)));
  return chars.length <= max ? label : `${chars.slice(0, max - 1).join('')}…`;
}
