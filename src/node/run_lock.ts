/**
 * One trainer per run folder: two processes saving into the same folder would delete each other's snapshots.
 * The lock is a file holding the owner's process id, created exclusively; a lock whose process is gone (the
 * trainer was killed, or the machine rebooted) is stale and taken over, so a kill never leaves a folder that
 * cannot be resumed.
 */
import { closeSync, openSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { TsgptError } from '../errors.js';
import { describeFsError, readTextBounded } from './read_bounded.js';
import { LOCK_FILE } from './run_folder.js';

export interface RunLock {
  release(): void;
}

export function lockRunFolder(dir: string): RunLock {
  const path = join(dir, LOCK_FILE);
  for (let attempt = 0; attempt < 3; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, 'wx');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new TsgptError(`cannot lock run folder ${dir}: ${describeFsError(err)}`);
      refuseIfTraining(dir);
      // Stale (or unreadable: a kill between creating and writing it): take it over and try again.
      try {
        unlinkSync(path);
      } catch {
        // Someone else removed it first; the next attempt settles who owns it.
      }
      continue;
    }
    try {
      writeSync(fd, `${process.pid}\n`);
    } catch (err) {
      // A full disk takes the empty file but not the process id: leave no lock that names nobody.
      try {
        unlinkSync(path);
      } catch {
        // The error worth reporting is the write's.
      }
      throw new TsgptError(`cannot lock run folder ${dir}: ${describeFsError(err)}`);
    } finally {
      closeSync(fd);
    }
    let released = false;
    return {
      release() {
        if (released) return;
        released = true;
        try {
          if (readOwner(path) === process.pid) unlinkSync(path);
        } catch {
          // Already gone: nothing to release.
        }
      },
    };
  }
  throw new TsgptError(`cannot lock run folder ${dir}: another process keeps taking the lock`);
}

/**
 * Refuses a folder that a live trainer holds, without taking the lock: for reading a run (to resume it) before
 * locking it, since the trainer replaces its snapshots as it goes and a reader could catch one half-deleted.
 */
export function refuseIfTraining(dir: string): void {
  const owner = readOwner(join(dir, LOCK_FILE));
  if (owner !== null && owner !== process.pid && isAlive(owner)) {
    throw new TsgptError(`another tsgpt (process ${owner}) is training in ${dir}; wait for it or stop it first`);
  }
}

/** The process id in a lock file; null when there is none, or the lock is not a small regular file holding one. */
function readOwner(path: string): number | null {
  try {
    const pid = Number(readTextBounded(path, 64).trim());
    return Number.isSafeInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else, which is alive all the same.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
