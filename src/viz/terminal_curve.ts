/**
 * The loss curve as a few lines of plain text for the end of `tsgpt train`: the validation loss drawn with
 * Braille dots (each character holds a 2 x 4 grid of dots, so 4 lines give 16 rows of resolution), the
 * training loss as a one-line bar sparkline under it on the same step axis, and min/max labels on both.
 * About 80 columns wide by default, so it fits a standard terminal without wrapping.
 * Nothing but characters: it reads the same in a terminal, a log file or CI output.
 */
import { bestEval, type LossLog } from './loss_log.js';

export interface TerminalCurveOptions {
  /** Characters across the plot. */
  width?: number;
  /** Lines of Braille for the validation loss. */
  rows?: number;
}

/** Bit of each dot in a Braille cell, by [column][row] (Unicode's dot numbering: 1-2-3-7 down the left). */
const DOT_BITS = [
  [0x01, 0x02, 0x04, 0x40],
  [0x08, 0x10, 0x20, 0x80],
] as const;
const BARS = '▁▂▃▄▅▆▇█';

export function terminalLossCurve(log: LossLog, options: TerminalCurveOptions = {}): string {
  const width = Math.max(8, Math.floor(options.width ?? 44));
  const rows = Math.max(2, Math.floor(options.rows ?? 4));
  const val = log.evals.filter((e) => Number.isFinite(e.valLoss)).map((e) => ({ step: e.step, v: e.valLoss }));
  const train =
    log.steps.length > 0
      ? log.steps.filter((p) => Number.isFinite(p.loss)).map((p) => ({ step: p.step, v: p.loss }))
      : log.evals.filter((e) => Number.isFinite(e.trainLoss)).map((e) => ({ step: e.step, v: e.trainLoss }));
  if (val.length === 0 && train.length === 0) return 'loss curve: no losses logged';

  const all = [...val, ...train];
  const s0 = Math.min(...all.map((p) => p.step)),
    s1 = Math.max(...all.map((p) => p.step));
  const column = (step: number, columns: number) => (s1 === s0 ? 0 : Math.round(((step - s0) / (s1 - s0)) * (columns - 1)));

  const lines: string[] = [];
  const labels = [...val, ...train].map((p) => p.v.toFixed(4));
  const numW = Math.max(...labels.map((l) => l.length));
  const head = (name: string, value: string) => `${name.padEnd(10)} ${value.padStart(numW)} `;
  if (val.length > 0) {
    const lo = Math.min(...val.map((p) => p.v)),
      hi = Math.max(...val.map((p) => p.v));
    const dotW = width * 2,
      dotH = rows * 4;
    const cells = new Uint8Array(width * rows);
    const plot = (dx: number, dy: number) => {
      cells[Math.floor(dy / 4) * width + Math.floor(dx / 2)]! |= DOT_BITS[dx % 2]![dy % 4]!;
    };
    const dotY = (v: number) => (hi === lo ? Math.floor(dotH / 2) : Math.round(((hi - v) / (hi - lo)) * (dotH - 1)));
    let prev: [number, number] | null = null;
    for (const p of val) {
      const cur: [number, number] = [column(p.step, dotW), dotY(p.v)];
      if (prev === null) plot(cur[0], cur[1]);
      else {
        // Enough samples along the segment that no dot column or row is skipped: the line stays connected.
        const n = Math.max(Math.abs(cur[0] - prev[0]), Math.abs(cur[1] - prev[1]), 1);
        for (let k = 1; k <= n; k++) {
          plot(Math.round(prev[0] + ((cur[0] - prev[0]) * k) / n), Math.round(prev[1] + ((cur[1] - prev[1]) * k) / n));
        }
      }
      prev = cur;
    }
    for (let r = 0; r < rows; r++) {
      let row = '';
      for (let c = 0; c < width; c++) row += cells[r * width + c] === 0 ? ' ' : String.fromCharCode(0x2800 + cells[r * width + c]!);
      const name = r === 0 ? 'val loss' : '';
      const value = r === 0 ? hi.toFixed(4) : r === rows - 1 ? lo.toFixed(4) : '';
      lines.push((head(name, value) + (value === '' ? '│' : '┤') + row).trimEnd());
    }
  }
  const first = String(s0),
    last = String(s1);
  lines.push(`${head('', '')} ${(`step ${first}`).padEnd(Math.max(0, width - last.length))}${last}`);
  if (train.length > 0) {
    // Each character is the mean training loss of the steps that fall in its column.
    const sum = new Float64Array(width),
      count = new Uint32Array(width);
    for (const p of train) {
      const c = column(p.step, width);
      sum[c]! += p.v;
      count[c]!++;
    }
    const means = Array.from(sum, (s, c) => (count[c] === 0 ? NaN : s / count[c]!));
    const present = means.filter((v) => Number.isFinite(v));
    const lo = Math.min(...present),
      hi = Math.max(...present);
    const spark = means
      .map((v) => {
        if (!Number.isFinite(v)) return ' ';
        const level = hi === lo ? 3 : Math.round(((v - lo) / (hi - lo)) * (BARS.length - 1));
        return BARS[level]!;
      })
      .join('');
    lines.push(`${head('train loss', '')} ${spark}  ${lo.toFixed(4)}–${hi.toFixed(4)}`);
  }
  const best = bestEval(log);
  if (best !== null) lines.push(`best validation loss ${best.valLoss.toFixed(4)} at step ${best.step}`);
  return lines.join('\n');
}
