import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { TsgptError } from '../errors.js';
import { describeFsError } from './read_bounded.js';

/** Every temporary name made here contains this, so a later cleanup can recognise leftovers of a killed writer. */
export const TEMP_MARK = '.tmp-';

/** Test hooks: called between the stages of a write, so a test can stretch the window a kill may land in. */
export interface WriteHooks {
  /** After the data is written and flushed, before the rename that publishes it. */
  beforeRename?(): void;
}

/**
 * Replaces `path` with `data` so that a reader, or the file after a crash or power loss, sees either the old
 * content or the new one, never a torn mix: a checkpoint interrupted mid-write must not destroy the last good one.
 *
 * The temporary file sits in the target's directory because rename is only atomic within one file system.
 * Errors are rethrown unchanged (after cleaning up) so callers can word them for their own context.
 */
export function writeFileAtomicSync(path: string, data: Uint8Array | string, hooks: WriteHooks = {}): void {
  const dir = dirname(path);
  const tmp = tempSibling(path);
  let fd: number | undefined;
  try {
    // 'wx' so that we never write through a file someone else created under the same name.
    fd = openSync(tmp, 'wx', 0o666);
    writeFileSync(fd, data);
    // Without this the rename could reach the disk before the data does, leaving an empty file after a crash.
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    hooks.beforeRename?.();
    renameSync(tmp, path);
  } catch (err) {
    if (fd !== undefined) {
      try {
        closeSync(fd);
      } catch {
        // The original error is the one worth reporting.
      }
    }
    try {
      unlinkSync(tmp);
    } catch {
      // Most often the temp file was never created; either way the original error matters more.
    }
    throw err;
  }
  syncDirectory(dir);
}

/** writeFileAtomicSync for a file the user named (an SVG, a page), with a failure as one clear line. */
export function writeTextFile(path: string, content: string): void {
  try {
    writeFileAtomicSync(path, content);
  } catch (err) {
    throw new TsgptError(`cannot write ${path}: ${describeFsError(err)}`);
  }
}

/**
 * Creates the folder `path` holding exactly `files`, all or nothing: the files are written and flushed inside a
 * temporary sibling folder, which is then renamed to `path`. A reader (or the disk after a crash) sees no folder
 * or the whole folder, never some of its files. `path` must not exist: renaming over a non-empty folder is not
 * atomic anywhere, so callers give each snapshot a new name instead.
 */
export function writeFolderAtomicSync(path: string, files: readonly [string, Uint8Array | string][], hooks: WriteHooks = {}): void {
  const tmp = tempSibling(path);
  try {
    mkdirSync(tmp);
    for (const [name, data] of files) {
      const fd = openSync(join(tmp, name), 'wx', 0o666);
      try {
        writeFileSync(fd, data);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    }
    // The entries of the folder must be durable before the folder's new name is.
    syncDirectory(tmp);
    hooks.beforeRename?.();
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
  syncDirectory(dirname(path));
}

/**
 * Deletes a file or folder tree so that, if interrupted, what is left is only ever under a temporary name:
 * first an atomic rename out of the way, then the (non-atomic) removal.
 */
export function removeAtomicSync(path: string): void {
  const doomed = tempSibling(path);
  try {
    renameSync(path, doomed);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  rmSync(doomed, { recursive: true, force: true });
}

/** A fresh name beside `path`: hidden, marked as temporary, unique to this process and call. */
function tempSibling(path: string): string {
  return join(dirname(path), `.${basename(path)}${TEMP_MARK}${process.pid}-${randomBytes(6).toString('hex')}`);
}

/** Makes the rename itself durable; some platforms (Windows, some network file systems) cannot, and that is fine. */
export function syncDirectory(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (!['EINVAL', 'EISDIR', 'EPERM', 'EACCES', 'ENOTSUP', 'EBADF'].includes(code ?? '')) throw err;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
