/**
 * The parts of a chart that the loss curves (loss_curve.ts) and the modern ladder's plot (ladder_curve.ts)
 * share: grid, axes with ticks and titles, lines with point markers and tooltips, and the legend box.
 */
import { formatTick, type niceTicks } from './scale.js';
import { el, pathData, text, textWidth, tooltip } from './svg.js';

export const INK = '#222222',
  MUTED = '#666666',
  GRID = '#e6e6e6';

export interface Style {
  colour: string;
  dash?: string;
  marker?: 'hollow' | 'filled';
  opacity?: number;
  width: number;
}

type Ticks = ReturnType<typeof niceTicks>;

/** A plot's frame: the ticks and scales of both axes, the margins and the plot area's size. */
export interface Frame {
  xt: Ticks;
  yt: Ticks;
  x: (v: number) => number;
  y: (v: number) => number;
  m: { top: number; left: number };
  pw: number;
  ph: number;
}

/** Light grid lines at every tick, drawn first so that everything else goes over them. */
export function grid({ xt, yt, x, y, m, pw, ph }: Frame): string {
  return el(
    'g',
    { class: 'grid', stroke: GRID, 'stroke-width': 1 },
    yt.values.map((v) => el('line', { x1: m.left, x2: m.left + pw, y1: y(v), y2: y(v) })).join('') +
      xt.values.map((v) => el('line', { x1: x(v), x2: x(v), y1: m.top, y2: m.top + ph })).join(''),
  );
}

/** The chart's title, centred over a chart `width` wide (shortened to fit). */
export function chartTitle(width: number, title: string): string {
  return text(width / 2, 24, fit(title, width - 40, 16), {
    class: 'title',
    'font-size': 16,
    'font-weight': 'bold',
    'text-anchor': 'middle',
    fill: INK,
  });
}

/** Both axes with their ticks and labels; the y axis is always the loss, the x axis is titled `xTitle`. */
export function axes({ xt, yt, x, y, m, pw, ph }: Frame, xTitle: string): string {
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
    text(m.left + pw / 2, bottom + 42, xTitle, { class: 'axis-title', 'text-anchor': 'middle', fill: INK, 'font-size': 13 });
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

/** A series as a path, with a point marker (and its tooltip) at each of `markers`. */
export function line(points: [number, number][], s: Style, cls: string, markers: { cx: number; cy: number; tip: string }[] = []): string {
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
export function legend(rows: { style: Style; label: string }[], right: number, top: number, maxWidth: number): string {
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
export function fit(label: string, width: number, fontSize: number): string {
  const chars = [...label];
  const max = Math.max(1, Math.floor(width / (fontSize * 0.6)));
  return chars.length <= max ? label : `${chars.slice(0, max - 1).join('')}…`;
}
