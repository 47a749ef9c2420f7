/**
 * GPT-2 from Hugging Face, on this machine: a local folder laid out as a Hugging Face repository is
 * (config.json with GPT-2's field names, model.safetensors, vocab.json and merges.txt), or one of the four
 * released models by name, downloaded once into the cache (checked against its SHA-256) with GPT-2's
 * vocabulary files (src/node/gpt2_vocab.ts).
 *
 * model.safetensors is read a tensor at a time from its file, after its header has been checked against the
 * config and the model's size against the tensor memory: a file of another model, or a model that cannot fit,
 * is refused before anything is allocated.
 */
import { closeSync, existsSync, fstatSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { ARENA_BYTES } from '../checkpoint/model_size.js';
import {
  type HfGpt2Weights,
  loadHfGpt2Weights,
  parseHfGpt2Config,
  readHfGpt2Header,
  samplingBytes,
  type TensorSource,
} from '../checkpoint/hf_gpt2.js';
import { Rng } from '../engine/random.js';
import { TsgptError } from '../errors.js';
import { GPT, type GPTConfig } from '../models/gpt.js';
import type { GPT2Tokenizer } from '../tokenizers/gpt2.js';
import { cacheDirectory, errorText, fetchCached, type DownloadOptions, type PinnedFile } from './download.js';
import { type LoadGpt2Options, loadGpt2Tokenizer, readGpt2Folder } from './gpt2_vocab.js';
import { describeFsError, readTextBounded } from './read_bounded.js';

export const HF_CONFIG_FILE = 'config.json';
export const HF_WEIGHTS_FILE = 'model.safetensors';
const MAX_HF_CONFIG_BYTES = 1 << 20;

/**
 * The released GPT-2s: their sizes (nanoGPT's from_pretrained table; every one has GPT-2's 50,257 tokens and
 * 1,024 positions and runs the tanh GELU) and where they are. Only gpt2's files are pinned here, at a revision
 * with their SHA-256; the others are checked against the SHA-256 Hugging Face's API reports for the file at
 * the revision it resolves "main" to when they are downloaded.
 */
export const GPT2_MODELS = {
  gpt2: {
    nLayer: 12,
    nHead: 12,
    nEmbd: 768,
    pinned: {
      revision: '607a30d783dfa663caf39e06633721c8d4cfcd7e',
      weights: { bytes: 548_105_171, sha256: '248dfc3911869ec493c76e65bf2fcf7f615828b0254c12b473182f0f81d3a707' },
      config: { bytes: 665, sha256: '0daed7749b4f02b8f76240d5444551d7b08712dab4d0adb8239c56ba823bb7b4' },
    },
  },
  'gpt2-medium': { nLayer: 24, nHead: 16, nEmbd: 1024, pinned: null },
  'gpt2-large': { nLayer: 36, nHead: 20, nEmbd: 1280, pinned: null },
  'gpt2-xl': { nLayer: 48, nHead: 25, nEmbd: 1600, pinned: null },
} as const;

export type Gpt2ModelName = keyof typeof GPT2_MODELS;
export const GPT2_MODEL_NAMES = Object.keys(GPT2_MODELS) as Gpt2ModelName[];

export function isGpt2ModelName(name: string): name is Gpt2ModelName {
  return Object.hasOwn(GPT2_MODELS, name);
}

const HF_REPOSITORY = 'https://huggingface.co/openai-community';
const HF_API = 'https://huggingface.co/api/models/openai-community';

export const HF_LOCAL_COPY_HINT =
  'give --from FOLDER (or --init-from FOLDER), a local copy of the Hugging Face repository holding config.json, model.safetensors, vocab.json and merges.txt';

export interface LoadedGpt2 {
  model: GPT;
  tokenizer: GPT2Tokenizer;
  /** Where it came from: the folder, or the model's name. */
  source: string;
}

/** The config a released GPT-2 has, as its config.json says (and nanoGPT's from_pretrained). */
export function gpt2ModelConfig(name: Gpt2ModelName): GPTConfig {
  const { nLayer, nHead, nEmbd } = GPT2_MODELS[name];
  return {
    kind: 'gpt',
    style: 'nanogpt',
    activation: 'gelu_tanh',
    vocabSize: 50257,
    blockSize: 1024,
    nLayer,
    nHead,
    nEmbd,
    dropout: 0,
    bias: true,
  };
}

/** Refuses a model whose weights and the decoder's copies of them cannot fit the tensor memory. */
export function checkFitsForSampling(config: GPTConfig, what: string): void {
  const bytes = samplingBytes(config);
  if (bytes > ARENA_BYTES) {
    const gb = (n: number) => (n / 1024 ** 3).toFixed(1);
    throw new TsgptError(
      `${what} needs ${gb(bytes)} GB of tensor memory to sample (its weights and the decoder's packed copies of them), ` +
        `beyond tsgpt's ${gb(ARENA_BYTES)} GB WebAssembly arena; gpt2 and gpt2-medium fit`,
    );
  }
}

/** Whether `dir` looks like a Hugging Face GPT-2 folder rather than a tsgpt run folder. */
export function isHfFolder(dir: string): boolean {
  if (!existsSync(join(dir, HF_WEIGHTS_FILE)) || !existsSync(join(dir, HF_CONFIG_FILE))) return false;
  try {
    return !readTextBounded(join(dir, HF_CONFIG_FILE), MAX_HF_CONFIG_BYTES).includes('"tsgpt-run"');
  } catch {
    return false;
  }
}

/** A file read a piece at a time. */
class FileSource implements TensorSource {
  readonly byteLength: number;
  private readonly fd: number;

  constructor(readonly path: string) {
    try {
      this.fd = openSync(path, 'r');
    } catch (err) {
      throw new TsgptError(`cannot read ${path}: ${describeFsError(err)}`);
    }
    this.byteLength = fstatSync(this.fd).size;
  }

  read(offset: number, into: Uint8Array): void {
    let done = 0;
    while (done < into.length) {
      const n = readSync(this.fd, into, done, into.length - done, offset + done);
      if (n === 0) throw new TsgptError(`${this.path} ended at byte ${offset + done}, before its header said it would`);
      done += n;
    }
  }

  close(): void {
    closeSync(this.fd);
  }
}

/** Bytes in memory (a download just checked). */
function bytesSource(bytes: Uint8Array): TensorSource {
  return {
    byteLength: bytes.length,
    read: (offset, into) => into.set(bytes.subarray(offset, offset + into.length)),
  };
}

/**
 * Builds the GPT and loads the weights, after checking the header against the config (and `expected`, a
 * released model's known config, when given) and the size against the tensor memory.
 */
function buildFrom(source: TensorSource, config: GPTConfig, label: string): GPT {
  const weights: HfGpt2Weights = readHfGpt2Header(source, config, label);
  checkFitsForSampling(config, label);
  const model = new GPT(config, new Rng(0));
  try {
    loadHfGpt2Weights(model, source, weights, label);
  } catch (e) {
    model.dispose();
    throw e;
  }
  model.eval();
  return model;
}

/** A local Hugging Face GPT-2 folder: its model, and its tokenizer from vocab.json and merges.txt. */
export function loadHfFolder(dir: string): LoadedGpt2 {
  const configPath = join(dir, HF_CONFIG_FILE);
  const weightsPath = join(dir, HF_WEIGHTS_FILE);
  for (const path of [configPath, weightsPath]) {
    if (!existsSync(path)) throw new TsgptError(`${dir} is not a Hugging Face GPT-2 folder: ${path} is missing`);
  }
  const config = parseHfGpt2Config(readTextBounded(configPath, MAX_HF_CONFIG_BYTES), configPath);
  const tokenizer = readGpt2Folder(dir);
  checkVocabulary(tokenizer, config, dir);
  checkFitsForSampling(config, dir);
  const source = new FileSource(weightsPath);
  try {
    return { model: buildFrom(source, config, weightsPath), tokenizer, source: dir };
  } finally {
    source.close();
  }
}

function checkVocabulary(tokenizer: GPT2Tokenizer, config: GPTConfig, where: string): void {
  if (tokenizer.vocabSize !== config.vocabSize) {
    throw new TsgptError(
      `${where}: the vocabulary files make ${tokenizer.vocabSize} tokens but config.json says vocab_size ${config.vocabSize} ` +
        '(the tokenizer is from another model)',
    );
  }
}

export interface LoadGpt2ModelOptions extends LoadGpt2Options {
  /** Told of the weights' download as it goes (the vocabulary's is `progress`). */
  weightsProgress?: DownloadOptions['progress'];
}

/** A released GPT-2 by name: its weights (and config.json, where pinned) from the cache, downloaded once. */
export async function loadGpt2Model(name: Gpt2ModelName, opts: LoadGpt2ModelOptions = {}): Promise<LoadedGpt2> {
  const expected = gpt2ModelConfig(name);
  checkFitsForSampling(expected, name);
  const log = opts.log ?? ((line: string) => void process.stderr.write(`${line}\n`));
  const fetchImpl = opts.fetchImpl ?? fetch;
  const download: DownloadOptions = { fetchImpl, log, progress: opts.weightsProgress, hint: HF_LOCAL_COPY_HINT };
  const { revision, weights, config } = await resolveFiles(name, fetchImpl);
  const folder = join(opts.cacheDir ?? cacheDirectory(opts.env ?? process.env), 'hf', 'openai-community', name, revision);
  if (config !== null) {
    const fetched = await fetchCached(config, join(folder, HF_CONFIG_FILE), download);
    const parsed = parseHfGpt2Config(new TextDecoder().decode(fetched.bytes), `${name}'s config.json`);
    if (JSON.stringify(parsed) !== JSON.stringify(expected)) throw new TsgptError(`${name}'s config.json does not describe ${name}`);
  }
  const { tokenizer } = await loadGpt2Tokenizer(opts);
  checkVocabulary(tokenizer, expected, name);
  const fetched = await fetchCached(weights, join(folder, HF_WEIGHTS_FILE), download);
  return { model: buildFrom(bytesSource(fetched.bytes), expected, `${name}'s ${HF_WEIGHTS_FILE}`), tokenizer, source: name };
}

/** The revision and the files to fetch, with their checksums: pinned for gpt2, from Hugging Face's API for the others. */
async function resolveFiles(
  name: Gpt2ModelName,
  fetchImpl: typeof fetch,
): Promise<{ revision: string; weights: PinnedFile; config: PinnedFile | null }> {
  const pinned = GPT2_MODELS[name].pinned;
  const file = (revision: string, path: string, what: string, sha256: string, bytes: number): PinnedFile => ({
    what: `${name}'s ${what}`,
    url: `${HF_REPOSITORY}/${name}/resolve/${revision}/${path}`,
    sha256,
    bytes,
  });
  if (pinned !== null) {
    const { revision, weights, config } = pinned;
    return {
      revision,
      weights: file(revision, HF_WEIGHTS_FILE, HF_WEIGHTS_FILE, weights.sha256, weights.bytes),
      config: { ...file(revision, HF_CONFIG_FILE, HF_CONFIG_FILE, config.sha256, config.bytes), limit: 1 << 20 },
    };
  }
  // Unpinned: the commit "main" is now, and model.safetensors' SHA-256 and size as the API lists them there.
  const revision = stringField(await apiJson(`${HF_API}/${name}/revision/main`, fetchImpl), 'sha', name);
  const tree = await apiJson(`${HF_API}/${name}/tree/${revision}`, fetchImpl);
  const entry = Array.isArray(tree) ? (tree as Record<string, unknown>[]).find((e) => e?.path === HF_WEIGHTS_FILE) : undefined;
  const lfs = entry?.lfs as Record<string, unknown> | undefined;
  const sha256 = lfs?.oid ?? lfs?.sha256;
  const size = lfs?.size;
  if (typeof sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(sha256) || typeof size !== 'number') {
    throw new TsgptError(
      `Hugging Face's API does not list ${name}'s ${HF_WEIGHTS_FILE} with a SHA-256 at ${revision}; ${HF_LOCAL_COPY_HINT}`,
    );
  }
  return { revision, weights: file(revision, HF_WEIGHTS_FILE, HF_WEIGHTS_FILE, sha256, size), config: null };
}

async function apiJson(url: string, fetchImpl: typeof fetch): Promise<unknown> {
  try {
    const response = await fetchImpl(url, { signal: AbortSignal.timeout(30_000) });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    return await response.json();
  } catch (err) {
    throw new TsgptError(`asking Hugging Face's API (${url}) failed (${errorText(err)}); ${HF_LOCAL_COPY_HINT}`);
  }
}

function stringField(json: unknown, key: string, name: string): string {
  const v = typeof json === 'object' && json !== null ? (json as Record<string, unknown>)[key] : undefined;
  if (typeof v !== 'string' || !/^[0-9a-f]{40}$/.test(v)) {
    throw new TsgptError(`Hugging Face's API gave no revision for ${name}; ${HF_LOCAL_COPY_HINT}`);
  }
  return v;
}

/**
 * What --from (sample) and --init-from (train) name when it is GPT-2: a released model's name (downloaded once)
 * or a Hugging Face folder; null for anything else (a run folder, say). A name always means the released model.
 */
export async function loadPretrainedGpt2(spec: string, opts: LoadGpt2ModelOptions = {}): Promise<LoadedGpt2 | null> {
  if (isGpt2ModelName(spec)) return loadGpt2Model(spec, opts);
  if (isHfFolder(spec)) return loadHfFolder(spec);
  return null;
}

/** The vocabulary files of a Hugging Face folder (or OpenAI's pair, which it may hold instead), to keep beside a run fine-tuned from it. */
export function hfVocabularyFiles(dir: string): { name: string; text: string }[] {
  const names = existsSync(join(dir, 'vocab.json')) ? ['vocab.json', 'merges.txt'] : ['encoder.json', 'vocab.bpe'];
  return names.map((name) => ({ name, text: readTextBounded(join(dir, name), 64 << 20) }));
}
