/**
 * Everything the commands print on standard output goes through writeStdout: a synchronous write whose failure
 * is known at once. process.stdout reports a closed pipe or a full disk by an 'error' event, which cannot fire
 * while a synchronous loop (sampling) holds the thread: `tsgpt sample --tokens 10000 | head -c 5` went on
 * generating to the end, and a full disk ended in a stack trace.
 */
import { writeSync } from 'node:fs';
import { TsgptError } from '../errors.js';
import { describeFsError } from '../node/read_bounded.js';

/**
 * The reader of standard output has gone (a closed pipe or socket). The command stops where it is and tsgpt
 * exits quietly with status 0, as `head` expects of the tools before it; nothing more can be said to a reader
 * that is gone.
 */
export class OutputClosed extends Error {
  constructor() {
    super('standard output was closed by its reader');
  }
}

const STDOUT = 1;
/** A non-blocking stdout (shared with a parent that made it so) that is full: wait this long and try again. */
const FULL_PIPE_WAIT_MS = 2;
const sleeper = new Int32Array(new SharedArrayBuffer(4));

export function writeStdout(text: string): void {
  const bytes = Buffer.from(text, 'utf8');
  let done = 0;
  while (done < bytes.length) {
    try {
      done += writeSync(STDOUT, bytes, done, bytes.length - done);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') {
        Atomics.wait(sleeper, 0, 0, FULL_PIPE_WAIT_MS);
        continue;
      }
      if (code === 'EPIPE' || code === 'ECONNRESET') throw new OutputClosed();
      throw new TsgptError(`cannot write to standard output: ${describeFsError(err)}`);
    }
  }
}
