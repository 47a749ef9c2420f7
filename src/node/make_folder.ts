/**
 * `mkdir -p` that says why it failed. Node's recursive mkdir goes wrong at two edges: on a read-only file
 * system it reports the missing parent ("no such file") instead of the read-only one, and where mkdir answers
 * ENOENT although the parent exists (/proc, which takes no new folders) it retries forever at full CPU.
 * Here the deepest folder that exists is found first, going up, and the missing ones are made one by one going
 * down, so each step is tried once and its own error is the one reported.
 */
import { mkdirSync, rmdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { TsgptError } from '../errors.js';
import { describeFsError } from './read_bounded.js';

/**
 * Makes `path` and its missing parents; `label` names it for the message ("run folder runs/baby"). Returns the
 * folders it made, outermost first, for a caller that wants to take them back when it fails.
 */
export function makeFolder(path: string, label: string): string[] {
  const missing: string[] = [];
  let at = resolve(path);
  for (;;) {
    try {
      if (!statSync(at).isDirectory()) throw new TsgptError(`cannot create ${label}: ${at} is a file, not a folder`);
      break;
    } catch (err) {
      if (err instanceof TsgptError) throw err;
      const parent = dirname(at);
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || parent === at) {
        throw new TsgptError(`cannot create ${label}: ${describeFsError(err)}`);
      }
      missing.push(at);
      at = parent;
    }
  }
  const made: string[] = [];
  for (const folder of missing.reverse()) {
    try {
      mkdirSync(folder);
      made.push(folder);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST' && isFolder(folder)) continue; // made by someone else meanwhile
      // The parent exists (it was just found or made), so ENOENT means its file system makes no folders there.
      const reason = code === 'ENOENT' ? `${dirname(folder)} does not take new folders` : describeFsError(err);
      throw new TsgptError(`cannot create ${label}: ${reason}`);
    }
  }
  return made;
}

/** Removes the folders makeFolder made, innermost first, as long as they are empty (or already gone). */
export function removeEmptyFolders(made: readonly string[]): void {
  for (const folder of [...made].reverse()) {
    try {
      rmdirSync(folder);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return; // not empty: what is in it stays
    }
  }
}

/** True when `path` is a folder; false when it is anything else, missing or unreadable. */
export function isFolder(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
