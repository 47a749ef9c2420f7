/**
 * Building SVG as strings: one element at a time, every attribute escaped and every coordinate rounded, so the
 * output is plain SVG 1.1 that any viewer opens (no scripts, no external fonts or images, no CSS features).
 */
import { escapeXml } from './escape.js';

export type Attrs = Record<string, string | number | boolean | undefined | null>;

/** Coordinates to at most two decimals: a hundredth of a pixel is invisible and halves the file size. */
export function num(v: number): string {
  if (!Number.isFinite(v)) return '0';
  const r = Math.round(v * 100) / 100;
  return Object.is(r, -0) ? '0' : String(r);
}

function attributes(attrs: Attrs): string {
  let out = '';
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    const text = value === true ? key : typeof value === 'number' ? num(value) : value;
    out += ` ${key}="${escapeXml(text)}"`;
  }
  return out;
}

/** An element; `content` is markup (already escaped), so children nest by concatenation. */
export function el(name: string, attrs: Attrs = {}, content?: string): string {
  return content === undefined || content === '' ? `<${name}${attributes(attrs)}/>` : `<${name}${attributes(attrs)}>${content}</${name}>`;
}

/** A text element whose content is plain text (escaped here). */
export function text(x: number, y: number, content: string, attrs: Attrs = {}): string {
  return el('text', { x, y, ...attrs }, escapeXml(content));
}

/** A tooltip: browsers show an element's <title> child on hover, with no script needed. */
export function tooltip(content: string): string {
  return `<title>${escapeXml(content)}</title>`;
}

/** A polyline as path data; a non-finite point breaks the line (a diverged loss leaves a gap, not a spike). */
export function pathData(points: readonly (readonly [number, number])[]): string {
  let d = '',
    pen = false;
  for (const [x, y] of points) {
    if (!Number.isFinite(x) || !Number.isFinite(y)) {
      pen = false;
      continue;
    }
    d += `${pen ? 'L' : 'M'}${num(x)} ${num(y)}`;
    pen = true;
  }
  return d;
}

export interface SvgDocument {
  width: number;
  height: number;
  /** The root <title>: what the picture is, shown as a tooltip and read by screen readers. */
  title: string;
  body: string;
}

/** A standalone SVG file's text (with its namespace, as a .svg file needs). */
export function svgDocument(doc: SvgDocument): string {
  const w = Math.ceil(doc.width),
    h = Math.ceil(doc.height);
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" ` +
    `font-family="DejaVu Sans, Verdana, Arial, sans-serif" font-size="12">` +
    `${tooltip(doc.title)}${el('rect', { width: w, height: h, fill: '#ffffff' })}${doc.body}</svg>`
  );
}

/**
 * The same SVG for inlining in an HTML page: HTML puts <svg> in the SVG namespace by itself, and dropping the
 * namespace URI keeps the page free of any http:// text at all, which makes "no external references" easy
 * to check.
 */
export function inlineSvg(svg: string): string {
  return svg.replace(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" /, '<svg ');
}

/** An approximate text width for laying out labels: generic sans-serif glyphs average about 0.6 em. */
export function textWidth(content: string, fontSize: number): number {
  return [...content].length * fontSize * 0.6;
}
