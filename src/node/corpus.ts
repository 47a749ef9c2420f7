/**
 * Finding the training text: a file the user names, or Tiny Shakespeare fetched once into a local cache.
 * This is a Node edge: it reads files, environment variables and the network, which the browser build does not.
 */
import { createHash } from 'node:crypto';
import { readFile, stat, unlink } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { TsgptError, check } from '../errors.js';
import { oneLine } from '../validate.js';
import { writeFileAtomicSync } from './atomic_write.js';
import { makeFolder } from './make_folder.js';

export const TINY_SHAKESPEARE = {
  url: 'https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt',
  sha256: '86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed',
  bytes: 1115394,
} as const;

const CACHE_FILE_NAME = 'tinyshakespeare.txt';

/** Long enough for a slow link to move a megabyte, short enough that a dead connection does not hang a run. */
const DOWNLOAD_TIMEOUT_MS = 120_000;

/**
 * The whole corpus becomes one JavaScript string, and V8 caps strings at about 2^29 UTF-16 units; UTF-8 never
 * takes fewer bytes than UTF-16 units, so a byte limit under that cap guarantees the decode cannot fail.
 */
const MAX_CORPUS_BYTES = 500_000_000;

export interface LoadCorpusOptions {
  /** A UTF-8 text file to train on; wins over everything else. */
  path?: string;
  /** Where TSGPT_DATA and TSGPT_CACHE are looked up; defaults to process.env. */
  env?: NodeJS.ProcessEnv;
  /** Where Tiny Shakespeare is kept; defaults to $TSGPT_CACHE, else ~/.cache/tsgpt. */
  cacheDir?: string;
  fetchImpl?: typeof fetch;
  /** Receives progress lines (downloads, cache problems); defaults to stderr. */
  log?: (line: string) => void;
}

export interface Corpus {
  text: string;
  /** Where the text came from, for the user: a file path or the download URL. */
  source: string;
}

export async function loadCorpus(opts: LoadCorpusOptions = {}): Promise<Corpus> {
  const env = opts.env ?? process.env;
  const log = opts.log ?? ((line: string) => void process.stderr.write(`${line}\n`));
  if (opts.path !== undefined) {
    return { text: await readTextFile(opts.path, opts.path), source: opts.path };
  }
  // An empty variable is treated as unset, the way shells make `TSGPT_DATA= tsgpt ...` mean "no override".
  const fromEnv = env.TSGPT_DATA;
  if (fromEnv) {
    return { text: await readTextFile(fromEnv, `${fromEnv} (from TSGPT_DATA)`), source: fromEnv };
  }
  const cacheDir = opts.cacheDir ?? (env.TSGPT_CACHE || join(homedir(), '.cache', 'tsgpt'));
  return loadTinyShakespeare(cacheDir, opts.fetchImpl ?? fetch, log);
}

/** `label` names the file in messages, including where its path came from. */
async function readTextFile(path: string, label: string): Promise<string> {
  check(path !== '', 'the data file path is empty');
  let bytes: Uint8Array;
  try {
    const info = await stat(path);
    check(!info.isDirectory(), () => `${label} is a directory, not a text file`);
    // A FIFO or device (a pipe, /dev/zero) could be read forever; only a regular file has a size to check.
    check(info.isFile(), () => `${label} is not a regular file`);
    check(
      info.size <= MAX_CORPUS_BYTES,
      () => `${label} is ${info.size} bytes; tsgpt holds the corpus in memory and reads at most ${MAX_CORPUS_BYTES}`,
    );
    bytes = await readFile(path);
  } catch (err) {
    if (err instanceof TsgptError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new TsgptError(`data file not found: ${label}`);
    if (code === 'EACCES' || code === 'EPERM') throw new TsgptError(`no permission to read data file ${label}`);
    throw new TsgptError(`cannot read data file ${label}: ${errorText(err)}`);
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new TsgptError(`${label} is not valid UTF-8 text (byte offset ${invalidUtf8Offset(bytes)})`);
  }
  // Counted in code points (a UTF-8 BOM alone decodes to nothing), looking only at the start of a long text.
  const characters = [...text.slice(0, 4)].length;
  const need = 'a corpus needs at least two characters, an input and the character that follows it';
  check(characters > 0, () => `${label} is empty: ${need}`);
  check(characters > 1, () => `${label} holds a single character: ${need}`);
  return text;
}

/**
 * Where the first malformed UTF-8 sequence starts. TextDecoder only says that decoding failed; pointing at the
 * byte lets the user find a stray Latin-1 character or a binary file they picked by mistake.
 */
export function invalidUtf8Offset(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const lead = bytes[i]!;
    if (lead < 0x80) {
      i++;
      continue;
    }
    let trailing: number;
    // The second byte's range is narrower after some leads: that is what excludes overlong forms, UTF-16
    // surrogates (ED A0..BF) and code points above U+10FFFF.
    let lo = 0x80;
    let hi = 0xbf;
    if (lead >= 0xc2 && lead <= 0xdf) trailing = 1;
    else if (lead >= 0xe0 && lead <= 0xef) trailing = 2;
    else if (lead >= 0xf0 && lead <= 0xf4) trailing = 3;
    else return i;
    if (lead === 0xe0) lo = 0xa0;
    else if (lead === 0xed) hi = 0x9f;
    else if (lead === 0xf0) lo = 0x90;
    else if (lead === 0xf4) hi = 0x8f;
    if (i + trailing >= bytes.length) return i;
    const second = bytes[i + 1]!;
    if (second < lo || second > hi) return i;
    for (let k = 2; k <= trailing; k++) {
      if ((bytes[i + k]! & 0xc0) !== 0x80) return i;
    }
    i += trailing + 1;
  }
  return -1;
}

async function loadTinyShakespeare(cacheDir: string, fetchImpl: typeof fetch, log: (line: string) => void): Promise<Corpus> {
  const file = join(cacheDir, CACHE_FILE_NAME);
  const cached = await readCached(file, log);
  if (cached !== undefined) {
    if (sha256Hex(cached) === TINY_SHAKESPEARE.sha256) return { text: decodeUtf8(cached), source: file };
    log(`cached ${file} does not match the expected checksum; downloading it again`);
  }

  const url = TINY_SHAKESPEARE.url;
  const hint = 'use --data PATH or set TSGPT_DATA to point at a local copy';
  log(`downloading Tiny Shakespeare from ${url} to ${file}`);
  let bytes: Uint8Array;
  try {
    const response = await fetchImpl(url, { signal: AbortSignal.timeout(DOWNLOAD_TIMEOUT_MS) });
    if (!response.ok) throw new Error(`HTTP ${response.status} ${response.statusText}`.trim());
    bytes = new Uint8Array(await response.arrayBuffer());
  } catch (err) {
    throw new TsgptError(`downloading Tiny Shakespeare from ${url} failed (${errorText(err)}); ${hint}`);
  }

  const digest = sha256Hex(bytes);
  if (digest !== TINY_SHAKESPEARE.sha256) {
    // A known-bad cache file would only cause the same re-download next time, so drop it.
    if (cached !== undefined) await unlink(file).catch(() => undefined);
    throw new TsgptError(
      `downloaded Tiny Shakespeare has sha256 ${digest} (${bytes.length} bytes), expected ` +
        `${TINY_SHAKESPEARE.sha256} (${TINY_SHAKESPEARE.bytes} bytes); nothing was cached; ${hint}`,
    );
  }

  const text = decodeUtf8(bytes);
  try {
    makeFolder(cacheDir, `cache folder ${cacheDir}`);
    // Atomic so that an interrupted run can never leave a half-written file that later looks like the corpus.
    writeFileAtomicSync(file, bytes);
  } catch (err) {
    // Training can go on with the text in hand; only the next run pays for the failure.
    log(`could not cache Tiny Shakespeare at ${file} (${errorText(err)}); it will be downloaded again next time`);
    return { text, source: url };
  }
  return { text, source: file };
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

function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function decodeUtf8(bytes: Uint8Array): string {
  return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
}

/** An error's message on one line; Node's fetch hides the useful part (DNS failure, refused connection) in `cause`. */
function errorText(err: unknown): string {
  let message = err instanceof Error ? err.message : String(err);
  const cause = err instanceof Error ? (err as { cause?: unknown }).cause : undefined;
  if (cause instanceof Error && cause.message && !message.includes(cause.message)) message += `: ${cause.message}`;
  return oneLine(message).replace(/\s+/g, ' ').trim();
}
