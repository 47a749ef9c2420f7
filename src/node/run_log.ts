/**
 * log.jsonl: one JSON object a line (start, every step, every evaluation, resume, end). Lines are appended as
 * training goes, so a kill can leave the last one torn, and a run resumed from an earlier snapshot would list
 * the steps after that snapshot twice. Resuming therefore rewrites the log first: whole lines only, none past
 * the step training continues from, so the log of an interrupted run reads like that of an uninterrupted one.
 */
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { writeFileAtomicSync } from './atomic_write.js';

export class RunLog {
  constructor(readonly path: string) {}

  /** A new run starts a new log. */
  static fresh(path: string): RunLog {
    writeFileAtomicSync(path, '');
    return new RunLog(path);
  }

  /** Keeps the whole lines up to `step` (lines without a step, like "start", stay) and drops the rest. */
  static resumed(path: string, step: number): RunLog {
    const kept: string[] = [];
    if (existsSync(path)) {
      for (const line of readFileSync(path, 'utf8').split('\n')) {
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
    }
    writeFileAtomicSync(path, kept.map((l) => `${l}\n`).join(''));
    return new RunLog(path);
  }

  append(entry: object): void {
    appendFileSync(this.path, `${JSON.stringify(entry)}\n`);
  }
}
