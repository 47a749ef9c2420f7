/**
 * Building a memory: the text streams through the model in overlapping windows (windows.ts), and every
 * position's hidden state (GPT.forwardHidden) becomes a key whose value is the next token; the windows overlap
 * because a key made with little context would answer queries made with much. Browser-safe; the CLI adds files.
 */
import { untracked, zeros } from '../engine/tensor.js';
import { TsgptError } from '../errors.js';
import type { HiddenPoint } from '../models/decoder.js';
import type { GPT } from '../models/gpt.js';
import type { Tokenizer } from '../tokenizers/tokenizer.js';
import { contextOrder } from './context_index.js';
import { Memory } from './memory.js';
import { readInWindows } from './windows.js';
import {
  checkScoring,
  MEMORY_FORMAT,
  MEMORY_FORMAT_VERSION,
  type MemoryConfig,
  type MemoryScoring,
  MEMORY_TENSORS_FILE,
} from './memory_config.js';

export interface BuildMemoryOptions {
  tokenizer: Tokenizer;
  /** Where keys are read (default ffn_input, kNN-LM's). */
  point?: HiddenPoint;
  /** Tokens between window starts (default half the block size), and windows a forward pass: see windows.ts. */
  stride?: number;
  batch?: number;
  /** Default scoring to record (k, temperature, lambda, ...); the temperature is calibrated unless given. */
  scoring?: Partial<MemoryScoring>;
  /** How the keys are stored on disk. */
  dtype?: 'F32' | 'F16';
  /** Where the text came from and its SHA-256 (UTF-8), and the model's weights' SHA-256: recorded to check later. */
  source: string;
  textSha256: string;
  weightsSha256: string;
  /** Where the model was read from, recorded as a default for later commands. */
  run?: string;
  /** Called after each batch of windows with the positions done so far and in all. */
  onProgress?: (done: number, total: number) => void;
}

/** kNN-LM's settings as far as they carry over to a character model; the temperature is calibrated per memory. */
export const DEFAULT_SCORING: Omit<MemoryScoring, 'temperature'> = {
  score: 'dot',
  k: 64,
  lambda: 0.5,
  matchBonus: 0.5,
  matchMin: 12,
  matchLambda: 0.9,
};

export function buildMemory(model: GPT, tokens: Int32Array, opts: BuildMemoryOptions): Memory {
  const count = tokens.length - 1;
  if (count < 1) throw new TsgptError('a memory needs a text of at least two tokens: a position and the token after it');
  const width = model.config.nEmbd;
  const point = opts.point ?? 'ffn_input';
  const keys = untracked(() => zeros([count, width]));
  let read: { window: number; stride: number };
  try {
    read = readInWindows(model, tokens, point, { stride: opts.stride, batch: opts.batch }, (rows) => {
      keys.data.set(rows.hidden, rows.from * width);
      opts.onProgress?.(rows.to, count);
    });
  } catch (e) {
    keys.dispose();
    throw e;
  }
  const config: MemoryConfig = {
    format: MEMORY_FORMAT,
    version: MEMORY_FORMAT_VERSION,
    model: { weightsSha256: opts.weightsSha256, width, vocabSize: model.vocabSize, ...(opts.run !== undefined ? { run: opts.run } : {}) },
    point,
    tokenizer: opts.tokenizer.toJSON(),
    count,
    dtype: opts.dtype ?? 'F32',
    text: { source: opts.source, sha256: opts.textSha256, tokens: tokens.length },
    build: read,
    scoring: { ...DEFAULT_SCORING, k: Math.min(DEFAULT_SCORING.k, count), temperature: 1, ...opts.scoring },
    files: { [MEMORY_TENSORS_FILE]: { bytes: 0, sha256: '0'.repeat(64) } },
  };
  const memory = new Memory(config, keys, Int32Array.from(tokens), contextOrder(tokens, count));
  if (opts.scoring?.temperature === undefined) config.scoring.temperature = calibrateTemperature(memory, config.scoring);
  checkScoring(config.scoring, 'memory scoring', count);
  return memory;
}

/**
 * A temperature for the memory's softmax from its own keys: half the median gap between a key's best and
 * 32nd best other key by scaled attention score (kNN-LM's temperature 1 assumes distances of its model's
 * scale; this finds the scale of this one's). Up to 512 keys, spread evenly, are asked; none is its own
 * neighbour.
 */
export function calibrateTemperature(memory: Memory, scoring: MemoryScoring): number {
  const n = Math.min(512, memory.count - 1);
  if (n < 1) return 1;
  const rank = Math.min(32, memory.count - 1);
  const d = memory.width,
    picks = Array.from({ length: n }, (_, i) => Math.floor((i * memory.count) / n));
  const queries = new Float32Array(n * d);
  picks.forEach((p, i) => queries.set(memory.keys.data.subarray(p * d, (p + 1) * d), i * d));
  // Plain attention scores: neither the context bonus nor the query's own key takes part.
  const found = memory.neighbours(
    queries,
    picks.map(() => []),
    { ...scoring, k: rank + 1, matchBonus: 0 },
  );
  const gaps: number[] = [];
  picks.forEach((p, i) => {
    const row: number[] = [];
    for (let j = 0; j <= rank; j++) if (found.indices[i * (rank + 1) + j] !== p) row.push(found.scores[i * (rank + 1) + j]!);
    if (row.length >= 2) gaps.push(row[0]! - row[Math.min(row.length, rank) - 1]!);
  });
  gaps.sort((a, b) => a - b);
  const median = gaps[gaps.length >> 1] ?? 0;
  return median > 0 ? median / 2 : 1;
}
