/**
 * Colours. Runs get the Okabe-Ito palette, chosen to stay distinguishable for the common forms of colour
 * blindness; attention weights get a white-to-dark-blue ramp, so zero attention is blank paper.
 */

const RUN_COLOURS = ['#0072b2', '#d55e00', '#009e73', '#cc79a7', '#e69f00', '#56b4e9', '#000000', '#999933'];

/** The colour of the i-th run in a plot (cycling after eight; the legend still tells them apart by name). */
export function runColour(i: number): string {
  return RUN_COLOURS[((i % RUN_COLOURS.length) + RUN_COLOURS.length) % RUN_COLOURS.length]!;
}

/** Stops of the ramp, light to dark, as [r, g, b]. */
const RAMP: [number, number, number][] = [
  [247, 251, 255],
  [198, 219, 239],
  [107, 174, 214],
  [33, 113, 181],
  [8, 48, 107],
];

/**
 * Where a weight in [0, 1] sits on the colour ramp. A square root rather than a straight line: over T
 * positions a uniform row is only 1/T per cell, and on a linear ramp all of that would look white.
 */
export function weightToRamp(w: number): number {
  return Math.sqrt(Math.min(1, Math.max(0, Number.isFinite(w) ? w : 0)));
}

/** The inverse of weightToRamp, for placing labels along the colour bar. */
export function rampToWeight(r: number): number {
  return r * r;
}

/** The colour of an attention weight in [0, 1], as #rrggbb. */
export function weightColour(w: number): string {
  const pos = weightToRamp(w) * (RAMP.length - 1);
  const i = Math.min(RAMP.length - 2, Math.floor(pos));
  const f = pos - i;
  const a = RAMP[i]!,
    b = RAMP[i + 1]!;
  const hex = (k: number) =>
    Math.round(a[k]! + (b[k]! - a[k]!) * f)
      .toString(16)
      .padStart(2, '0');
  return `#${hex(0)}${hex(1)}${hex(2)}`;
}
