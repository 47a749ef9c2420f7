/**
 * One attention map as an SVG heatmap: row t is the query (the position doing the attending), column s the
 * key (the position attended to), both axes labelled with the characters. A causal map has weights only on
 * and below the diagonal: those T(T+1)/2 pairs are drawn as one cell each, and the masked upper triangle is a
 * single grey staircase shape, so the picture cannot suggest a position looked ahead.
 */
import { rampToWeight, weightColour, weightToRamp } from './palette.js';
import { el, svgDocument, text, textWidth, tooltip } from './svg.js';

export interface HeatmapOptions {
  title: string;
  /** A second, smaller line under the title. */
  subtitle?: string;
  /** Side of one cell in pixels (default: fit the map into about 440 pixels). */
  cell?: number;
}

/** Above this many positions the per-cell tooltips are left out: they would make the file several MB. */
const MAX_TOOLTIP_T = 64;
const INK = '#222222',
  MUTED = '#666666';

/** `labels` are the visible token labels (see visibleToken), one per position; `matrix` is T x T row-major. */
export function attentionHeatmapSvg(matrix: ArrayLike<number>, labels: readonly string[], options: HeatmapOptions): string {
  const T = labels.length;
  if (matrix.length !== T * T) throw new RangeError(`attention map has ${matrix.length} values, expected ${T} x ${T}`);
  const cell = Math.round(options.cell ?? Math.min(26, Math.max(5, Math.floor(440 / Math.max(1, T)))));
  const font = Math.min(13, Math.max(5, Math.round(cell * 0.7)));
  const labelW = Math.max(font, ...labels.map((l) => textWidth(l, font)));
  // Labels wider than a cell (multi-character tokens) are turned on their side above the columns.
  const turned = labelW > cell;
  const indexEvery = T <= 12 ? 1 : T <= 40 ? 5 : 10;

  const left = Math.ceil(30 + labelW + 6);
  const top = Math.ceil((options.subtitle ? 60 : 44) + 18 + (turned ? labelW : font) + 4);
  const size = T * cell;
  const barX = left + size + 30,
    barH = Math.max(120, Math.min(size, 240)),
    barW = 12;
  const titleW = textWidth(options.title, 15) + 24;
  const W = Math.ceil(Math.max(barX + barW + 34, titleW, left + size + 24));
  const H = Math.ceil(Math.max(top + size, top + barH + 16) + 30);
  const mid = left + size / 2;

  let body = text(W / 2, 22, options.title, { class: 'title', 'font-size': 15, 'font-weight': 'bold', 'text-anchor': 'middle', fill: INK });
  if (options.subtitle)
    body += text(W / 2, 40, options.subtitle, { class: 'subtitle', 'font-size': 11, 'text-anchor': 'middle', fill: MUTED });
  body += text(mid, top - (turned ? labelW : font) - 10, 'key: position attended to', {
    class: 'axis-title',
    'text-anchor': 'middle',
    'font-size': 12,
    fill: INK,
  });
  body += text(14, top + size / 2, 'query: attending position', {
    class: 'axis-title',
    'text-anchor': 'middle',
    'font-size': 12,
    fill: INK,
    transform: `rotate(-90 14 ${top + size / 2})`,
  });

  // The characters: down the left for the queries, across the top for the keys.
  let rowLabels = '',
    colLabels = '',
    indices = '';
  for (let i = 0; i < T; i++) {
    const c = i * cell + cell / 2;
    rowLabels += text(left - 5, top + c + font * 0.35, labels[i]!, { 'text-anchor': 'end' });
    colLabels += turned
      ? text(left + c + font * 0.35, top - 5, labels[i]!, { transform: `rotate(-90 ${left + c + font * 0.35} ${top - 5})` })
      : text(left + c, top - 5, labels[i]!, { 'text-anchor': 'middle' });
    // Every k-th index and the last one, leaving out a multiple of k so close to the last that they would collide.
    if (i === T - 1 || (i % indexEvery === 0 && T - 1 - i >= Math.min(2, indexEvery))) {
      indices += text(left + c, top + size + 13, String(i), { 'text-anchor': 'middle' });
      indices += text(left + size + 4, top + c + 3, String(i), {});
    }
  }
  body += el('g', { class: 'labels rows', 'font-family': 'DejaVu Sans Mono, monospace', 'font-size': font, fill: INK }, rowLabels);
  body += el('g', { class: 'labels columns', 'font-family': 'DejaVu Sans Mono, monospace', 'font-size': font, fill: INK }, colLabels);
  body += el('g', { class: 'indices', 'font-size': 9, fill: MUTED }, indices);

  let cells = '';
  const tips = T <= MAX_TOOLTIP_T;
  for (let t = 0; t < T; t++) {
    for (let s = 0; s <= t; s++) {
      const w = matrix[t * T + s]!;
      const tip = tips ? tooltip(`query ${t} ${labels[t]} → key ${s} ${labels[s]}: ${w.toFixed(3)}`) : undefined;
      cells += el('rect', { class: 'cell', x: left + s * cell, y: top + t * cell, width: cell, height: cell, fill: weightColour(w) }, tip);
    }
  }
  body += el('g', { class: 'cells', 'shape-rendering': 'crispEdges' }, cells);
  if (T > 1) {
    // The masked region as one staircase: from the top-right corner down the right edge, then step by step
    // back along the diagonal to the first row's second cell.
    let d = `M${left + cell} ${top}H${left + size}V${top + (T - 1) * cell}`;
    for (let t = T - 2; t >= 0; t--) d += `H${left + (t + 1) * cell}V${top + t * cell}`;
    body += el(
      'path',
      { class: 'masked', d: `${d}Z`, fill: '#ececec', stroke: 'none' },
      tooltip('masked: a position never attends to later positions'),
    );
  }
  body += el('rect', { class: 'frame', x: left, y: top, width: size, height: size, fill: 'none', stroke: '#999999', 'stroke-width': 0.5 });
  body += colourBar(barX, top, barW, barH);
  return svgDocument({ width: W, height: H, title: options.title, body });
}

/** The colour key: the ramp from 0 (bottom) to 1 (top), labelled at weights that are easy to read off. */
function colourBar(x: number, y: number, w: number, h: number): string {
  const steps = 40;
  let out = '';
  for (let i = 0; i < steps; i++) {
    const r = (i + 0.5) / steps;
    out += el('rect', { x, y: y + h - ((i + 1) * h) / steps, width: w, height: h / steps + 0.5, fill: weightColour(rampToWeight(r)) });
  }
  out += el('rect', { x, y, width: w, height: h, fill: 'none', stroke: '#999999', 'stroke-width': 0.5 });
  for (const v of [0, 0.05, 0.25, 0.5, 1]) {
    const ly = y + h - weightToRamp(v) * h;
    out += el('line', { x1: x + w, x2: x + w + 4, y1: ly, y2: ly, stroke: INK });
    out += text(x + w + 6, ly + 4, String(v), { 'font-size': 10, fill: INK });
  }
  out += text(x + w / 2, y - 6, 'weight', { 'font-size': 10, 'text-anchor': 'middle', fill: MUTED });
  return el('g', { class: 'colour-bar', 'shape-rendering': 'crispEdges' }, out);
}
