/**
 * log.jsonl: one JSON object a line (start, every step, every evaluation, resume, end). Lines are appended as
 * training goes, so a kill can leave the last one torn, and a run resumed from an earlier snapshot would list
 * the steps after that snapshot twice. Resuming therefore rewrites the log first: whole lines only, none past
 * the step training continues from, so the log of an interrupted run reads like that of an uninterrupted one.
 *
 * A new run holds its lines until its first checkpoint is saved: the folder may hold a finished run, whose log
 * must not change before the new run has something to replace it with.
 */
import { appendFileSync } from 'node:fs';
import { writeFileAtomicSync } from './atomic_write.js';
import { readTextBoundedIfPresent } from './read_bounded.js';

/**
 * Far beyond a real log (a step's line is about 150 bytes: this is over a million steps) and below the longest
 * string JavaScript can hold, which a log linked to /dev/zero or grown without end would otherwise run into.
 */
export const MAX_LOG_BYTES = 256 * 1024 * 1024;

export class RunLog {
  /** Lines not yet in the file (a new run before its first checkpoint), or null once the file is the log. */
  private held: string[] | null;

  private constructor(
    readonly path: string,
    held: string[] | null,
  ) {
    this.held = held;
  }

  /** A new run's log: its lines are held until publish(). */
  static held(path: string): RunLog {
    return new RunLog(path, []);
  }

  /** Keeps the whole lines up to `step` (lines without a step, like "start", stay) and drops the rest. */
  static resumed(path: string, step: number): RunLog {
    const kept: string[] = [];
    for (const line of (readLogText(path) ?? '').split('\n')) {
      let entry: unknown;
      try {
        entry = JSON.parse(line);
      } catch {
        continue; // torn by a kill, or empty
      }
      if (typeof entry !== 'object' || entry === null) continue;
      const s = (entry as { step?: unknown }).step;
      if (typeof s === 'number' && s > step) continue;
      kept.push(line);
    }
    writeFileAtomicSync(path, kept.map((l) => `${l}\n`).join(''));
    return new RunLog(path, null);
  }

  get published(): boolean {
    return this.held === null;
  }

  append(entry: object): void {
    const line = `${JSON.stringify(entry)}\n`;
    if (this.held !== null) this.held.push(line);
    else appendFileSync(this.path, line);
  }

  /** Writes the held lines as the whole log (replacing any older one at once); later lines are appended. */
  publish(): void {
    if (this.held === null) return;
    writeFileAtomicSync(this.path, this.held.join(''));
    this.held = null;
  }
}

/** The log's text, or null when there is none; a log that is not a regular file or is too big is refused. */
export function readLogText(path: string): string | null {
  return readTextBoundedIfPresent(path, MAX_LOG_BYTES);
}
