/**
 * The training progress line: step, bar, loss, tokens per second, ETA. On a terminal it redraws one line in
 * place; into a file or a CI log it prints a plain line every `every` steps instead, so logs stay readable.
 */
export interface ProgressStream {
  write(s: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export class ProgressBar {
  private readonly started = performance.now();
  private msPerStep: number | null = null;
  private lastLine = '';
  private readonly every: number;

  constructor(
    private readonly total: number,
    private readonly stream: ProgressStream,
    private readonly firstStep = 0,
    /** What update()'s count measures, for the rate's label (tokens, pairs). */
    private readonly unit = 'tok',
  ) {
    this.every = Math.max(1, Math.round(total / 20));
  }

  /** Called after each step with the time it took (ms) and the tokens (or other units) it processed. */
  update(step: number, loss: number, stepMs: number, tokens: number): void {
    // A moving average: the ETA follows the current speed without jumping with every step.
    this.msPerStep = this.msPerStep === null ? stepMs : 0.9 * this.msPerStep + 0.1 * stepMs;
    const tokensPerSec = (tokens / this.msPerStep) * 1000;
    const eta = formatDuration(((this.total - step) * this.msPerStep) / 1000);
    const fields = `loss ${loss.toFixed(4)} | ${Math.round(tokensPerSec).toLocaleString('en-US')} ${this.unit}/s | ETA ${eta}`;
    const counter = `step ${step}/${this.total}`;
    if (this.stream.isTTY) {
      const width = Math.max(10, Math.min(30, (this.stream.columns ?? 100) - counter.length - fields.length - 8));
      const filled = Math.round((width * step) / Math.max(this.total, 1));
      const bar = '█'.repeat(filled) + '░'.repeat(width - filled);
      this.lastLine = `${counter} ${bar} ${fields}`;
      this.stream.write(`\r\x1b[2K${this.lastLine}`);
    } else if (step === this.total || (step - this.firstStep) % this.every === 0) {
      this.stream.write(`${counter} | ${fields}\n`);
    }
  }

  /** Prints a line above the bar (an evaluation result) without breaking the redraw. */
  log(line: string): void {
    if (this.stream.isTTY && this.lastLine) this.stream.write(`\r\x1b[2K${line}\n${this.lastLine}`);
    else this.stream.write(`${line}\n`);
  }

  /** Ends the bar's line; returns the wall time since the bar started, in seconds. */
  finish(): number {
    if (this.stream.isTTY && this.lastLine) this.stream.write('\n');
    this.lastLine = '';
    return (performance.now() - this.started) / 1000;
  }
}

/**
 * A bar for work counted in items (a text's positions, a memory's keys): what it is doing, done/total, items per
 * second and ETA; redrawn in place on a terminal, a plain line every 5% elsewhere.
 */
export class CountBar {
  private readonly started = performance.now();
  private nextLine = 0;

  constructor(
    private readonly label: string,
    private readonly total: number,
    private readonly stream: ProgressStream,
    private readonly unit = 'positions',
  ) {}

  update(done: number): void {
    const seconds = (performance.now() - this.started) / 1000;
    const rate = seconds > 0 ? done / seconds : 0;
    const eta = rate > 0 ? formatDuration((this.total - done) / rate) : '?';
    const counter = `${this.label} ${done.toLocaleString('en-US')}/${this.total.toLocaleString('en-US')} ${this.unit}`;
    const fields = `${Math.round(rate).toLocaleString('en-US')} ${this.unit}/s | ETA ${eta}`;
    if (this.stream.isTTY) {
      const width = Math.max(10, Math.min(30, (this.stream.columns ?? 100) - counter.length - fields.length - 8));
      const filled = Math.round((width * done) / Math.max(this.total, 1));
      this.stream.write(`\r\x1b[2K${counter} ${'█'.repeat(filled)}${'░'.repeat(width - filled)} ${fields}`);
    } else if (done >= this.nextLine || done === this.total) {
      this.stream.write(`${counter} | ${fields}\n`);
      this.nextLine = done + Math.max(1, Math.round(this.total / 20));
    }
  }

  /** Ends the bar's line; returns the seconds since it started. */
  finish(): number {
    if (this.stream.isTTY) this.stream.write('\n');
    return (performance.now() - this.started) / 1000;
  }
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/**
 * A download's progress for stderr: on a terminal, the percentage redrawn on one line (cleared by `done`);
 * elsewhere nothing, since fetchCached already logs the download's start.
 */
export function downloadProgress(stream: ProgressStream = process.stderr): {
  progress: ((received: number, total: number) => void) | undefined;
  done: () => void;
} {
  let drawn = false;
  const progress = stream.isTTY
    ? (received: number, total: number) => {
        stream.write(`\r\x1b[2K  ${Math.floor((100 * received) / total)}% of ${total.toLocaleString('en-US')} bytes`);
        drawn = true;
      }
    : undefined;
  return {
    progress,
    done: () => {
      if (drawn) stream.write('\r\x1b[2K');
      drawn = false;
    },
  };
}
