/**
 * Reading a file that may come from anyone, with its size checked before a byte is read: a run folder from a
 * stranger can hold a 50 GB "config.json", or a FIFO or device where a file should be (reading /dev/zero or a
 * pipe nobody writes to would never end). Failures are one-line TsgptErrors naming the file.
 *
 * The checks are made on the opened file, not on the path before opening it, so a file swapped for a FIFO in
 * between cannot slip through; and the open does not block, since opening a FIFO for reading would otherwise
 * wait for a writer that never comes.
 */
import { closeSync, constants, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { TsgptError } from '../errors.js';
import { decodeUtf8Text } from '../io/utf8.js';

/** The size of `path`, refusing anything but a regular file (a folder, a FIFO, a device). */
export function regularFileSize(path: string, label = path): number {
  let info: ReturnType<typeof statSync>;
  try {
    info = statSync(path);
  } catch (err) {
    throw new TsgptError(`cannot read ${label}: ${describeFsError(err)}`);
  }
  if (info.isDirectory()) throw new TsgptError(`${label} is a folder, not a file`);
  if (!info.isFile()) throw new TsgptError(`${label} is not a regular file`);
  return info.size;
}

export function readFileBounded(path: string, maxBytes: number, label = path): Uint8Array {
  const bytes = readFileBoundedIfPresent(path, maxBytes, label);
  if (bytes === null) throw new TsgptError(`cannot read ${label}: no such file`);
  return bytes;
}

/** readFileBounded, but null when there is no such file. */
export function readFileBoundedIfPresent(path: string, maxBytes: number, label = path): Uint8Array | null {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return null;
    if (code === 'EISDIR') throw new TsgptError(`${label} is a folder, not a file`);
    throw new TsgptError(`cannot read ${label}: ${describeFsError(err)}`);
  }
  try {
    const info = fstatSync(fd);
    if (info.isDirectory()) throw new TsgptError(`${label} is a folder, not a file`);
    if (!info.isFile()) throw new TsgptError(`${label} is not a regular file`);
    if (info.size > maxBytes) throw new TsgptError(`${label} is ${info.size} bytes, more than the ${maxBytes} it can be`);
    return readAtMost(fd, info.size, maxBytes, label);
  } catch (err) {
    if (err instanceof TsgptError) throw err;
    throw new TsgptError(`cannot read ${label}: ${describeFsError(err)}`);
  } finally {
    closeSync(fd);
  }
}

/** Reads to the end, but never more than maxBytes: a file that grows while it is read is refused, not followed. */
function readAtMost(fd: number, expected: number, maxBytes: number, label: string): Uint8Array {
  const chunks: Uint8Array[] = [];
  let total = 0;
  // One read of the expected size (and one more to see the end) serves every file that stays as it was.
  let chunk = new Uint8Array(Math.min(expected, maxBytes) + 1);
  for (;;) {
    const n = readSync(fd, chunk, 0, chunk.length, null);
    if (n === 0) break;
    chunks.push(chunk.subarray(0, n));
    total += n;
    if (total > maxBytes) throw new TsgptError(`${label} grew past the ${maxBytes} bytes it can be while it was read`);
    if (n === chunk.length) chunk = new Uint8Array(Math.min(maxBytes - total + 1, 1 << 20));
  }
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** The file as UTF-8 text; invalid UTF-8 is refused rather than silently replaced with U+FFFD. */
export function readTextBounded(path: string, maxBytes: number, label = path): string {
  return decodeUtf8Text(readFileBounded(path, maxBytes, label), label);
}

/** readTextBounded, but null when there is no such file. */
export function readTextBoundedIfPresent(path: string, maxBytes: number, label = path): string | null {
  const bytes = readFileBoundedIfPresent(path, maxBytes, label);
  return bytes === null ? null : decodeUtf8Text(bytes, label);
}

/** "no such file" rather than Node's "ENOENT: no such file or directory, stat '/long/path'". */
export function describeFsError(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  switch (code) {
    case 'ENOENT':
      return 'no such file';
    case 'ENOTDIR':
      return 'a parent is not a folder';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'it is a folder';
    case 'ENOSPC':
      return 'no space left on the device';
    case 'EDQUOT':
      return 'the disk quota is used up';
    case 'EROFS':
      return 'the file system is read-only';
    case 'EIO':
      return 'an input/output error (the disk or the connection to it failed)';
    case 'ELOOP':
      return 'too many symbolic links';
    case 'ENAMETOOLONG':
      return 'the name is too long';
    default:
      return (code ?? (err instanceof Error ? err.message : String(err))).replace(/\s+/g, ' ');
  }
}

/** True for an error the file system raised (it has an errno code and names the call), as opposed to a bug. */
export function isFsError(err: unknown): err is NodeJS.ErrnoException {
  return (
    !(err instanceof TsgptError) && typeof (err as NodeJS.ErrnoException)?.code === 'string' && !!(err as NodeJS.ErrnoException).syscall
  );
}
