/**
 * Self-contained HTML pages: inline CSS, SVG figures inlined, no scripts, no external fonts, images or
 * links to fetch. A Content-Security-Policy that forbids every fetch makes the browser itself enforce that,
 * so a page that works once works offline, from an e-mail attachment, or years later.
 */
import { escapeXml } from './escape.js';
import { inlineSvg } from './svg.js';

const CSS = `
:root { color-scheme: light; }
body { font-family: "DejaVu Sans", system-ui, sans-serif; color: #222; background: #fff; margin: 0 auto; padding: 24px 32px 48px; max-width: 1280px; line-height: 1.45; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 20px; margin: 32px 0 8px; padding-bottom: 4px; border-bottom: 1px solid #ddd; }
h3 { font-size: 16px; margin: 20px 0 6px; }
p.lead, p.note { color: #555; margin: 4px 0 12px; }
p.note { font-size: 14px; }
code, .mono { font-family: "DejaVu Sans Mono", ui-monospace, monospace; }
table.kv { border-collapse: collapse; font-size: 14px; margin: 8px 0; }
table.kv th, table.kv td { text-align: left; padding: 3px 14px 3px 0; border-bottom: 1px solid #eee; vertical-align: top; }
table.kv th { font-weight: normal; color: #555; }
.tables { display: flex; flex-wrap: wrap; gap: 8px 48px; align-items: flex-start; }
.figures { display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; }
.figures + .figures { margin-top: 16px; }
.figures.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(360px, 1fr)); }
figure { margin: 0; }
figure svg { display: block; max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: 13px; color: #555; margin-top: 4px; }
pre.sample { font-family: "DejaVu Sans Mono", ui-monospace, monospace; font-size: 13px; white-space: pre-wrap; word-break: break-word; background: #f7f7f7; border-left: 4px solid #0072b2; padding: 10px 14px; margin: 6px 0 18px; }
pre.sample .prompt { background: #fde7d8; }
.big { font-size: 22px; font-weight: bold; }
`;

export interface PageOptions {
  title: string;
  /** Markup for the body (already escaped). */
  body: string;
}

export function htmlPage(page: PageOptions): string {
  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8"/>',
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:"/>`,
    '<meta name="viewport" content="width=device-width, initial-scale=1"/>',
    `<title>${escapeXml(page.title)}</title>`,
    `<style>${CSS}</style>`,
    '</head>',
    '<body>',
    page.body,
    '</body>',
    '</html>',
    '',
  ].join('\n');
}

/** An SVG inlined, with a caption when the picture's own title does not say enough. */
export function figure(svg: string, caption?: string): string {
  const cap = caption === undefined ? '' : `<figcaption>${escapeXml(caption)}</figcaption>`;
  return `<figure>${inlineSvg(svg)}${cap}</figure>`;
}

/** A two-column table of names and values (plain text, escaped here). */
export function keyValueTable(rows: readonly (readonly [string, string])[], caption?: string): string {
  const head = caption === undefined ? '' : `<caption>${escapeXml(caption)}</caption>`;
  const body = rows.map(([k, v]) => `<tr><th>${escapeXml(k)}</th><td>${escapeXml(v)}</td></tr>`).join('');
  return `<table class="kv">${head}<tbody>${body}</tbody></table>`;
}

/** An element with escaped text content. */
export function tag(name: string, content: string, cls?: string): string {
  return `<${name}${cls === undefined ? '' : ` class="${escapeXml(cls)}"`}>${escapeXml(content)}</${name}>`;
}
