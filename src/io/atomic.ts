import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';

/**
 * Replaces `path` with `data` so that a reader, or the file after a crash or power loss, sees either the old
 * content or the new one, never a torn mix: a checkpoint interrupted mid-write must not destroy the last good one.
 *
 * The temporary file sits in the target's directory because rename is only atomic within one file system.
 * Errors are rethrown unchanged (after cleaning up) so callers can word them for their own context.
 */
export function writeFileAtomicSync(path: string, data: Uint8Array | string): void {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
  let fd: number | undefined;
  try {
    // 'wx' so that we never write through a file someone else created under the same name.
    fd = openSync(tmp, 'wx', 0o666);
    writeFileSync(fd, data);
    // Without this the rename could reach the disk before the data does, leaving an empty file after a crash.
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
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

/** Makes the rename itself durable; some platforms (Windows, some network file systems) cannot, and that is fine. */
function syncDirectory(dir: string): void {
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
