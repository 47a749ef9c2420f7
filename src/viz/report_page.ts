/**
 * The run report: one self-contained HTML page with what a run is (its configuration and size), how it
 * trained (the loss curve), what it writes (samples at a few temperatures) and what it looks at (attention
 * maps for a short prompt). Pure: the report command gathers the numbers and text and writes the page.
 */
import { attentionSections, type AttentionFigure } from './attention_page.js';
import { escapeXml } from './escape.js';
import { figure, htmlPage, keyValueTable, tag } from './html.js';

export interface ReportSample {
  temperature: number;
  prompt: string;
  /** The generated continuation (without the prompt). */
  text: string;
}

export interface RunReportInput {
  /** The run folder as the user named it. */
  name: string;
  /** Tables of the config: e.g. "model", "training run", "training state". */
  tables: readonly { title: string; rows: readonly (readonly [string, string])[] }[];
  parameters: number;
  /** How the parameters are counted. */
  parameterNote: string;
  lossSvg: string | null;
  /** Shown instead of, or under, the loss curve. */
  lossNote?: string;
  samples: readonly ReportSample[];
  /** How the samples were made (seed, length, top-k). */
  sampleNote: string;
  attention: { figures: readonly AttentionFigure[]; notes: readonly string[] } | { unavailable: string };
}

export function runReportHtml(r: RunReportInput): string {
  const title = `tsgpt run report: ${r.name}`;
  const parts: string[] = [tag('h1', title)];

  parts.push(tag('h2', 'Model and configuration'));
  parts.push(
    `<p><span class="big">${escapeXml(formatParameters(r.parameters))}</span> parameters <span class="note">(${escapeXml(r.parameterNote)})</span></p>`,
  );
  parts.push(`<div class="tables">${r.tables.map((t) => `<div>${tag('h3', t.title)}${keyValueTable(t.rows)}</div>`).join('')}</div>`);

  parts.push(tag('h2', 'Loss'));
  if (r.lossSvg !== null)
    parts.push(`<div class="figures">${figure(r.lossSvg, 'training and validation loss against step, from log.jsonl')}</div>`);
  if (r.lossNote !== undefined) parts.push(tag('p', r.lossNote, 'note'));

  parts.push(tag('h2', 'Samples'));
  parts.push(tag('p', r.sampleNote, 'note'));
  for (const s of r.samples) {
    parts.push(tag('h3', `temperature ${s.temperature}`));
    parts.push(`<pre class="sample"><span class="prompt">${escapeXml(s.prompt)}</span>${escapeXml(s.text)}</pre>`);
  }

  parts.push(tag('h2', 'Attention'));
  if ('unavailable' in r.attention) parts.push(tag('p', r.attention.unavailable, 'note'));
  else {
    for (const n of r.attention.notes) parts.push(tag('p', n, 'note'));
    parts.push(attentionSections(r.attention.figures, 'h3'));
  }
  return htmlPage({ title, body: parts.join('\n') });
}

/** nanoGPT's "0.80M", with the exact count beside it (small models would otherwise all read 0.00M). */
export function formatParameters(n: number): string {
  return `${(n / 1e6).toFixed(2)}M (${String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',')})`;
}
