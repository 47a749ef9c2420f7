/**
 * Run folders in a browser: read from the Files of a folder picker or a drop, from Blobs and ArrayBuffers, or
 * from a zip of the folder; written as a zip that unpacks into a folder `tsgpt sample --from` (and
 * `tsgpt train --resume`) accept. The checks are Node's (src/checkpoint/run_files.ts): config.json parsed
 * as hostile input, the weights' size and recorded SHA-256, every tensor's name, shape and finiteness.
 * Nothing here needs Node or the DOM beyond Blob, so it runs in pages, workers and Node alike.
 */
import { parseRunFile, type RunFile } from '../checkpoint/run_config.js';
import {
  CONFIG_FILE,
  checkByteLimit,
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
import { encodeResumeFile, type FileDigest } from '../checkpoint/resume_state.js';
import { TsgptError } from '../errors.js';
import { sha256Hex } from '../io/sha256.js';
import { decodeUtf8Text } from '../io/utf8.js';
import { encodeStoredZip, readZip, type ZipEntry } from '../io/zip.js';
import type { ResumeState } from '../train/trainer.js';

/** One file's content. */
export type RunFileSource = Blob | ArrayBuffer | Uint8Array;

/**
 * A run folder as a browser holds it: the Files of a folder picker (<input webkitdirectory>) or a drop (their
 * webkitRelativePath or name says where each sits), a zip of the folder as one Blob, or contents by path.
 */
export type RunFolderInput = ArrayLike<File> | Iterable<File> | Blob | Map<string, RunFileSource> | Record<string, RunFileSource>;

/** A run folder's files by their path inside it ('config.json', 'resume/step-.../state.json'). */
export type RunFolderFiles = Map<string, Uint8Array>;

/**
 * The files of a run folder, by their path inside it. The folder is where config.json is: a picked or
 * zipped folder may sit inside others ('runs/baby/config.json'), and what lies outside it is left out.
 */
export async function readRunFolderFiles(input: RunFolderInput, label = 'the run folder'): Promise<RunFolderFiles> {
  const byPath = new Map<string, Uint8Array>();
  if (input instanceof Blob && !(input instanceof File)) input = [new File([input], 'run folder')];
  if (input instanceof File) input = [input];
  if (input instanceof Map || isRecordOfSources(input)) {
    const entries = input instanceof Map ? [...input] : Object.entries(input);
    for (const [path, source] of entries) byPath.set(path, await bytesOf(source));
  } else {
    const files = Array.from(input as Iterable<File>);
    const zip = files.length === 1 && (await isZip(files[0]!)) ? files[0]! : null;
    if (zip !== null) {
      for (const e of await readZip(await bytesOf(zip), label)) byPath.set(e.name, e.bytes);
    } else {
      for (const f of files) byPath.set(f.webkitRelativePath || f.name, await bytesOf(f));
    }
  }
  return underConfig(byPath, label);
}

/** Loads a run folder's model with its best weights and its tokenizer, checked as Node's loadRun checks them. */
export function loadRunFromFiles(files: RunFolderFiles, label = 'the run folder'): LoadedRun {
  const configLabel = `${label}/${CONFIG_FILE}`;
  const configBytes = files.get(CONFIG_FILE);
  if (configBytes === undefined) throw new TsgptError(`${label} is not a tsgpt run: ${CONFIG_FILE} is missing`);
  const text = decodeUtf8Text(checkByteLimit(configBytes, MAX_CONFIG_BYTES, configLabel), configLabel);
  const { file, tokenizer } = parseRunFile(text, configLabel);
  const weightsLabel = `${label}/${WEIGHTS_FILE}`;
  const bytes = files.get(WEIGHTS_FILE);
  if (bytes === undefined) throw new TsgptError(`${label} is not a complete tsgpt run: ${WEIGHTS_FILE} is missing`);
  checkByteLimit(bytes, checkWeightsSize(bytes.length, file.model, 1, weightsLabel), weightsLabel);
  const actual = digest(bytes);
  checkRecordedWeights(actual, file, weightsLabel, configLabel);
  const model = modelFromWeights(file.model, bytes, configLabel, weightsLabel);
  return { file, model, tokenizer, weightsSha256: actual.sha256 };
}

/** readRunFolderFiles, then loadRunFromFiles. */
export async function loadRunFolder(input: RunFolderInput, label = 'the run folder'): Promise<LoadedRun> {
  return loadRunFromFiles(await readRunFolderFiles(input, label), label);
}

/** A resumable snapshot: what `tsgpt train --resume` continues from. */
export interface RunSnapshot {
  state: ResumeState;
  /** The current weights and the optimizers' state (encodeWeights, encodeOptimizer). */
  weights: Uint8Array;
  moments: Uint8Array;
}

export interface RunFolderContents {
  /** config.json without the weights' digest, which is filled in here (and without a resume pointer). */
  file: RunFile;
  /** model.safetensors: the best weights, encodeWeights(model, bestMetadata(file)). */
  weights: Uint8Array;
  /** log.jsonl's text, if there is a log. */
  log?: string;
  /** The latest state, for --resume. */
  snapshot?: RunSnapshot;
}

/**
 * A run folder as zip entries under `folder/`: config.json (with the weights' size and SHA-256, and a pointer
 * to the snapshot when there is one), model.safetensors, log.jsonl and resume/step-<step>-<id>/.
 */
export function runFolderEntries(contents: RunFolderContents, folder: string): ZipEntry[] {
  const { snapshot } = contents;
  const entries: ZipEntry[] = [];
  let file: RunFile = { ...contents.file, weights: [digest(contents.weights)] };
  if (snapshot !== undefined) {
    const id = Array.from(crypto.getRandomValues(new Uint8Array(4)), (b) => b.toString(16).padStart(2, '0')).join('');
    const snapshotFolder = `${RESUME_DIR}/step-${String(snapshot.state.step).padStart(6, '0')}-${id}`;
    const state = encodeResumeFile(snapshot.state, {
      [WEIGHTS_FILE]: digest(snapshot.weights),
      [OPTIMIZER_FILE]: digest(snapshot.moments),
    });
    entries.push(
      { name: `${snapshotFolder}/${WEIGHTS_FILE}`, bytes: snapshot.weights },
      { name: `${snapshotFolder}/${OPTIMIZER_FILE}`, bytes: snapshot.moments },
      { name: `${snapshotFolder}/${STATE_FILE}`, bytes: new TextEncoder().encode(state) },
    );
    file = { ...file, training: { ...file.training, resume: { step: snapshot.state.step, folder: snapshotFolder } } };
  }
  entries.unshift(
    { name: CONFIG_FILE, bytes: new TextEncoder().encode(runConfigText(file)) },
    { name: WEIGHTS_FILE, bytes: contents.weights },
  );
  if (contents.log !== undefined) entries.splice(2, 0, { name: LOG_FILE, bytes: new TextEncoder().encode(contents.log) });
  return entries.map((e) => ({ name: `${folder}/${e.name}`, bytes: e.bytes }));
}

/** The run folder as one zip file that unpacks into `folder/`. */
export function runFolderZip(contents: RunFolderContents, folder = 'tsgpt-run'): Uint8Array<ArrayBuffer> {
  return encodeStoredZip(runFolderEntries(contents, folder));
}

function digest(bytes: Uint8Array): FileDigest {
  return { bytes: bytes.length, sha256: sha256Hex(bytes) };
}

/** Keeps the files under the folder that holds config.json, by their paths inside it. */
function underConfig(byPath: Map<string, Uint8Array>, label: string): RunFolderFiles {
  const depth = (p: string) => p.split('/').length;
  const configs = [...byPath.keys()].filter((p) => p === CONFIG_FILE || p.endsWith(`/${CONFIG_FILE}`));
  if (configs.length === 0) throw new TsgptError(`${label} is not a tsgpt run: ${CONFIG_FILE} is missing`);
  const top = Math.min(...configs.map(depth));
  const shallowest = configs.filter((p) => depth(p) === top);
  if (shallowest.length > 1) {
    throw new TsgptError(`${label} holds several runs (${shallowest.join(', ')}); give one run folder at a time`);
  }
  const prefix = shallowest[0]!.slice(0, -CONFIG_FILE.length);
  const files: RunFolderFiles = new Map();
  for (const [path, bytes] of byPath) if (path.startsWith(prefix)) files.set(path.slice(prefix.length), bytes);
  return files;
}

async function bytesOf(source: RunFileSource): Promise<Uint8Array> {
  if (source instanceof Uint8Array) return source;
  if (source instanceof ArrayBuffer) return new Uint8Array(source);
  return new Uint8Array(await source.arrayBuffer());
}

/** A zip starts with a local file header, "PK\x03\x04". */
async function isZip(blob: Blob): Promise<boolean> {
  const head = new Uint8Array(await blob.slice(0, 4).arrayBuffer());
  return head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04;
}

function isRecordOfSources(input: RunFolderInput): input is Record<string, RunFileSource> {
  return (
    typeof input === 'object' &&
    input !== null &&
    !(Symbol.iterator in input) &&
    !('length' in input && typeof (input as ArrayLike<File>).length === 'number')
  );
}
