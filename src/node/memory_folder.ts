/**
 * A memory folder on disk (the Node edge of src/memory/):
 *
 *   config.json          the model it answers (weights' SHA-256, width, point), its tokenizer, the text, the
 *                        default scoring, and the size and SHA-256 of memory.safetensors
 *   memory.safetensors   keys [count, width] (F32, or F16 to halve the file), tokens [count + 1] (the text's
 *                        ids: key i's value is tokens[i + 1]) and order [count] (positions sorted by context)
 *
 * The folder appears whole or not at all (written aside, then renamed into place; an older memory at the same
 * path is replaced only once the new one is complete). Reading treats it as hostile, as run folders are: every
 * field and tensor is checked, and the tensors file against its recorded size and SHA-256, before anything is
 * built.
 */
import { createHash } from 'node:crypto';
import { readdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { Tensor, untracked } from '../engine/tensor.js';
import { TsgptError } from '../errors.js';
import { decodeSafetensors, encodeSafetensors, MAX_HEADER_BYTES } from '../io/safetensors.js';
import { compareContexts } from '../memory/context_index.js';
import { Memory } from '../memory/memory.js';
import { MEMORY_TENSORS_FILE, type MemoryConfig, parseMemoryConfig } from '../memory/memory_config.js';
import { removeAtomicSync, syncDirectory, writeFolderAtomicSync } from './atomic_write.js';
import { isFolder, makeFolder } from './make_folder.js';
import { describeFsError, readFileBounded, readTextBounded } from './read_bounded.js';

const CONFIG_FILE = 'config.json';
const MAX_CONFIG_BYTES = 16 * 1024 * 1024;

/** Writes the memory into `dir` (made if missing; an older memory there is replaced, anything else refused). */
export function saveMemory(dir: string, memory: Memory): void {
  const { config } = memory;
  if (isFolder(dir)) {
    const entries = readdirSync(dir);
    if (entries.length > 0 && !entries.includes(CONFIG_FILE)) {
      throw new TsgptError(`--out ${dir} is a folder of other files, not a memory; choose a new or empty folder`);
    }
  }
  const tensors = encodeSafetensors([
    { name: 'keys', dtype: config.dtype, shape: [config.count, config.model.width], data: memory.keys.data },
    { name: 'tokens', dtype: 'I32', shape: [config.count + 1], data: memory.tokens },
    { name: 'order', dtype: 'I32', shape: [config.count], data: memory.order },
  ]);
  const file: MemoryConfig = {
    ...config,
    files: { [MEMORY_TENSORS_FILE]: { bytes: tensors.length, sha256: createHash('sha256').update(tensors).digest('hex') } },
  };
  const parent = join(dir, '..');
  makeFolder(parent, `the folder of ${dir}`);
  const fresh = `${dir}.new-${process.pid}`;
  try {
    writeFolderAtomicSync(fresh, [
      [MEMORY_TENSORS_FILE, tensors],
      [CONFIG_FILE, `${JSON.stringify(file, null, 2)}\n`],
    ]);
    // The complete new folder exists before the old one goes: a crash between leaves one of them whole.
    if (isFolder(dir)) removeAtomicSync(dir);
    renameSync(fresh, dir);
    syncDirectory(parent);
  } catch (err) {
    try {
      removeAtomicSync(fresh);
    } catch {
      // The error that stopped the write is the one worth reporting.
    }
    if (err instanceof TsgptError) throw err;
    throw new TsgptError(`cannot write memory ${dir}: ${describeFsError(err)}`);
  }
}

/** A memory folder's config.json alone, checked. */
export function readMemoryConfig(dir: string): MemoryConfig {
  if (!isFolder(dir)) throw new TsgptError(`no memory folder at ${dir}`);
  const configPath = join(dir, CONFIG_FILE);
  return parseMemoryConfig(readTextBounded(configPath, MAX_CONFIG_BYTES), configPath);
}

/** Reads a memory folder, checks every part, and puts the keys in the arena. */
export function loadMemory(dir: string): Memory {
  const config = readMemoryConfig(dir);
  const configPath = join(dir, CONFIG_FILE);
  const tensorsPath = join(dir, MEMORY_TENSORS_FILE);
  const expected = config.files[MEMORY_TENSORS_FILE]!;
  const bytes = readFileBounded(tensorsPath, expected.bytes + MAX_HEADER_BYTES);
  const actual = createHash('sha256').update(bytes).digest('hex');
  if (bytes.length !== expected.bytes || actual !== expected.sha256) {
    throw new TsgptError(`${tensorsPath} does not match the size and SHA-256 recorded in ${configPath}: the memory is damaged`);
  }
  const { tensors } = decodeSafetensors(bytes, tensorsPath);
  const get = (name: string, dtypes: string[], shape: number[]) => {
    const t = tensors.get(name);
    if (t === undefined) throw new TsgptError(`${tensorsPath}: no tensor "${name}"`);
    if (!dtypes.includes(t.dtype) || t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new TsgptError(`${tensorsPath}: "${name}" is ${t.dtype} [${t.shape}], expected ${dtypes.join(' or ')} [${shape}]`);
    }
    return t.data;
  };
  const { count } = config,
    width = config.model.width;
  const keyData = get('keys', [config.dtype], [count, width]) as Float32Array;
  const tokens = get('tokens', ['I32'], [count + 1]) as Int32Array;
  const order = get('order', ['I32'], [count]) as Int32Array;
  if (tensors.size !== 3) throw new TsgptError(`${tensorsPath}: ${tensors.size} tensors, expected keys, tokens and order`);
  for (let i = 0; i < keyData.length; i++) {
    if (!Number.isFinite(keyData[i]!)) throw new TsgptError(`${tensorsPath}: key ${Math.floor(i / width)} holds ${keyData[i]}`);
  }
  const vocab = config.model.vocabSize;
  for (let i = 0; i < tokens.length; i++) {
    if (!(tokens[i]! >= 0 && tokens[i]! < vocab))
      throw new TsgptError(`${tensorsPath}: token ${i} is ${tokens[i]}, outside the vocabulary of ${vocab}`);
  }
  checkOrder(order, tokens, tensorsPath);
  const keys = untracked(() => new Tensor([count, width]));
  keys.data.set(keyData);
  return new Memory(config, keys, tokens, order);
}

/**
 * The order must hold every position once, sorted by context: a doctored order would make context matches
 * miss silently.
 */
function checkOrder(order: Int32Array, tokens: Int32Array, label: string): void {
  const seen = new Uint8Array(order.length);
  for (const p of order) {
    if (!(p >= 0 && p < order.length) || seen[p]) throw new TsgptError(`${label}: "order" is not a permutation of the positions`);
    seen[p] = 1;
  }
  for (let i = 1; i < order.length; i++) {
    if (compareContexts(tokens, order[i - 1]!, order[i]!) > 0) throw new TsgptError(`${label}: "order" is not sorted by context at ${i}`);
  }
}
