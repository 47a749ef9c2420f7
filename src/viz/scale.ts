/**
 * Axis arithmetic: "nice" tick values (1, 2 or 5 times a power of ten) and how many decimals their labels
 * need, so that axes read 1.5, 2.0, 2.5 rather than 1.4837, 2.0293.
 */

export interface Ticks {
  /** The axis range, widened to whole ticks when `extend` was asked for. */
  lo: number;
  hi: number;
  step: number;
  values: number[];
}

/** The nice step for splitting `span` into about `count` parts. */
export function niceStep(span: number, count: number): number {
  const raw = span / Math.max(1, count);
  const power = 10 ** Math.floor(Math.log10(raw));
  const m = raw / power;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * power;
}

/**
 * Ticks for [lo, hi] with about `count` intervals. With `extend` the range grows outward to the nearest
 * ticks (a loss axis then starts and ends on a label); without it the range is kept (a step axis ends at the
 * last step). An empty or single-value range is widened so that an axis can always be drawn.
 */
export function niceTicks(lo: number, hi: number, count: number, extend: boolean): Ticks {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) [lo, hi] = [0, 1];
  if (hi < lo) [lo, hi] = [hi, lo];
  if (hi - lo < 1e-12) {
    const pad = Math.abs(lo) > 1e-6 ? Math.abs(lo) * 0.1 : 1;
    [lo, hi] = [lo - pad, hi + pad];
  }
  const step = niceStep(hi - lo, count);
  if (extend) {
    lo = Math.floor(lo / step + 1e-9) * step;
    hi = Math.ceil(hi / step - 1e-9) * step;
  }
  const values: number[] = [];
  const first = Math.ceil(lo / step - 1e-9);
  const last = Math.floor(hi / step + 1e-9);
  // Multiplying the index (not accumulating the step) keeps 0.1 + 0.2 style drift out of the labels.
  for (let i = first; i <= last; i++) values.push(roundTo(i * step, step));
  return { lo, hi, step, values };
}

/** A tick label: as many decimals as the tick step needs, and no more. */
export function formatTick(value: number, step: number): string {
  return value.toFixed(decimalsFor(step));
}

export function decimalsFor(step: number): number {
  if (!(step > 0) || step >= 1) return 0;
  return Math.min(10, Math.max(0, Math.ceil(-Math.log10(step) - 1e-9)));
}

function roundTo(value: number, step: number): number {
  const d = decimalsFor(step) + 2;
  return Number(value.toFixed(d));
}

/** A linear map from a data range onto a pixel range (which may run backwards, as a y axis does). */
export function linearScale(d0: number, d1: number, r0: number, r1: number): (v: number) => number {
  const k = d1 === d0 ? 0 : (r1 - r0) / (d1 - d0);
  return (v) => r0 + (v - d0) * k;
}
