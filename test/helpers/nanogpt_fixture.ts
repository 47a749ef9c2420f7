/**
 * nanoGPT's checkpoint fixtures (test/fixtures/nanogpt/, made by scripts/nanogpt_fixtures.py with nanoGPT's
 * train.py and PyTorch 1.13), and ways to make altered checkpoints from them: a decoded checkpoint written back
 * as a pickle description (to change a field and save it again), and an archive whose data.pkl is replaced
 * with its CRC kept right (so a mutation reaches the unpickler instead of the CRC check).
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PyTuple } from '../../src/io/pickle.js';
import { py, type PyValue } from '../../src/io/pickle_write.js';
import { TorchFileWriter, type TorchTensor } from '../../src/io/torch_file.js';
import { decodeStoredZip, encodeStoredZip } from '../../src/io/zip.js';
import { SHAKESPEARE_PATH } from './fixtures.js';

export const NANOGPT_FIXTURES = new URL('../../../test/fixtures/nanogpt/', import.meta.url);

export function fixturePath(name: string): string {
  return new URL(name, NANOGPT_FIXTURES).pathname;
}

/**
 * The fixture dataset's text: the first 20,000 characters of Tiny Shakespeare, as scripts/nanogpt_fixtures.py
 * cuts them (read from ../shared/data, never committed).
 */
export function fixtureText(): string {
  return readFileSync(SHAKESPEARE_PATH, 'utf8').slice(0, 20000);
}

/** fixtureText() written to `dir`/input.txt (commands read the text from a file); returns its path. */
export function writeFixtureText(dir: string): string {
  const path = join(dir, 'input.txt');
  writeFileSync(path, fixtureText());
  return path;
}

export function fixtureBytes(name: string): Uint8Array {
  return new Uint8Array(readFileSync(new URL(name, NANOGPT_FIXTURES)));
}

export interface Expected {
  model_args: Record<string, number | boolean>;
  iter_num: number;
  best_val_loss: number;
  dataset: string;
  weights: Record<string, string>;
  optimizer: Record<string, { step: number; exp_avg: string; exp_avg_sq: string }>;
  param_groups: Record<string, unknown>[];
  window: string;
  logits: number[];
  loss: number;
}

export const EXPECTED: Expected = JSON.parse(readFileSync(new URL('expected.json', NANOGPT_FIXTURES), 'utf8'));

/** SHA-256 of float32 values as little-endian bytes: how the fixture script fingerprints a tensor. */
export function sha256OfFloats(data: Float32Array): string {
  return createHash('sha256')
    .update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength))
    .digest('hex');
}

function isTensor(v: unknown): v is TorchTensor {
  return typeof v === 'object' && v !== null && (v as TorchTensor).data instanceof Float32Array;
}

/**
 * A decoded checkpoint value back as a pickle description. Numbers that are whole become ints (model_args'
 * dropout 0.0 too, which readers accept either way); Maps become dicts, except `ordered` ones (state dicts).
 */
export function toPy(v: unknown, torch: TorchFileWriter, ordered: (m: Map<unknown, unknown>) => boolean = () => false): PyValue {
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return v;
  if (typeof v === 'number') return Number.isInteger(v) ? py.int(v) : py.float(v);
  if (isTensor(v)) return torch.tensor(v.shape, v.data);
  if (v instanceof PyTuple) return py.tuple(...v.items.map((x) => toPy(x, torch, ordered)));
  if (Array.isArray(v)) return py.list(v.map((x) => toPy(x, torch, ordered)));
  if (v instanceof Map) {
    const entries = [...v].map(([k, x]) => [toPy(k, torch, ordered), toPy(x, torch, ordered)] as const);
    return ordered(v) ? py.orderedDict(entries) : py.dict(entries);
  }
  throw new Error(`cannot write ${String(v)} back`);
}

/** A checkpoint (decoded, then changed by the caller) written as a torch.save file again. */
export function encodeCheckpoint(root: Map<string | number, unknown>): Uint8Array {
  const torch = new TorchFileWriter();
  const model = root.get('model');
  return torch.finish(
    toPy(root, torch, (m) => m === model),
    'ckpt',
  );
}

/** The archive with its data.pkl replaced by `f(data.pkl)`, every entry's CRC-32 right. */
export function withPickle(bytes: Uint8Array, f: (pickle: Uint8Array) => Uint8Array): Uint8Array {
  const zip = decodeStoredZip(bytes, 'fixture');
  return encodeStoredZip(zip.names.map((name) => ({ name, bytes: name.endsWith('/data.pkl') ? f(zip.read(name)) : zip.read(name) })));
}
