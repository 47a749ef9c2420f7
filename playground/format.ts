/** Numbers and durations as the page shows them. */

/** 12345.6 -> "12,346". */
export function whole(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** Seconds as "45 s", "3:07", "1:02:03". */
export function duration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '–';
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  const h = Math.floor(s / 3600),
    m = Math.floor((s % 3600) / 60),
    r = s % 60;
  const two = (x: number) => String(x).padStart(2, '0');
  return h > 0 ? `${h}:${two(m)}:${two(r)}` : `${m}:${two(r)}`;
}

/** 812345 -> "0.81M", as nanoGPT prints parameter counts; below 100,000 the count itself ("4,225"). */
export function parameterCount(n: number): string {
  return n < 1e5 ? whole(n) : `${(n / 1e6).toFixed(2)}M`;
}

/** 1 -> "1 layer", 4 -> "4 layers". */
export function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}
