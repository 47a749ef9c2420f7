/**
 * A file fetched from its public address once, checked against its SHA-256, and kept in a local cache: Tiny
 * Shakespeare, GPT-2's vocabulary files and weights. A cached copy is used only if its checksum still matches; a download
 * is cached only if it does; the cache file is written atomically, so no run ever sees half a file. Every
 * failure is one line that says how to do without the download.
 */
import { createHash } from 'node:crypto';
import { readFile, unlink } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { TsgptError } from '../errors.js';
import { oneLine } from '../validate.js';
import { writeFileAtomicSync } from './atomic_write.js';
import { makeFolder } from './make_folder.js';

/** Long enough for a slow link to move a few megabytes, short enough that a dead connection does not hang a run. */
const DOWNLOAD_TIMEOUT_MS = 120_000;

export interface PinnedFile {
  /** What it is, for messages: "Tiny Shakespeare", "GPT-2's encoder.json". */
  what: string;
  url: string;
  sha256: string;
  bytes: number;
  /** Most bytes accepted when `bytes` is the size as published rather than checked here (default: bytes). */
  limit?: number;
}

export interface DownloadOptions {
  fetchImpl: typeof fetch;
  /** Receives the lines a user should see: the download starting, a cache problem. */
  log: (line: string) => void;
  /** Told how many bytes have arrived (and how many are expected) as the download goes. */
  progress?: (received: number, total: number) => void;
  /** How to do without the download, appended to every failure: "use --data PATH ...". */
  hint: string;
}

export interface Fetched {
  bytes: Uint8Array;
  /** Where they came from, for the user: the cache file, or the URL when caching failed. */
  source: string;
}

/** The cache folder: $TSGPT_CACHE if set and not empty, else ~/.cache/tsgpt. */
export function cacheDirectory(env: NodeJS.ProcessEnv): string {
  return env.TSGPT_CACHE || join(homedir(), '.cache', 'tsgpt');
}

/** The file's bytes from the cache at `file`, or else downloaded into it. */
export async function fetchCached(pinned: PinnedFile, file: string, opts: DownloadOptions): Promise<Fetched> {
  const { what, url } = pinned;
  const cached = await readCached(file, opts.log);
  if (cached !== undefined) {
    if (sha256Hex(cached) === pinned.sha256) return { bytes: cached, source: file };
    opts.log(`cached ${file} does not match the expected checksum; downloading it again`);
  }

  opts.log(`downloading ${what} from ${url} to ${file}`);
  let bytes: Uint8Array;
  try {
    bytes = await download(pinned, opts);
  } catch (err) {
    throw new TsgptError(`downloading ${what} from ${url} failed (${errorText(err)}); ${opts.hint}`);
  }

  const digest = sha256Hex(bytes);
  if (digest !== pinned.sha256) {
    // A known-bad cache file would only cause the same download next time, so drop it.
    if (cached !== undefined) await unlink(file).catch(() => undefined);
    throw new TsgptError(
      `downloaded ${what} has sha256 ${digest} (${bytes.length} bytes), expected ` +
        `${pinned.sha256} (${pinned.bytes} bytes); nothing was cached; ${opts.hint}`,
    );
  }
  try {
    // makeFolder, not a recursive mkdir: that spins forever where mkdir answers ENOENT (/proc).
    makeFolder(dirname(file), `cache folder ${dirname(file)}`);
    writeFileAtomicSync(file, bytes);
  } catch (err) {
    // The caller can go on with the bytes in hand; only the next run pays for the failure.
    opts.log(`could not cache ${what} at ${file} (${errorText(err)}); it will be downloaded again next time`);
    return { bytes, source: url };
  }
  return { bytes, source: file };
}

/** Reads the response as it arrives, reporting progress, and stops at once if it outgrows the expected size. */
async function download(pinned: PinnedFile, opts: DownloadOptions): Promise<Uint8Array> {
  const response = await opts.fetchImpl(pinned.url, { signal: AbortSignal.timeout(DOWNLOAD_TIMEOUT_MS) });
  if (!response.ok) throw new Error(`HTTP ${response.status} ${response.statusText}`.trim());
  if (response.body === null) return new Uint8Array(await response.arrayBuffer());
  const chunks: Uint8Array[] = [];
  let received = 0;
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    received += value.length;
    // Past the expected size the checksum cannot match; a wrong address could otherwise fill the memory.
    if (received > (pinned.limit ?? pinned.bytes)) {
      await reader.cancel().catch(() => undefined);
      break;
    }
    opts.progress?.(received, pinned.bytes);
  }
  const bytes = new Uint8Array(received);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.length;
  }
  return bytes;
}

async function readCached(file: string, log: (line: string) => void): Promise<Uint8Array | undefined> {
  try {
    return await readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR') log(`cannot read cached ${file} (${errorText(err)}); downloading instead`);
    return undefined;
  }
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** An error's message on one line; Node's fetch hides the useful part (DNS failure, refused connection) in `cause`. */
export function errorText(err: unknown): string {
  let message = err instanceof Error ? err.message : String(err);
  const cause = err instanceof Error ? (err as { cause?: unknown }).cause : undefined;
  if (cause instanceof Error && cause.message && !message.includes(cause.message)) message += `: ${cause.message}`;
  return oneLine(message).replace(/\s+/g, ' ').trim();
}
