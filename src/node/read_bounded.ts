/**
 * Reading a file that may come from anyone, with its size checked before a byte is read: a run folder from a
 * stranger can hold a 50 GB "config.json", or a FIFO or device where a file should be (reading /dev/zero or a
 * pipe nobody writes to would never end). Failures are one-line TsgptErrors naming the file.
 */
import { readFileSync, statSync } from 'node:fs';
import { TsgptError } from '../errors.js';

export function readFileBounded(path: string, maxBytes: number, label = path): Uint8Array {
  let size: number;
  try {
    const info = statSync(path);
    if (!info.isFile()) throw new TsgptError(`${label} is not a regular file`);
    size = info.size;
  } catch (err) {
    if (err instanceof TsgptError) throw err;
    throw new TsgptError(`cannot read ${label}: ${describeFsError(err)}`);
  }
  if (size > maxBytes) throw new TsgptError(`${label} is ${size} bytes, more than the ${maxBytes} it can be`);
  try {
    return readFileSync(path);
  } catch (err) {
    throw new TsgptError(`cannot read ${label}: ${describeFsError(err)}`);
  }
}

/** The file as UTF-8 text; invalid UTF-8 is refused rather than silently replaced with U+FFFD. */
export function readTextBounded(path: string, maxBytes: number, label = path): string {
  const bytes = readFileBounded(path, maxBytes, label);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new TsgptError(`${label} is not valid UTF-8 text`);
  }
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
    case 'EROFS':
      return 'the file system is read-only';
    default:
      return (code ?? (err instanceof Error ? err.message : String(err))).replace(/\s+/g, ' ');
  }
}
