/**
 * The page of a memory search: the query, then each passage the query attends to, shaded by its weight on the
 * attention maps' colour ramp, with the token it offers (its value) marked and the context it shares with the
 * query underlined. Self-contained, as every page here is.
 */
import type { Passage } from '../memory/passages.js';
import { escapeXml } from './escape.js';
import { htmlPage, keyValueTable } from './html.js';
import { weightColour } from './palette.js';

export interface MemorySearchPageInput {
  query: string;
  memory: string;
  run: string;
  passages: readonly Passage[];
}

const STYLE = `<style>
.passage { font-family: "DejaVu Sans Mono", ui-monospace, monospace; font-size: 13px; white-space: pre-wrap; word-break: break-word; padding: 8px 12px; margin: 6px 0; border-left: 6px solid #ccc; }
.passage .value { font-weight: bold; outline: 2px solid #d55e00; }
.passage .shared { text-decoration: underline; }
.weight { font-weight: bold; margin-right: 12px; }
</style>`;

/** Text as it reads in a passage: newlines kept, shown as a return mark at the end of the line too. */
const show = (s: string) => escapeXml(s.replace(/\n/g, '⏎\n'));

export function memorySearchPage(input: MemorySearchPageInput): string {
  const rows = input.passages.map((p) => {
    const shade = weightColour(p.weight);
    // The last `match` characters of `before` are the context shared with the query (one character a token
    // for a character model; for longer tokens, an approximation that marks at least the shared end).
    const cut = Math.max(0, p.before.length - p.match);
    const body = `${show(p.before.slice(0, cut))}<span class="shared">${show(p.before.slice(cut))}</span><span class="value">${show(p.value)}</span>${show(p.after)}`;
    const label = `<span class="weight">${(100 * p.weight).toFixed(1)}%</span><span class="mono">position ${p.index}, ${p.match} tokens shared</span>`;
    return `<div class="passage" style="background: ${shade}1f; border-left-color: ${shade}">${label}\n${body}</div>`;
  });
  const body = [
    STYLE,
    `<h1>What the query attends to in the memory</h1>`,
    keyValueTable([
      ['query', input.query],
      ['memory', input.memory],
      ['model', input.run],
      ['passages', String(input.passages.length)],
    ]),
    `<p class="note">Each passage is a key of the memory: the model's state after reading its text. Its weight is the softmax of its score (attention's q.k/sqrt(d), plus the bonus for the underlined context it shares with the query exactly); the weights sum to 1. The outlined character is the token that followed it, which the memory offers as the next token.</p>`,
    ...rows,
  ].join('\n');
  return htmlPage({ title: `memory search: ${input.query}`, body });
}
