/**
 * state.json of a resume snapshot: the trainer's counters and random generators (ResumeState) and, for each
 * tensor file of the snapshot, its size and SHA-256. Pure (no files): run_folder.ts reads and writes it.
 *
 * The checksums make a damaged or doctored snapshot fail loudly: a resumed run built on a flipped bit would
 * otherwise go on silently from weights nobody trained.
 */
import { TsgptError } from '../errors.js';
import { asObject, describe, integer, parseVersionedJson } from '../validate.js';
import type { RngState } from '../engine/random.js';
import type { ResumeState, TrainerState } from '../train/trainer.js';

export const RESUME_FORMAT = 'tsgpt-resume';
export const RESUME_FORMAT_VERSION = 1;
/** Steps and counters: the --max-iters limit, so anything larger is not a number a run can reach. */
const MAX_STEP = 1e9;

export interface FileDigest {
  bytes: number;
  sha256: string;
}

export interface ResumeFile {
  format: typeof RESUME_FORMAT;
  version: number;
  state: ResumeState;
  /** Keyed by file name within the snapshot folder. */
  files: Record<string, FileDigest>;
}

export function encodeResumeFile(state: ResumeState, files: Record<string, FileDigest>): string {
  const file: ResumeFile = { format: RESUME_FORMAT, version: RESUME_FORMAT_VERSION, state, files };
  return `${JSON.stringify(file, null, 2)}\n`;
}

/** Parses state.json, checking every field; `expectedFiles` are the names whose digests must be present. */
export function parseResumeFile(text: string, label: string, expectedFiles: readonly string[]): ResumeFile {
  const obj = parseVersionedJson(text, label, RESUME_FORMAT, RESUME_FORMAT_VERSION, 'a tsgpt resume state');
  const s = asObject(obj.state, `${label}: state`);
  const base = parseTrainerState(s, `${label}: state`);
  const optimizerStep = integer(s.optimizerStep, `${label}: state.optimizerStep`, 0, MAX_STEP);
  const evaluatedStep = s.evaluatedStep === null ? null : integer(s.evaluatedStep, `${label}: state.evaluatedStep`, 0, base.step);
  const filesObj = asObject(obj.files, `${label}: files`);
  const files: Record<string, FileDigest> = {};
  for (const name of expectedFiles) files[name] = parseFileDigest(filesObj[name], `${label}: files[${JSON.stringify(name)}]`);
  return { format: RESUME_FORMAT, version: RESUME_FORMAT_VERSION, state: { ...base, optimizerStep, evaluatedStep }, files };
}

/** A file's size and SHA-256, as state.json and config.json record them. */
export function parseFileDigest(value: unknown, label: string): FileDigest {
  const f = asObject(value, label);
  const sha256 = f.sha256;
  if (typeof sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(sha256)) {
    throw new TsgptError(`${label}.sha256 must be 64 hex digits, got ${describe(sha256)}`);
  }
  return { bytes: integer(f.bytes, `${label}.bytes`, 0, Number.MAX_SAFE_INTEGER), sha256 };
}

/** The TrainerState fields of `obj` (config.json's training section has them too), each checked. */
export function parseTrainerState(obj: Record<string, unknown>, label: string): TrainerState {
  const bestValLoss = obj.bestValLoss;
  if (bestValLoss !== null && !(typeof bestValLoss === 'number' && Number.isFinite(bestValLoss))) {
    throw new TsgptError(`${label}.bestValLoss must be a number or null, got ${describe(bestValLoss)}`);
  }
  return {
    step: integer(obj.step, `${label}.step`, 0, MAX_STEP),
    bestValLoss,
    dataRng: parseRngState(obj.dataRng, `${label}.dataRng`),
    evalRng: parseRngState(obj.evalRng, `${label}.evalRng`),
    modelRng: parseRngState(obj.modelRng, `${label}.modelRng`),
  };
}

function parseRngState(value: unknown, label: string): RngState {
  const obj = asObject(value, label);
  const s = obj.s;
  if (!Array.isArray(s) || s.length !== 4 || !s.every((w) => Number.isInteger(w) && w >= 0 && w <= 0xffffffff)) {
    throw new TsgptError(`${label}.s must be four integers from 0 to 4294967295`);
  }
  // xoshiro's one forbidden state: from all zeros it only ever returns zeros.
  if (s.every((w) => w === 0)) throw new TsgptError(`${label}.s is all zeros, which no generator ever reaches`);
  const spare = obj.spareNormal;
  if (spare !== null && !(typeof spare === 'number' && Number.isFinite(spare))) {
    throw new TsgptError(`${label}.spareNormal must be a number or null, got ${describe(spare)}`);
  }
  return { s: [...(s as number[])], spareNormal: spare };
}
