/**
 * A run folder on disk (the Node edge of checkpointing):
 *
 *   config.json          model config, tokenizer, hyperparameters, corpus; "training" describes the best weights
 *                        and points ("training.resume.folder") at the latest snapshot
 *   model.safetensors    the weights with the best validation loss so far: what `tsgpt sample` loads
 *   log.jsonl            one JSON object a line: every step and every evaluation
 *   resume/step-000120-0a1b2c3d/   the latest state, for `tsgpt train --resume`:
 *       model.safetensors      the latest weights
 *       optimizer.safetensors  AdamW's moments, m.<name> and v.<name>
 *       state.json             step, AdamW's step, RNG states, best val loss; size and SHA-256 of both files
 *
 * A save happens in an order that keeps every moment of it loadable, because a kill can land anywhere:
 *   1. the snapshot is written into a temporary folder and appears by one rename, whole or not at all;
 *   2. a new best goes to model.safetensors (written to a temporary name, flushed, renamed);
 *   3. config.json (same way) switches the pointer to the new snapshot: this is the commit;
 *   4. older snapshots and leftovers of interrupted writes are removed.
 * Until step 3 config.json names the previous snapshot, which step 4 has not yet touched. The one window where
 * two files disagree is between 2 and 3: model.safetensors is already the newer best while config.json still
 * describes the older one; both are whole and valid, the weights' own metadata says which step they are from,
 * and resuming repeats the evaluation that found them.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Rng } from '../engine/random.js';
import { TsgptError } from '../errors.js';
import { removeAtomicSync, TEMP_MARK, writeFileAtomicSync, writeFolderAtomicSync } from './atomic_write.js';
import { MAX_HEADER_BYTES } from '../io/safetensors.js';
import { describeFsError, readFileBounded, readTextBounded } from './read_bounded.js';
import { createModel, type LanguageModel, type ModelConfig } from '../models/index.js';
import type { CharTokenizer } from '../tokenizers/char.js';
import type { AdamW } from '../train/adamw.js';
import type { ResumeState } from '../train/trainer.js';
import { encodeOptimizer } from '../checkpoint/optimizer_state.js';
import { parseRunFile, type ResumePointer, type RunFile } from '../checkpoint/run_config.js';
import { encodeResumeFile } from '../checkpoint/resume_state.js';
import { parameterLowerBound, parameterUpperBound } from '../checkpoint/model_size.js';
import { encodeWeights, loadWeights } from '../checkpoint/weights.js';

export const WEIGHTS_FILE = 'model.safetensors';
export const CONFIG_FILE = 'config.json';
export const LOG_FILE = 'log.jsonl';
export const RESUME_DIR = 'resume';
export const OPTIMIZER_FILE = 'optimizer.safetensors';
export const STATE_FILE = 'state.json';
/** Held while a trainer writes the folder (see lock.ts). */
export const LOCK_FILE = '.lock';

/** Larger than any real config.json (a full Unicode vocabulary is about 10 MB of JSON). */
export const MAX_CONFIG_BYTES = 64 * 1024 * 1024;

/** Test hooks: `pause` runs between the stages of a save, to widen the windows a kill can land in. */
export interface SaveHooks {
  pause?(): void;
}

/** Writes the weights, then the config that describes them (making the folder if needed). */
export function saveRun(dir: string, model: LanguageModel, file: RunFile): void {
  mkdirSync(dir, { recursive: true });
  writeFileAtomicSync(join(dir, WEIGHTS_FILE), encodeWeights(model, bestMetadata(file)));
  writeFileAtomicSync(join(dir, CONFIG_FILE), `${JSON.stringify(file, null, 2)}\n`);
}

export interface Checkpoint {
  model: LanguageModel;
  optimizer: AdamW;
  state: ResumeState;
  /** config.json without the resume pointer, which the save fills in; `training` describes the best weights. */
  file: RunFile;
  /** The current weights are the best so far: also write them to model.safetensors. */
  newBest: boolean;
}

/** Saves a resumable snapshot (and the best weights when they changed); returns the pointer config.json now holds. */
export function saveCheckpoint(dir: string, c: Checkpoint, hooks: SaveHooks = {}): ResumePointer {
  const pause = () => hooks.pause?.();
  const atomicHooks = { beforeRename: pause };
  mkdirSync(join(dir, RESUME_DIR), { recursive: true });
  const weights = encodeWeights(c.model, { step: String(c.state.step) });
  const moments = encodeOptimizer(c.optimizer);
  const state = encodeResumeFile(c.state, { [WEIGHTS_FILE]: digest(weights), [OPTIMIZER_FILE]: digest(moments) });
  const folder = `${RESUME_DIR}/step-${String(c.state.step).padStart(6, '0')}-${randomBytes(4).toString('hex')}`;
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
  if (c.newBest) {
    writeFileAtomicSync(join(dir, WEIGHTS_FILE), encodeWeights(c.model, bestMetadata(c.file)), atomicHooks);
    pause();
  }
  const pointer: ResumePointer = { step: c.state.step, folder };
  const file: RunFile = { ...c.file, training: { ...c.file.training, resume: pointer } };
  writeFileAtomicSync(join(dir, CONFIG_FILE), `${JSON.stringify(file, null, 2)}\n`, atomicHooks);
  pause();
  removeLeftovers(dir, folder);
  return pointer;
}

/** The best weights say which step and losses they are from, so they describe themselves even without config.json. */
function bestMetadata(file: RunFile): Record<string, string> {
  const t = file.training;
  return { step: String(t.step), train_loss: String(t.trainLoss), val_loss: String(t.valLoss) };
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

export interface LoadedRun {
  file: RunFile;
  model: LanguageModel;
  tokenizer: CharTokenizer;
}

/** Reads and checks config.json (the size of the model it describes included), without building anything. */
export function readRunConfig(dir: string): { file: RunFile; tokenizer: CharTokenizer; configPath: string } {
  let isDir = false;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    // Missing or unreadable: the same answer for the user.
  }
  if (!isDir) throw new TsgptError(`no run folder at ${dir}`);
  const configPath = join(dir, CONFIG_FILE);
  if (!existsSync(configPath)) throw new TsgptError(`${dir} is not a tsgpt run: ${CONFIG_FILE} is missing`);
  const { file, tokenizer } = parseRunFile(readTextBounded(configPath, MAX_CONFIG_BYTES), configPath);
  return { file, tokenizer, configPath };
}

/** Reads a run folder back: the model (in eval mode) with its best weights, and its tokenizer. */
export function loadRun(dir: string): LoadedRun {
  const { file, tokenizer, configPath } = readRunConfig(dir);
  const weightsPath = join(dir, WEIGHTS_FILE);
  if (!existsSync(weightsPath)) throw new TsgptError(`${dir} is not a complete tsgpt run: ${WEIGHTS_FILE} is missing`);
  const model = buildModelFor(file.model, configPath);
  try {
    loadWeights(model, readWeightsFile(weightsPath, file.model, 1), weightsPath);
  } catch (e) {
    model.dispose();
    throw e;
  }
  model.eval();
  return { file, model, tokenizer };
}

/**
 * Reads a safetensors file holding `copies` floats per parameter of `config`, refusing before reading one whose
 * size cannot be right: too small means the config claims a bigger model than the file holds (and building it
 * would allocate for nothing, possibly gigabytes); too large means it is not this model's file.
 */
export function readWeightsFile(path: string, config: ModelConfig, copies: number): Uint8Array {
  const least = 8 + 4 * copies * parameterLowerBound(config);
  const most = 8 + MAX_HEADER_BYTES + 4 * copies * parameterUpperBound(config);
  let size = -1;
  try {
    size = statSync(path).size;
  } catch {
    // readFileBounded reports it.
  }
  if (size >= 0 && size < least) {
    throw new TsgptError(`${path} is ${size} bytes, too small for the model config.json describes (it needs at least ${least})`);
  }
  return readFileBounded(path, most, path);
}

/** createModel, with whatever it throws (a config it rejects, an arena that cannot grow) as a clear error. */
export function buildModelFor(config: ModelConfig, configPath: string): LanguageModel {
  try {
    return createModel(config, new Rng(0));
  } catch (e) {
    throw new TsgptError(`${configPath}: cannot build the model it describes: ${(e as Error).message}`);
  }
}

/** The names that make a folder a run folder (beside them it may hold anything: loss.svg, report.html, notes). */
const RUN_FOLDER_MARKS = [CONFIG_FILE, WEIGHTS_FILE, LOG_FILE, RESUME_DIR];

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
