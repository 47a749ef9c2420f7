/**
 * Where one position looks: for a chosen query position q, one small bar chart per head (and one for the
 * heads' mean) with a bar for every position s = 0..q that q may attend to (itself included), its height the
 * attention weight. The same numbers as row q of the heatmaps, but heights compare better than colours. All
 * panels share one y scale, topped at a nice value just above the largest weight: over many positions the
 * weights are small, and on a fixed 0..1 scale most bars would be a few pixels high.
 */
import { formatTick, niceTicks } from './scale.js';
import { el, svgDocument, text, textWidth, tooltip } from './svg.js';

export interface QueryBarsRow {
  /** "head 0", "mean of heads", ... */
  name: string;
  /** The T x T map the row is read from. */
  matrix: ArrayLike<number>;
  /** Marks the heads' mean, drawn in grey so it is not mistaken for one more head. */
  mean?: boolean;
}

export interface QueryBarsOptions {
  title: string;
  subtitle?: string;
}

const INK = '#222222',
  MUTED = '#666666',
  BAR = '#2171b5',
  MEAN_BAR = '#777777';

export function queryBarsSvg(
  rows: readonly QueryBarsRow[],
  labels: readonly string[],
  queryPos: number,
  options: QueryBarsOptions,
): string {
  const T = labels.length;
  if (!Number.isInteger(queryPos) || queryPos < 0 || queryPos >= T)
    throw new RangeError(`query position ${queryPos} is outside 0..${T - 1}`);
  const n = queryPos + 1;
  const bw = Math.min(30, Math.max(6, Math.floor(600 / n)));
  const gap = Math.max(1, Math.round(bw * 0.2));
  const font = Math.min(12, Math.max(6, Math.round(bw * 0.6)));
  const nameW = Math.max(...rows.map((r) => textWidth(r.name, 11)), 40);
  const left = Math.ceil(nameW + 44),
    barsH = 64,
    panelH = barsH + 34;
  let peak = 0;
  for (const row of rows) for (let s = 0; s < n; s++) peak = Math.max(peak, row.matrix[queryPos * T + s]!);
  const yt = niceTicks(0, Math.min(1, Math.max(peak, 0.01)), 2, true);
  const yMax = Math.min(1, yt.hi);
  const top = options.subtitle ? 60 : 44;
  const W = Math.ceil(Math.max(left + n * bw + 20, textWidth(options.title, 15) + 24));
  const H = top + rows.length * panelH + 8;

  let body = text(W / 2, 22, options.title, { class: 'title', 'font-size': 15, 'font-weight': 'bold', 'text-anchor': 'middle', fill: INK });
  if (options.subtitle)
    body += text(W / 2, 40, options.subtitle, { class: 'subtitle', 'font-size': 11, 'text-anchor': 'middle', fill: MUTED });

  rows.forEach((row, r) => {
    const y0 = top + r * panelH + 6,
      base = y0 + barsH;
    let panel = text(8, y0 + barsH / 2 + 4, row.name, { class: 'head-name', 'font-size': 11, 'font-weight': 'bold', fill: INK });
    // The y axis: its ticks, with faint guide lines across the panel.
    for (const v of yt.values.filter((v) => v <= yMax + 1e-9)) {
      const y = base - (v / yMax) * barsH;
      panel += el('line', { x1: left - 4, x2: left + n * bw, y1: y, y2: y, stroke: v === 0 ? '#999999' : '#e6e6e6' });
      panel += text(left - 7, y + 3.5, formatTick(v, yt.step), { class: 'tick-label', 'font-size': 9, 'text-anchor': 'end', fill: MUTED });
    }
    let top1 = 0;
    for (let s = 1; s < n; s++) if (row.matrix[queryPos * T + s]! > row.matrix[queryPos * T + top1]!) top1 = s;
    for (let s = 0; s < n; s++) {
      const w = row.matrix[queryPos * T + s]!;
      const h = (Math.max(0, Math.min(yMax, w)) / yMax) * barsH;
      panel += el(
        'rect',
        {
          class: 'bar',
          x: left + s * bw + gap / 2,
          y: base - h,
          width: bw - gap,
          height: h,
          fill: row.mean ? MEAN_BAR : BAR,
        },
        tooltip(`${row.name}: position ${queryPos} ${labels[queryPos]} → ${s} ${labels[s]}: ${w.toFixed(3)}`),
      );
      panel += text(left + s * bw + bw / 2, base + font + 3, labels[s]!, {
        'font-size': font,
        'text-anchor': 'middle',
        'font-family': 'DejaVu Sans Mono, monospace',
        fill: s === queryPos ? '#d55e00' : INK,
        'font-weight': s === queryPos ? 'bold' : undefined,
      });
    }
    // The strongest weight's value, so the scale can be read without hovering.
    const best = row.matrix[queryPos * T + top1]!;
    const bx = left + top1 * bw + bw / 2;
    panel += text(bx, Math.max(y0 + 2, base - (Math.min(yMax, best) / yMax) * barsH - 3), best.toFixed(2), {
      class: 'value',
      'font-size': 9,
      'text-anchor': bx > W - 20 ? 'end' : 'middle',
      fill: INK,
    });
    body += el('g', { class: row.mean ? 'head mean' : 'head' }, panel);
  });
  return svgDocument({ width: W, height: H, title: options.title, body });
}
