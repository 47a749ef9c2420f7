/**
 * Finding the training text: a file the user names, or Tiny Shakespeare fetched once into a local cache.
 * This is a Node edge: it reads files, environment variables and the network, which the browser build does not.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { TsgptError, check } from '../errors.js';
import { invalidUtf8Offset } from '../io/utf8.js';
import { cacheDirectory, errorText, fetchCached } from './download.js';

export { invalidUtf8Offset };

export const TINY_SHAKESPEARE = {
  what: 'Tiny Shakespeare',
  url: 'https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt',
  sha256: '86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed',
  bytes: 1115394,
} as const;

const CACHE_FILE_NAME = 'tinyshakespeare.txt';

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
  const file = join(opts.cacheDir ?? cacheDirectory(env), CACHE_FILE_NAME);
  const hint = 'use --data PATH or set TSGPT_DATA to point at a local copy';
  const { bytes, source } = await fetchCached(TINY_SHAKESPEARE, file, { fetchImpl: opts.fetchImpl ?? fetch, log, hint });
  return { text: new TextDecoder('utf-8', { fatal: true }).decode(bytes), source };
}

/** A corpus file's text: readUtf8File's, with at least two characters. */
async function readTextFile(path: string, label: string): Promise<string> {
  const text = await readUtf8File(path, label, MAX_CORPUS_BYTES);
  // Counted in code points (a UTF-8 BOM alone decodes to nothing), looking only at the start of a long text.
  const characters = [...text.slice(0, 4)].length;
  const need = 'a corpus needs at least two characters, an input and the character that follows it';
  check(characters > 0, () => `${label} is empty: ${need}`);
  check(characters > 1, () => `${label} holds a single character: ${need}`);
  return text;
}

/**
 * A regular file's text, strictly UTF-8 (a BOM is dropped), of at most `maxBytes`; `label` names the file in
 * messages, including where its path came from. Every failure is one line naming the file.
 */
export async function readUtf8File(path: string, label: string, maxBytes = MAX_CORPUS_BYTES): Promise<string> {
  check(path !== '', 'the data file path is empty');
  let bytes: Uint8Array;
  try {
    const info = await stat(path);
    check(!info.isDirectory(), () => `${label} is a directory, not a text file`);
    // A FIFO or device (a pipe, /dev/zero) could be read forever; only a regular file has a size to check.
    check(info.isFile(), () => `${label} is not a regular file`);
    check(info.size <= maxBytes, () => `${label} is ${info.size} bytes; tsgpt holds the text in memory and reads at most ${maxBytes}`);
    bytes = await readFile(path);
  } catch (err) {
    if (err instanceof TsgptError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new TsgptError(`data file not found: ${label}`);
    if (code === 'EACCES' || code === 'EPERM') throw new TsgptError(`no permission to read data file ${label}`);
    throw new TsgptError(`cannot read data file ${label}: ${errorText(err)}`);
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new TsgptError(`${label} is not valid UTF-8 text (byte offset ${invalidUtf8Offset(bytes)})`);
  }
}
