/**
 * A redraw that runs at most once per interval while requests stream in: the first at once, the next when the
 * interval since the last has passed, however many were requested in between. Every change to the page makes
 * the browser lay out, paint and composite a frame on the cores the training threads use, so the page redraws
 * its figures at a pace a person can read, not at the pace steps arrive.
 */
export class Throttled {
  private timer: ReturnType<typeof setTimeout> | null = null;
  private ranAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly intervalMs: number,
    private readonly run: () => void,
    /** Milliseconds on a monotonic clock (a test gives its own). */
    private readonly clock: () => number = () => performance.now(),
  ) {}

  /** Runs soon: at once if the interval has passed, else when it has (one run for all requests until then). */
  request(): void {
    if (this.timer !== null) return;
    const wait = Math.max(0, this.intervalMs - (this.clock() - this.ranAt));
    this.timer = setTimeout(() => this.now(), wait);
  }

  /** Runs now, and cancels a pending run: for what must show at once (an evaluation, the end of training). */
  now(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.ranAt = this.clock();
    this.run();
  }
}
