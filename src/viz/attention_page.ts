/**
 * The attention figures of one text: a heatmap per layer and head, the mean over each layer's heads, and
 * optionally the bars for one query position; and the HTML that shows them grouped by layer. Pure: the
 * command that runs the model writes the returned SVGs to files.
 */
import { meanOverHeads } from './attention_matrix.js';
import { attentionHeatmapSvg } from './heatmap.js';
import { figure, htmlPage, tag } from './html.js';
import { queryBarsSvg, type QueryBarsRow } from './query_bars.js';
import { visibleText, visibleToken } from './tokens.js';

export interface AttentionInput {
  /** maps[layer][head]: T x T row-major causal attention weights. */
  maps: readonly (readonly ArrayLike<number>[])[];
  /** The text of each position (one character for the character tokenizer). */
  tokens: readonly string[];
  /** Also draw where this position (0-based, into `tokens`) attends, as bars per head. */
  queryPos?: number;
  /** Heatmap cell size in pixels (default: fit each map into about 320 pixels, three to a row on a page). */
  cell?: number;
}

export interface AttentionFigure {
  /** File name to save the SVG under, e.g. layer0_head1.svg. */
  file: string;
  kind: 'head' | 'mean' | 'query';
  layer: number;
  head?: number;
  title: string;
  svg: string;
}

/** The figure file names this module writes, so a command can clear a previous text's figures first. */
export const ATTENTION_FILE_PATTERN = /^(layer\d+_(head\d+|mean)|query\d+_layer\d+)\.svg$/;

export function attentionFigures(input: AttentionInput): AttentionFigure[] {
  const T = input.tokens.length;
  const labels = input.tokens.map(visibleToken);
  const shown = visibleText(input.tokens.join(''));
  const subtitle = `"${[...shown].length > 70 ? `${[...shown].slice(0, 69).join('')}…` : shown}" (${T} positions)`;
  const cell = input.cell ?? Math.min(22, Math.max(5, Math.floor(320 / Math.max(1, T))));
  const out: AttentionFigure[] = [];
  input.maps.forEach((heads, layer) => {
    heads.forEach((matrix, head) => {
      const title = `layer ${layer} · head ${head}`;
      out.push({
        file: `layer${layer}_head${head}.svg`,
        kind: 'head',
        layer,
        head,
        title,
        svg: attentionHeatmapSvg(matrix, labels, { title, subtitle, cell }),
      });
    });
    const mean = meanOverHeads(heads, T);
    const meanTitle = `layer ${layer} · mean of ${heads.length} head${heads.length === 1 ? '' : 's'}`;
    out.push({
      file: `layer${layer}_mean.svg`,
      kind: 'mean',
      layer,
      title: meanTitle,
      svg: attentionHeatmapSvg(mean, labels, { title: meanTitle, subtitle, cell }),
    });
    if (input.queryPos !== undefined) {
      const q = input.queryPos;
      const rows: QueryBarsRow[] = heads.map((matrix, head) => ({ name: `head ${head}`, matrix }));
      rows.push({ name: 'mean', matrix: mean, mean: true });
      const title = `layer ${layer} · where position ${q} (${labels[q]}) attends`;
      out.push({
        file: `query${q}_layer${layer}.svg`,
        kind: 'query',
        layer,
        title,
        svg: queryBarsSvg(rows, labels, q, {
          title,
          subtitle: `one bar for each position 0..${q} it may attend to; height = attention weight`,
        }),
      });
    }
  });
  return out;
}

/** The figures as HTML sections, one per layer (heading level h2 on their own page, h3 inside a report). */
export function attentionSections(figures: readonly AttentionFigure[], heading: 'h2' | 'h3'): string {
  const layers = [...new Set(figures.map((f) => f.layer))].sort((a, b) => a - b);
  return layers
    .map((layer) => {
      const of = figures.filter((f) => f.layer === layer);
      const maps = of
        .filter((f) => f.kind !== 'query')
        .map((f) => figure(f.svg))
        .join('');
      const bars = of
        .filter((f) => f.kind === 'query')
        .map((f) => figure(f.svg))
        .join('');
      return (
        `<section class="layer">${tag(heading, `Layer ${layer}`)}<div class="figures grid">${maps}</div>` +
        (bars === '' ? '' : `<div class="figures">${bars}</div>`) +
        '</section>'
      );
    })
    .join('\n');
}

export interface AttentionPageOptions {
  /** The page title (e.g. "Attention: runs/baby"). */
  title: string;
  /** Plain-text paragraphs under the title: the text shown, cropping, how to read the maps. */
  notes: readonly string[];
  figures: readonly AttentionFigure[];
}

export function attentionPageHtml(page: AttentionPageOptions): string {
  const notes = page.notes.map((n) => tag('p', n, 'note')).join('\n');
  return htmlPage({ title: page.title, body: `${tag('h1', page.title)}\n${notes}\n${attentionSections(page.figures, 'h2')}` });
}

/** How to read the heatmaps, for the pages that show them. */
export const HOW_TO_READ_ATTENTION =
  'Each row is a query position (the character doing the attending), each column a key position (the character ' +
  'attended to); darker means more attention, and every row sums to 1. The grey triangle is masked: a position ' +
  'never sees the characters after it. ␣ is a space and ⏎ a newline.';
