/**
 * config.json of a memory folder: which model the keys come from (its weights' SHA-256, its width, the point
 * in it where keys and queries are read, its tokenizer), how many keys, the text they were read from and how,
 * the default scoring, and the SHA-256 of the tensors file. Parsed as hostile input, as run folders are: every field checked, one clear
 * error naming the field. Pure: src/node/memory_folder.ts reads and writes the files.
 */
import { TsgptError } from '../errors.js';
import { asObject, describe, integer, parseVersionedJson } from '../validate.js';
import type { HiddenPoint } from '../models/decoder.js';
import type { TokenizerJSON } from '../tokenizers/tokenizer.js';
import { MAX_MATCH } from './context_index.js';
import type { Score } from './knn.js';

export const MEMORY_FORMAT = 'tsgpt-memory';
export const MEMORY_FORMAT_VERSION = 1;

export interface MemoryScoring {
  score: Score;
  /** Neighbours read per query. */
  k: number;
  /** Divides the scaled scores before the softmax: lower is sharper. */
  temperature: number;
  /** The memory's share of the mixed next-token distribution, in [0, 1]. */
  lambda: number;
  /**
   * Added to a neighbour's scaled score for each token (up to MAX_MATCH) of recent text it shares exactly with
   * the query (see context_index.ts); 0 turns exact-context matching off, leaving plain kNN-LM.
   */
  matchBonus: number;
  /** The shortest shared context that makes a position a neighbour by itself, and that opens the gate. */
  matchMin: number;
  /** The memory's share instead of lambda when a neighbour shares at least matchMin tokens: trust a near-exact match. */
  matchLambda: number;
}

export interface MemoryConfig {
  format: typeof MEMORY_FORMAT;
  version: number;
  /**
   * The model whose states the keys are: a memory answers only that model's queries. `run` is where it was
   * read from when the memory was built (a default for commands that need the model again), if known.
   */
  model: { weightsSha256: string; width: number; vocabSize: number; run?: string };
  /** Where in the model keys (and queries) are read. */
  point: HiddenPoint;
  /** The model's tokenizer: the memory's tokens are its ids. */
  tokenizer: TokenizerJSON;
  /** Keys stored: one per position of the text that has a next token. */
  count: number;
  /** How the keys are stored on disk (they are float32 in memory). */
  dtype: 'F32' | 'F16';
  /** The text the keys were read from: where it came from, its SHA-256 (UTF-8) and its length in tokens. */
  text: { source: string; sha256: string; tokens: number };
  /** Windows of `window` tokens, `stride` apart: every position but the first window's is read with at least window - stride tokens of context. */
  build: { window: number; stride: number };
  scoring: MemoryScoring;
  /** Size and SHA-256 of the folder's other files, checked when they are read. */
  files: Record<string, { bytes: number; sha256: string }>;
}

/** The file of the keys (keys [count, width]), the text's tokens (tokens [count + 1]) and their context order (order [count]). */
export const MEMORY_TENSORS_FILE = 'memory.safetensors';

const SHA256 = /^[0-9a-f]{64}$/;
const POINTS: readonly HiddenPoint[] = ['ffn_input', 'block_output', 'head_input'];

/** Checks scoring settings (from a file or from flags); `where` names their source in the message. */
export function checkScoring(s: MemoryScoring, where: string, count?: number): void {
  if (s.score !== 'dot' && s.score !== 'l2') throw new TsgptError(`${where}: the score must be "dot" or "l2", got ${describe(s.score)}`);
  if (!Number.isSafeInteger(s.k) || s.k < 1) throw new TsgptError(`${where}: k must be a whole number of at least 1, got ${describe(s.k)}`);
  if (count !== undefined && s.k > count) throw new TsgptError(`${where}: k is ${s.k} but the memory holds only ${count} keys`);
  if (!(typeof s.temperature === 'number' && s.temperature > 0 && Number.isFinite(s.temperature))) {
    throw new TsgptError(`${where}: the temperature must be a positive number, got ${describe(s.temperature)}`);
  }
  for (const [name, v] of [
    ['lambda', s.lambda],
    ['match lambda', s.matchLambda],
  ] as const) {
    if (!(typeof v === 'number' && v >= 0 && v <= 1)) throw new TsgptError(`${where}: ${name} must be in [0, 1], got ${describe(v)}`);
  }
  if (!(typeof s.matchBonus === 'number' && s.matchBonus >= 0 && Number.isFinite(s.matchBonus))) {
    throw new TsgptError(`${where}: the match bonus must be a number of at least 0, got ${describe(s.matchBonus)}`);
  }
  if (!Number.isSafeInteger(s.matchMin) || s.matchMin < 1 || s.matchMin > MAX_MATCH) {
    throw new TsgptError(`${where}: the shortest match must be a whole number from 1 to ${MAX_MATCH}, got ${describe(s.matchMin)}`);
  }
}

export function parseMemoryConfig(text: string, label: string): MemoryConfig {
  const obj = parseVersionedJson(text, label, MEMORY_FORMAT, MEMORY_FORMAT_VERSION, 'a tsgpt memory config');
  const model = asObject(obj.model, `${label}: model`);
  const sha = model.weightsSha256;
  if (typeof sha !== 'string' || !SHA256.test(sha)) {
    throw new TsgptError(`${label}: model.weightsSha256 must be 64 hex digits, got ${describe(sha)}`);
  }
  const width = integer(model.width, `${label}: model.width`, 1, 65536);
  const vocabSize = integer(model.vocabSize, `${label}: model.vocabSize`, 1, 0x110000);
  const run = model.run;
  if (run !== undefined && (typeof run !== 'string' || run.length === 0 || run.length > 4096)) {
    throw new TsgptError(`${label}: model.run must be a path, got ${describe(run)}`);
  }
  if (!POINTS.includes(obj.point as HiddenPoint)) {
    throw new TsgptError(`${label}: point must be one of ${POINTS.join(', ')}, got ${describe(obj.point)}`);
  }
  const tokenizer = asObject(obj.tokenizer, `${label}: tokenizer`);
  if (typeof tokenizer.type !== 'string') {
    throw new TsgptError(`${label}: tokenizer.type must be a string, got ${describe(tokenizer.type)}`);
  }
  const count = integer(obj.count, `${label}: count`, 1, 2 ** 31 - 1);
  if (obj.dtype !== 'F32' && obj.dtype !== 'F16') {
    throw new TsgptError(`${label}: dtype must be "F32" or "F16", got ${describe(obj.dtype)}`);
  }
  const t = asObject(obj.text, `${label}: text`);
  if (typeof t.source !== 'string' || t.source.length > 4096) {
    throw new TsgptError(`${label}: text.source must be a path, got ${describe(t.source)}`);
  }
  if (typeof t.sha256 !== 'string' || !SHA256.test(t.sha256)) {
    throw new TsgptError(`${label}: text.sha256 must be 64 hex digits, got ${describe(t.sha256)}`);
  }
  const tokens = integer(t.tokens, `${label}: text.tokens`, 2, 2 ** 31 - 1);
  if (count > tokens - 1) throw new TsgptError(`${label}: count ${count} is more than the text's ${tokens} tokens allow`);
  const b = asObject(obj.build, `${label}: build`);
  const window = integer(b.window, `${label}: build.window`, 1, 65536);
  const stride = integer(b.stride, `${label}: build.stride`, 1, window);
  const s = asObject(obj.scoring, `${label}: scoring`);
  const scoring = {
    score: s.score,
    k: s.k,
    temperature: s.temperature,
    lambda: s.lambda,
    matchBonus: s.matchBonus,
    matchMin: s.matchMin,
    matchLambda: s.matchLambda,
  } as MemoryScoring;
  checkScoring(scoring, `${label}: scoring`, count);
  const f = asObject(obj.files, `${label}: files`);
  const files: MemoryConfig['files'] = {};
  for (const name of [MEMORY_TENSORS_FILE]) {
    const entry = asObject(f[name], `${label}: files[${JSON.stringify(name)}]`);
    if (typeof entry.sha256 !== 'string' || !SHA256.test(entry.sha256)) {
      throw new TsgptError(`${label}: files[${JSON.stringify(name)}].sha256 must be 64 hex digits, got ${describe(entry.sha256)}`);
    }
    files[name] = {
      bytes: integer(entry.bytes, `${label}: files[${JSON.stringify(name)}].bytes`, 0, Number.MAX_SAFE_INTEGER),
      sha256: entry.sha256,
    };
  }
  return {
    format: MEMORY_FORMAT,
    version: MEMORY_FORMAT_VERSION,
    model: { weightsSha256: sha, width, vocabSize, ...(run !== undefined ? { run: run as string } : {}) },
    point: obj.point as HiddenPoint,
    tokenizer: tokenizer as unknown as TokenizerJSON,
    count,
    dtype: obj.dtype,
    text: { source: t.source, sha256: t.sha256, tokens },
    build: { window, stride },
    scoring,
    files,
  };
}
