/**
 * Attention over a text: the characters as a strip, where hovering (or tapping) one shades every earlier
 * character by how much it attends to it in the chosen layer and head (or the mean of the layer's heads), and
 * the whole map as the heatmap `tsgpt attention` draws.
 */
import { type AttentionResult, viz } from '../src/index.js';

const MEAN = 'mean';

export class AttentionView {
  private result: AttentionResult | null = null;
  private query = -1;

  constructor(
    private readonly strip: HTMLElement,
    private readonly heatmap: HTMLElement,
    private readonly layer: HTMLSelectElement,
    private readonly head: HTMLSelectElement,
    private readonly controls: HTMLElement,
  ) {
    layer.addEventListener('change', () => this.draw());
    head.addEventListener('change', () => this.draw());
    strip.addEventListener('pointerover', (e) => this.pick(e.target));
    strip.addEventListener('click', (e) => this.pick(e.target));
    strip.addEventListener('focusin', (e) => this.pick(e.target));
  }

  show(result: AttentionResult): void {
    this.result = result;
    const heads = result.maps[0]?.length ?? 0;
    this.layer.replaceChildren(...result.maps.map((_, i) => new Option(String(i), String(i))));
    this.head.replaceChildren(
      new Option('mean of heads', MEAN),
      ...Array.from({ length: heads }, (_, i) => new Option(String(i), String(i))),
    );
    this.controls.hidden = false;
    this.strip.replaceChildren(
      ...result.tokens.map((t, i) => {
        const span = document.createElement('span');
        span.textContent = viz.visibleToken(t);
        span.dataset.pos = String(i);
        span.tabIndex = 0;
        return span;
      }),
    );
    this.query = result.tokens.length - 1;
    this.draw();
  }

  /** The selected map, T x T. */
  private matrix(): Float32Array {
    const r = this.result!;
    const heads = r.maps[Number(this.layer.value)]!;
    const T = r.tokens.length;
    return this.head.value === MEAN ? viz.meanOverHeads(heads, T) : heads[Number(this.head.value)]!;
  }

  private pick(target: EventTarget | null): void {
    const pos = (target as HTMLElement | null)?.dataset?.pos;
    if (pos === undefined || Number(pos) === this.query) return;
    this.query = Number(pos);
    this.shade();
  }

  private draw(): void {
    const r = this.result;
    if (r === null) return;
    const what =
      this.head.value === MEAN ? `layer ${this.layer.value}, mean of its heads` : `layer ${this.layer.value}, head ${this.head.value}`;
    const labels = r.tokens.map((t) => viz.visibleToken(t));
    this.heatmap.innerHTML = viz.inlineSvg(viz.attentionHeatmapSvg(this.matrix(), labels, { title: `Attention: ${what}` }));
    this.shade();
  }

  /** Shades the strip by the query's row: weight relative to the row's largest. */
  private shade(): void {
    const r = this.result!;
    const T = r.tokens.length;
    const m = this.matrix();
    const row = m.subarray(this.query * T, this.query * T + T);
    let top = 0;
    for (let s = 0; s <= this.query; s++) top = Math.max(top, row[s]!);
    this.strip.querySelectorAll<HTMLElement>('span').forEach((span, s) => {
      const w = s <= this.query && top > 0 ? row[s]! / top : 0;
      span.style.setProperty('--w', w.toFixed(3));
      span.classList.toggle('query', s === this.query);
      span.classList.toggle('strong', w > 0.55);
      span.classList.toggle('future', s > this.query);
      span.title = s <= this.query ? `${(row[s]! * 100).toFixed(1)}% of position ${this.query}'s attention` : 'after the query: masked';
    });
  }
}
