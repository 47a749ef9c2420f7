/**
 * GPT-2's vocabulary files on this machine: downloaded once from OpenAI's public address into the cache (checked
 * against their SHA-256), or read from a local folder holding encoder.json and vocab.bpe, or Hugging Face's
 * vocab.json and merges.txt (the same data; for GPT-2 the same bytes).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TsgptError } from '../errors.js';
import { GPT2Tokenizer } from '../tokenizers/gpt2.js';
import { cacheDirectory, fetchCached, type DownloadOptions, type PinnedFile } from './download.js';
import { readTextBounded } from './read_bounded.js';

/**
 * Where tiktoken fetches GPT-2's files, and their SHA-256 as tiktoken pins them. The test suite rebuilds both
 * files byte for byte from the ranks the js-tiktoken package ships and checks these digests and sizes.
 */
export const GPT2_VOCAB = {
  encoder: {
    what: "GPT-2's encoder.json",
    url: 'https://openaipublic.blob.core.windows.net/gpt-2/encodings/main/encoder.json',
    sha256: '196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783',
    bytes: 1042301,
  },
  merges: {
    what: "GPT-2's vocab.bpe",
    url: 'https://openaipublic.blob.core.windows.net/gpt-2/encodings/main/vocab.bpe',
    sha256: '1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5',
    bytes: 456318,
  },
} as const satisfies Record<string, PinnedFile>;

/** The pairs of file names a folder may hold, OpenAI's first. */
const FILE_PAIRS = [
  { encoder: 'encoder.json', merges: 'vocab.bpe' },
  { encoder: 'vocab.json', merges: 'merges.txt' },
] as const;

/** GPT-2's files are about 1 MB and 0.5 MB; a file many times that is not one of them. */
const MAX_FILE_BYTES = 64 << 20;

export const GPT2_LOCAL_COPY_HINT =
  'give --tokenizer FOLDER, a folder holding a copy of encoder.json and vocab.bpe (or vocab.json and merges.txt)';

export interface LoadGpt2Options {
  /** Where TSGPT_CACHE is looked up; defaults to process.env. */
  env?: NodeJS.ProcessEnv;
  /** Where the files are kept (in a gpt2 folder); defaults to $TSGPT_CACHE, else ~/.cache/tsgpt. */
  cacheDir?: string;
  fetchImpl?: typeof fetch;
  /** Receives the lines a user should see (downloads, cache problems); defaults to stderr. */
  log?: (line: string) => void;
  progress?: DownloadOptions['progress'];
}

/** GPT-2's tokenizer from the cached files, downloading whichever is missing or damaged. */
export async function loadGpt2Tokenizer(opts: LoadGpt2Options = {}): Promise<{ tokenizer: GPT2Tokenizer; source: string }> {
  const folder = join(opts.cacheDir ?? cacheDirectory(opts.env ?? process.env), 'gpt2');
  const download: DownloadOptions = {
    fetchImpl: opts.fetchImpl ?? fetch,
    log: opts.log ?? ((line: string) => void process.stderr.write(`${line}\n`)),
    progress: opts.progress,
    hint: GPT2_LOCAL_COPY_HINT,
  };
  const encoder = await fetchCached(GPT2_VOCAB.encoder, join(folder, 'encoder.json'), download);
  const merges = await fetchCached(GPT2_VOCAB.merges, join(folder, 'vocab.bpe'), download);
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const tokenizer = GPT2Tokenizer.fromVocabFiles(decoder.decode(encoder.bytes), decoder.decode(merges.bytes), {
    encoder: encoder.source,
    merges: merges.source,
  });
  return { tokenizer, source: folder };
}

/** GPT-2's tokenizer from a folder holding encoder.json and vocab.bpe, or vocab.json and merges.txt. */
export function readGpt2Folder(folder: string): GPT2Tokenizer {
  const [encoder, merges] = readGpt2FolderFiles(folder);
  return GPT2Tokenizer.fromVocabFiles(encoder.text, merges.text, { encoder: encoder.path, merges: merges.path });
}

/**
 * The two vocabulary files of a folder (OpenAI's pair when it holds them, else Hugging Face's), read: what
 * readGpt2Folder builds the tokenizer from, and what a run folder keeps beside its config.json to carry it.
 */
export function readGpt2FolderFiles(folder: string): { name: string; path: string; text: string }[] {
  const pair = FILE_PAIRS.find((p) => existsSync(join(folder, p.encoder)) || existsSync(join(folder, p.merges)));
  if (pair === undefined) {
    throw new TsgptError(`${folder} holds neither encoder.json and vocab.bpe nor vocab.json and merges.txt (GPT-2's vocabulary files)`);
  }
  for (const name of [pair.encoder, pair.merges]) {
    const path = join(folder, name);
    if (!existsSync(path)) {
      const other = name === pair.encoder ? pair.merges : pair.encoder;
      throw new TsgptError(`${folder} has ${other} but not ${name}; GPT-2's vocabulary needs both`);
    }
  }
  return [pair.encoder, pair.merges].map((name) => {
    const path = join(folder, name);
    return { name, path, text: readTextBounded(path, MAX_FILE_BYTES) };
  });
}

/**
 * GPT-2's tokenizer for a run trained with it, without a download (a run folder is read synchronously): from
 * vocabulary files in the run folder itself when it holds them (a run copied to another machine may carry them),
 * else from the cache, where training put them, checked against their SHA-256.
 */
export function readGpt2TokenizerForRun(runDir: string, env: NodeJS.ProcessEnv = process.env): GPT2Tokenizer {
  if (FILE_PAIRS.some((p) => existsSync(join(runDir, p.encoder)))) return readGpt2Folder(runDir);
  const folder = join(cacheDirectory(env), 'gpt2');
  const texts = [GPT2_VOCAB.encoder, GPT2_VOCAB.merges].map((pinned, i) => {
    const path = join(folder, FILE_PAIRS[0][i === 0 ? 'encoder' : 'merges']);
    let bytes: Buffer | undefined;
    try {
      bytes = readFileSync(path);
    } catch {
      bytes = undefined;
    }
    if (bytes === undefined || createHash('sha256').update(bytes).digest('hex') !== pinned.sha256) {
      throw new TsgptError(
        `the run in ${runDir} uses GPT-2's tokenizer, but ${path} is ${bytes === undefined ? 'missing' : 'not the file it should be'}; ` +
          `'tsgpt tokenize --tokenizer gpt2 FILE' downloads it, or copy encoder.json and vocab.bpe into ${runDir}`,
      );
    }
    return { text: new TextDecoder('utf-8', { fatal: true }).decode(bytes), path };
  });
  return GPT2Tokenizer.fromVocabFiles(texts[0]!.text, texts[1]!.text, { encoder: texts[0]!.path, merges: texts[1]!.path });
}
