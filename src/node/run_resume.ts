/**
 * Reading the latest snapshot of a run folder for `tsgpt train --resume`, and putting a trainer back into it.
 * The snapshot is the one config.json points at (see run_folder.ts for why that one is always whole); its files
 * are checked against the sizes and SHA-256 digests state.json recorded, then decoded with the same strict
 * readers as everything else, so a damaged snapshot is refused by name instead of resumed from.
 */
import { join } from 'node:path';
import { TsgptError } from '../errors.js';
import { readTextBounded } from './read_bounded.js';
import type { Tokenizer } from '../tokenizers/tokenizer.js';
import type { ResumeState, Trainer } from '../train/trainer.js';
import { loadOptimizer } from '../checkpoint/optimizer_state.js';
import { checkRunMatchesModel, type ResumePointer, type RunFile } from '../checkpoint/run_config.js';
import { parseResumeFile } from '../checkpoint/resume_state.js';
import { digest, OPTIMIZER_FILE, readRunConfig, readWeightsFile, STATE_FILE, WEIGHTS_FILE, withBestOnDisk } from './run_folder.js';
import { loadWeights } from '../checkpoint/weights.js';

export interface ResumableRun {
  file: RunFile;
  tokenizer: Tokenizer;
  pointer: ResumePointer;
  state: ResumeState;
  /** The snapshot's weights and optimizer state (AdamW's moments, Muon's buffers), as verified bytes (decoded by restoreTrainer). */
  weights: Uint8Array;
  moments: Uint8Array;
  /** Paths for messages. */
  weightsPath: string;
  momentsPath: string;
}

export function readResumable(dir: string): ResumableRun {
  const { file, tokenizer, configPath } = readRunConfig(dir);
  checkRunMatchesModel(file.run, file.model, configPath);
  const pointer = file.training.resume;
  if (pointer === undefined) {
    throw new TsgptError(
      `${dir} has no resume state (${configPath} names none: it was written by an older tsgpt); start a new run instead`,
    );
  }
  const folder = join(dir, pointer.folder);
  const statePath = join(folder, STATE_FILE);
  const resume = parseResumeFile(readTextBounded(statePath, 1024 * 1024), statePath, [WEIGHTS_FILE, OPTIMIZER_FILE]);
  if (resume.state.step !== pointer.step) {
    throw new TsgptError(`${statePath}: step ${resume.state.step} does not match step ${pointer.step} in ${configPath}`);
  }
  const read = (name: string, copies: number): [Uint8Array, string] => {
    const path = join(folder, name);
    const expected = resume.files[name]!;
    const bytes = readWeightsFile(path, file.model, copies);
    const actual = digest(bytes);
    if (actual.bytes !== expected.bytes || actual.sha256 !== expected.sha256) {
      throw new TsgptError(`${path} does not match the size and SHA-256 recorded in ${statePath}: the snapshot is damaged`);
    }
    return [bytes, path];
  };
  const [weights, weightsPath] = read(WEIGHTS_FILE, 1);
  const [moments, momentsPath] = read(OPTIMIZER_FILE, 2);
  return {
    file: withBestOnDisk(dir, file, configPath),
    tokenizer,
    pointer,
    state: resume.state,
    weights,
    moments,
    weightsPath,
    momentsPath,
  };
}

/** Loads the snapshot's weights and moments into the trainer's model and optimizer and restores its counters. */
export function restoreTrainer(trainer: Trainer, r: ResumableRun): void {
  loadWeights(trainer.model, r.weights, r.weightsPath);
  loadOptimizer(trainer.optimizer, r.moments, r.momentsPath, trainer.muon);
  trainer.restore(r.state);
}
