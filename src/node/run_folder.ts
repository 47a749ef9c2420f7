/**
 * A run folder on disk (the Node edge of checkpointing):
 *
 *   config.json          model config, tokenizer, hyperparameters, corpus; "training" describes the best weights
 *                        and points ("training.resume.folder") at the latest snapshot
 *   model.safetensors    the weights with the best validation loss so far: what `tsgpt sample` loads
 *   log.jsonl            one JSON object a line: every step and every evaluation
 *   resume/step-000120-0a1b2c3d/   the latest state, for `tsgpt train --resume`:
 *       model.safetensors      the latest weights
 *       optimizer.safetensors  AdamW's moments, m.<name> and v.<name>, and Muon's buffers, muon.<name> (optimizer_state.ts)
 *       state.json             step, AdamW's step, RNG states, best val loss; size and SHA-256 of both files
 *
 * A save happens in an order that keeps every moment of it loadable, because a kill can land anywhere:
 *   0. the weights and AdamW's moments are checked to be finite: a diverged state is never saved;
 *   1. the snapshot is written into a temporary folder and appears by one rename, whole or not at all;
 *   2. a new best goes to model.safetensors (written to a temporary name, flushed, renamed); config.json
 *      records its size and SHA-256, so when it records them, it is first rewritten to accept the file there
 *      or the one coming;
 *   3. config.json (same way) switches the pointer to the new snapshot and names only the new weights: this
 *      is the commit;
 *   4. older snapshots and leftovers of interrupted writes are removed.
 * Until step 3 config.json names the previous snapshot, which step 4 has not yet touched. The one window where
 * two files disagree is between 2 and 3: model.safetensors is already the newer best while config.json still
 * describes the older one; both are whole and valid (the weights match a recorded digest), the weights' own
 * metadata says which step they are from, and resuming repeats the evaluation that found them.
 *
 * A run's first save removes a config.json already there (a finished run's, which a new run replaces) before
 * writing its weights: from then until step 3 the folder is not a run, rather than one whose files disagree.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { TsgptError } from '../errors.js';
import { removeAtomicSync, TEMP_MARK, writeFileAtomicSync, writeFolderAtomicSync } from './atomic_write.js';
import { describeFsError, readFileBounded, readTextBounded, regularFileSize } from './read_bounded.js';
import { isFolder, makeFolder } from './make_folder.js';
import type { LanguageModel, ModelConfig } from '../models/index.js';
import type { Tokenizer } from '../tokenizers/tokenizer.js';
import { readGpt2TokenizerForRun } from './gpt2_vocab.js';
import type { AdamW } from '../train/adamw.js';
import type { Muon } from '../train/muon.js';
import { NonFiniteError, type ResumeState } from '../train/trainer.js';
import { encodeOptimizer } from '../checkpoint/optimizer_state.js';
import { parseRunFile, type RunFile } from '../checkpoint/run_config.js';
import { encodeResumeFile, type FileDigest } from '../checkpoint/resume_state.js';
import { encodeWeights, firstNonFiniteTensor } from '../checkpoint/weights.js';
import {
  bestMetadata,
  buildModelFor,
  CONFIG_FILE,
  checkRecordedWeights,
  checkWeightsSize,
  LOG_FILE,
  type LoadedRun,
  MAX_CONFIG_BYTES,
  modelFromWeights,
  OPTIMIZER_FILE,
  RESUME_DIR,
  runConfigText,
  STATE_FILE,
  WEIGHTS_FILE,
} from '../checkpoint/run_files.js';

// The names and the pure checks live in src/checkpoint/run_files.ts (a browser opens run folders too).
export { buildModelFor, CONFIG_FILE, LOG_FILE, MAX_CONFIG_BYTES, OPTIMIZER_FILE, RESUME_DIR, STATE_FILE, WEIGHTS_FILE, type LoadedRun };
/** Held while a trainer writes the folder (see lock.ts). */
export const LOCK_FILE = '.lock';

/** The writes a run makes in its folder, named for test hooks and for messages. */
export type RunWrite = 'lock' | 'log' | 'snapshot' | 'best weights' | 'config' | 'loss curve';

/** Test hooks, run during a save: the tests own them (see TrainingRun); nothing in tsgpt sets them. */
export interface SaveHooks {
  /** Before each write, named: a test throws here to play a full disk. */
  beforeWrite?(what: RunWrite): void;
  /** Between the stages of a save, to widen the windows a kill can land in. */
  pause?(): void;
}

/** Writes the weights, then the config that describes them (making the folder if needed). */
export function saveRun(dir: string, model: LanguageModel, file: RunFile): void {
  makeFolder(dir, `run folder ${dir}`);
  const own = readOwnConfig(dir);
  const weights = writeBestWeights(dir, encodeWeights(model, bestMetadata(file)), own === null ? null : bestOnDiskOrNull(dir, own), {});
  writeConfig(dir, { ...file, weights: [weights] }, {});
}

export interface Checkpoint {
  model: LanguageModel;
  optimizer: AdamW;
  /** Muon, for a run with --optimizer muon: its momentum buffers are saved beside AdamW's moments. */
  muon?: Muon | null;
  state: ResumeState;
  /** config.json without the resume pointer and the weights' digests, which the save fills in; `training` describes the best weights. */
  file: RunFile;
  /** The current weights are the best so far: also write them to model.safetensors. */
  newBest: boolean;
  /**
   * config.json as this run last wrote it (or found it, resuming); null for a run's first save, which then
   * removes any config.json there (another run's, being replaced) before its own weights are written.
   */
  previous?: RunFile | null;
  /** Runs once the snapshot is in place and before the best weights: a new run publishes its log here. */
  beforeWeights?(): void;
}

/**
 * Saves a resumable snapshot (and the best weights when they changed); returns config.json as it now is. The
 * weights and moments must be finite: a state that has diverged is refused before anything is written, so it
 * never becomes the checkpoint a run falls back on, and the last good one stays.
 */
export function saveCheckpoint(dir: string, c: Checkpoint, hooks: SaveHooks = {}): RunFile {
  const pause = () => hooks.pause?.();
  const atomicHooks = { beforeRename: pause };
  refuseNonFinite(c);
  const weights = encodeWeights(c.model, { step: String(c.state.step) });
  const moments = encodeOptimizer(c.optimizer, c.muon ?? null);
  const state = encodeResumeFile(c.state, { [WEIGHTS_FILE]: digest(weights), [OPTIMIZER_FILE]: digest(moments) });
  const folder = `${RESUME_DIR}/step-${String(c.state.step).padStart(6, '0')}-${randomBytes(4).toString('hex')}`;
  hooks.beforeWrite?.('snapshot');
  makeFolder(join(dir, RESUME_DIR), `snapshot folder in ${dir}`);
  pause();
  writeFolderAtomicSync(
    join(dir, folder),
    [
      [WEIGHTS_FILE, weights],
      [OPTIMIZER_FILE, moments],
      [STATE_FILE, state],
    ],
    atomicHooks,
  );
  pause();
  const previous = c.previous ?? null;
  if (previous === null && existsSync(join(dir, CONFIG_FILE))) {
    hooks.beforeWrite?.('config');
    removeAtomicSync(join(dir, CONFIG_FILE));
    pause();
  }
  c.beforeWeights?.();
  let best = previous?.weights?.at(-1);
  if (c.newBest) {
    best = writeBestWeights(dir, encodeWeights(c.model, bestMetadata(c.file)), previous, hooks);
    pause();
  }
  const file: RunFile = {
    ...c.file,
    training: { ...c.file.training, resume: { step: c.state.step, folder } },
    ...(best !== undefined ? { weights: [best] } : {}),
  };
  writeConfig(dir, file, hooks);
  pause();
  removeLeftovers(dir, folder);
  return file;
}

/**
 * Replaces model.safetensors with `bytes` so that config.json vouches for the file at every moment: when
 * config.json records the weights, it is first rewritten to accept the old file or the new one, then the file
 * is replaced, and the caller's next config.json names only the new one.
 */
function writeBestWeights(dir: string, bytes: Uint8Array, previous: RunFile | null, hooks: SaveHooks): FileDigest {
  const d = digest(bytes);
  const recorded = previous?.weights?.at(-1);
  if (previous !== null && recorded !== undefined) {
    writeConfig(dir, { ...previous, weights: [recorded, d] }, hooks);
    hooks.pause?.();
  }
  hooks.beforeWrite?.('best weights');
  writeFileAtomicSync(join(dir, WEIGHTS_FILE), bytes, { beforeRename: () => hooks.pause?.() });
  return d;
}

function writeConfig(dir: string, file: RunFile, hooks: SaveHooks): void {
  hooks.beforeWrite?.('config');
  writeFileAtomicSync(join(dir, CONFIG_FILE), runConfigText(file), { beforeRename: () => hooks.pause?.() });
}

/**
 * config.json as the next save must see it: naming only the best weights that are on disk. A kill between a
 * save's config.json writes leaves two digests recorded (the old best's and the coming one's) with either file
 * in place. Were the next save to take the last digest for the file there, its own first config.json write
 * would vouch for a file that is not there, and a kill right after it would leave a folder that no longer
 * loads. So the file is read and its digest, checked to be one of those recorded, becomes the only one.
 */
export function withBestOnDisk(dir: string, file: RunFile, configPath: string): RunFile {
  if (file.weights === undefined) return file;
  return { ...file, weights: [readBestWeights(dir, file, configPath).actual] };
}

/** The folder's model.safetensors, read and checked against the digests config.json records. */
function readBestWeights(dir: string, file: RunFile, configPath: string): { bytes: Uint8Array; actual: FileDigest; path: string } {
  const path = join(dir, WEIGHTS_FILE);
  if (!existsSync(path)) throw new TsgptError(`${dir} is not a complete tsgpt run: ${WEIGHTS_FILE} is missing`);
  const bytes = readWeightsFile(path, file.model, 1);
  const actual = digest(bytes);
  checkRecordedWeights(actual, file, path, configPath);
  return { bytes, actual, path };
}

/** withBestOnDisk, or null (nothing to keep loadable) when the folder's weights are missing or damaged. */
function bestOnDiskOrNull(dir: string, file: RunFile): RunFile | null {
  try {
    return withBestOnDisk(dir, file, join(dir, CONFIG_FILE));
  } catch {
    return null;
  }
}

/** config.json as it is, if it reads as a run's; null when there is none or it does not. */
function readOwnConfig(dir: string): RunFile | null {
  try {
    return readRunConfig(dir).file;
  } catch {
    return null;
  }
}

function refuseNonFinite(c: Checkpoint): void {
  const tensors: [string, Float32Array][] = c.model.namedParameters().map(([name, t]) => [name, t.data]);
  for (const s of c.optimizer.states) tensors.push([`AdamW's m.${s.name}`, s.m.data], [`AdamW's v.${s.name}`, s.v.data]);
  for (const s of c.muon?.states ?? []) tensors.push([`Muon's muon.${s.name}`, s.buf.data]);
  const bad = firstNonFiniteTensor(tensors);
  if (bad !== null) {
    throw new NonFiniteError(
      c.state.step,
      bad.name,
      `${bad.name} holds ${bad.value} at index ${bad.index}: the weights have diverged, so this state is not saved; ` +
        'a lower learning rate or gradient clipping may help',
    );
  }
}

/** Deletes every snapshot but `keep` and every temporary name an interrupted write left behind. */
export function removeLeftovers(dir: string, keep: string | null): void {
  const resume = join(dir, RESUME_DIR);
  if (existsSync(resume)) {
    for (const name of readdirSync(resume)) {
      if (`${RESUME_DIR}/${name}` !== keep) removeAtomicSync(join(resume, name));
    }
  }
  for (const name of readdirSync(dir)) {
    if (name.startsWith('.') && name.includes(TEMP_MARK)) removeAtomicSync(join(dir, name));
  }
}

export function digest(bytes: Uint8Array): { bytes: number; sha256: string } {
  return { bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') };
}

/** Reads and checks config.json (the size of the model it describes included), without building anything. */
export function readRunConfig(dir: string): { file: RunFile; tokenizer: Tokenizer; configPath: string } {
  // Missing, unreadable or a file: the same answer for the user.
  if (!isFolder(dir)) throw new TsgptError(`no run folder at ${dir}`);
  const configPath = join(dir, CONFIG_FILE);
  if (!existsSync(configPath)) throw new TsgptError(`${dir} is not a tsgpt run: ${CONFIG_FILE} is missing`);
  const { file, tokenizer } = parseRunFile(readTextBounded(configPath, MAX_CONFIG_BYTES), configPath, () => readGpt2TokenizerForRun(dir));
  return { file, tokenizer, configPath };
}

/** Reads a run folder back: the model (in eval mode) with its best weights, and its tokenizer. */
export function loadRun(dir: string): LoadedRun {
  const { file, tokenizer, configPath } = readRunConfig(dir);
  const { bytes, actual, path: weightsPath } = readBestWeights(dir, file, configPath);
  const model = modelFromWeights(file.model, bytes, configPath, weightsPath);
  return { file, model, tokenizer, weightsSha256: actual.sha256 };
}

/**
 * Reads a safetensors file holding `copies` floats per parameter of `config`, refusing before reading one whose
 * size cannot be right (see checkWeightsSize).
 */
export function readWeightsFile(path: string, config: ModelConfig, copies: number): Uint8Array {
  const most = checkWeightsSize(regularFileSize(path), config, copies, path);
  return readFileBounded(path, most, path);
}

/**
 * The names that make a folder a run folder (beside them it may hold anything: loss.svg, report.html, notes).
 * The lock counts: a run killed before its first checkpoint leaves nothing else.
 */
const RUN_FOLDER_MARKS = [CONFIG_FILE, WEIGHTS_FILE, LOG_FILE, RESUME_DIR, LOCK_FILE];

/**
 * Checks that a new run may write into `dir`: it is absent, empty, or a run folder whose run is finished.
 * Refuses a file, a folder that is not a run (--out . or --out src must not scatter files there), and an
 * unfinished run, which the user would lose: that one is continued with --resume, or deleted by hand.
 */
export function checkFolderForNewRun(dir: string): void {
  let entries: string[];
  try {
    if (!statSync(dir).isDirectory()) throw new TsgptError(`--out ${dir} is a file, not a folder`);
    entries = readdirSync(dir);
  } catch (err) {
    if (err instanceof TsgptError) throw err;
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new TsgptError(`cannot use --out ${dir}: ${describeFsError(err)}`);
  }
  if (entries.length > 0 && !entries.some((e) => RUN_FOLDER_MARKS.includes(e))) {
    throw new TsgptError(
      `--out ${dir} is a folder of other files (${JSON.stringify(entries.sort()[0])}, ...), not a tsgpt run; choose a new or empty folder`,
    );
  }
  if (!entries.includes(CONFIG_FILE)) return;
  let file: RunFile;
  try {
    file = readRunConfig(dir).file;
  } catch (err) {
    throw new TsgptError(`--out ${dir} holds a run that cannot be read (${(err as Error).message}); delete it or choose another folder`);
  }
  const at = file.training.resume?.step;
  if (at !== undefined && at < file.run.maxIters) {
    throw new TsgptError(
      `${dir} holds an unfinished run (step ${at} of ${file.run.maxIters}): continue it with 'tsgpt train --resume ${dir}', ` +
        'or delete the folder to start over',
    );
  }
}
