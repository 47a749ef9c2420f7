/**
 * Moving a run to nanoGPT and back, on disk (the Node edge of src/checkpoint/nanogpt_*.ts):
 *
 *   exportToNanoGpt   a run folder's latest snapshot -> OUT/ckpt.pt (train.py's out_dir) and, for its character
 *                     vocabulary, OUT/meta.pkl (which sample.py reads from nanoGPT's data/<dataset>/); a run on
 *                     GPT-2's tokenizer needs none (sample.py falls back to tiktoken's gpt2)
 *   importNanoGpt     a nanoGPT ckpt.pt (and its meta.pkl, or GPT-2's tokenizer for a model of GPT-2's
 *                     vocabulary) -> a new run folder that samples and resumes
 *
 * Both write whole or not at all, into a path that must not exist yet: the files are made in a temporary
 * sibling folder, which is renamed into place last.
 */
import { createHash, randomBytes } from 'node:crypto';
import { lstatSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { TsgptError } from '../errors.js';
import { encodeNanoGptMeta, decodeNanoGptMeta } from '../checkpoint/nanogpt_meta.js';
import { checkExportable, encodeNanoGptCheckpoint } from '../checkpoint/nanogpt_export.js';
import { buildNanoGptRun, parseNanoGptCheckpoint, type NanoGptCheckpoint } from '../checkpoint/nanogpt_import.js';
import {
  ADAMW_EPS,
  GPT2_PADDED_VOCAB_SIZE,
  GPT2_VOCAB_SIZE,
  NANOGPT_CHECKPOINT_FILE,
  NANOGPT_META_FILE,
} from '../checkpoint/nanogpt_config.js';
import { loadOptimizer } from '../checkpoint/optimizer_state.js';
import { RUN_FORMAT, RUN_FORMAT_VERSION, type RunFile } from '../checkpoint/run_config.js';
import { MAX_PARAMETERS } from '../checkpoint/model_size.js';
import { loadWeights } from '../checkpoint/weights.js';
import { CharTokenizer } from '../tokenizers/char.js';
import { GPT2Tokenizer } from '../tokenizers/gpt2.js';
import type { Tokenizer } from '../tokenizers/tokenizer.js';
import { AdamW } from '../train/adamw.js';
import { syncDirectory, TEMP_MARK, writeFileAtomicSync } from './atomic_write.js';
import { loadCorpus, TINY_SHAKESPEARE } from './corpus.js';
import { type LoadGpt2Options, loadGpt2Tokenizer, readGpt2FolderFiles } from './gpt2_vocab.js';
import { isFolder, makeFolder } from './make_folder.js';
import { describeFsError, readFileBounded } from './read_bounded.js';
import { buildModelFor, LOG_FILE, readRunConfig, saveCheckpoint } from './run_folder.js';
import { readResumable } from './run_resume.js';

/** A ckpt.pt holds the weights and AdamW's two moments: three floats a parameter, and a little more. */
const MAX_CHECKPOINT_BYTES = 12 * MAX_PARAMETERS + 64 * 1024 * 1024;
const MAX_META_BYTES = 64 * 1024 * 1024;
/** What a dataset name may be: a folder name under nanoGPT's data/. */
const DATASET_NAME = /^(?!\.\.?$)[\w.-]{1,100}$/;

export interface ExportOptions {
  /** config['dataset']; by default shakespeare_char for a run on Tiny Shakespeare, else the run folder's name. */
  dataset?: string;
  /** 1 for PyTorch before 2.0 (its nanoGPT keeps the causal masks in the state dict); default 2. */
  pytorch?: 1 | 2;
}

export interface Exported {
  checkpoint: string;
  /** null for a run on GPT-2's tokenizer: sample.py uses GPT-2's when it finds no meta.pkl. */
  meta: string | null;
  dataset: string;
  step: number;
  file: RunFile;
}

export function exportToNanoGpt(runDir: string, outDir: string, options: ExportOptions = {}): Exported {
  refuseExisting(outDir);
  const { file: config } = readRunConfig(runDir);
  checkExportable(config, runDir);
  const dataset = options.dataset ?? defaultDataset(runDir, config);
  if (!DATASET_NAME.test(dataset))
    throw new TsgptError(`--dataset must be a folder name under nanoGPT's data/, got ${JSON.stringify(dataset)}`);
  const r = readResumable(runDir);
  const tokenizer = r.tokenizer;
  if (!(tokenizer instanceof CharTokenizer) && !(tokenizer instanceof GPT2Tokenizer)) {
    throw new Error('nanoGPT export: checkExportable lets character and GPT-2 runs only');
  }
  const model = buildModelFor(r.file.model, runDir);
  const optimizer = new AdamW(model.namedParameters(), {
    beta1: r.file.run.beta1,
    beta2: r.file.run.beta2,
    eps: ADAMW_EPS,
    weightDecay: r.file.run.weightDecay,
  });
  try {
    loadWeights(model, r.weights, r.weightsPath);
    loadOptimizer(optimizer, r.moments, r.momentsPath);
    optimizer.step = r.state.optimizerStep;
    const checkpoint = encodeNanoGptCheckpoint({
      file: r.file,
      model,
      optimizer,
      state: r.state,
      dataset,
      outDir,
      pytorch: options.pytorch ?? 2,
    });
    const meta = tokenizer instanceof CharTokenizer ? encodeNanoGptMeta(tokenizer) : null;
    writeNewFolder(outDir, (tmp) => {
      writeFileAtomicSync(join(tmp, NANOGPT_CHECKPOINT_FILE), checkpoint);
      if (meta !== null) writeFileAtomicSync(join(tmp, NANOGPT_META_FILE), meta);
    });
  } finally {
    model.dispose();
    optimizer.dispose();
  }
  return {
    checkpoint: join(outDir, NANOGPT_CHECKPOINT_FILE),
    meta: tokenizer instanceof CharTokenizer ? join(outDir, NANOGPT_META_FILE) : null,
    dataset,
    step: r.state.step,
    file: r.file,
  };
}

/**
 * nanoGPT's own name for Tiny Shakespeare (shakespeare_char by characters, shakespeare by GPT-2's tokens), so its
 * prepared data/ folder serves; else the folder's name.
 */
function defaultDataset(runDir: string, file: RunFile): string {
  if (file.dataSha256 === TINY_SHAKESPEARE.sha256) return file.tokenizer.type === 'gpt2' ? 'shakespeare' : 'shakespeare_char';
  const name = basename(runDir).replace(/[^\w.-]+/g, '_');
  return DATASET_NAME.test(name) ? name : 'tsgpt';
}

export interface ImportOptions {
  /** nanoGPT's meta.pkl for a character model. */
  meta?: string;
  /** nanoGPT's data/ folder: meta.pkl (and input.txt, the text) are looked for in <dataDir>/<dataset>/. */
  dataDir?: string;
  /** The text the model trained on, recorded so that `tsgpt train --resume` finds it. */
  data?: string;
  /**
   * For a model of GPT-2's vocabulary: 'gpt2' (the cached files, downloaded once; the default) or a folder
   * holding GPT-2's vocabulary files, which the run folder then keeps.
   */
  tokenizer?: string;
  /** Where 'gpt2' finds its files (the cache, a download); tests give their own. */
  gpt2?: LoadGpt2Options;
}

export interface Imported {
  checkpoint: NanoGptCheckpoint;
  file: RunFile;
  /** Where the vocabulary came from, for the user. */
  vocabulary: string;
  /** What was set aside or assumed, for the user. */
  notes: string[];
}

export async function importNanoGpt(from: string, runDir: string, options: ImportOptions = {}): Promise<Imported> {
  refuseExisting(runDir);
  const path = isFolder(from) ? join(from, NANOGPT_CHECKPOINT_FILE) : from;
  const checkpoint = parseNanoGptCheckpoint(readFileBounded(path, MAX_CHECKPOINT_BYTES), path);
  const { tokenizer, source, files } = await findVocabulary(checkpoint, path, options);
  const notes = [...checkpoint.notes];
  const vocabSize = checkpoint.modelArgs.vocabSize;
  if (tokenizer instanceof CharTokenizer && tokenizer.vocabSize !== vocabSize) {
    throw new TsgptError(`${source} holds ${tokenizer.vocabSize} characters but the model in ${path} has ${vocabSize} tokens`);
  }
  if (vocabSize > tokenizer.vocabSize) {
    // nanoGPT rounds GPT-2's vocabulary up to a multiple of 64 for the GPU and keeps the extra rows; no text
    // encodes to them, so they are cut (see buildNanoGptRun) and the run has GPT-2's 50257 tokens.
    notes.push(
      `the ${vocabSize - tokenizer.vocabSize} padding rows nanoGPT adds past GPT-2's ${tokenizer.vocabSize} tokens are cut (no text encodes to them): ` +
        "tsgpt never samples them, and its softmax runs over GPT-2's tokens only, where nanoGPT's gives them a sliver of probability",
    );
  }
  const data = await findText(checkpoint, tokenizer, options);
  if (data === null) notes.push("the text it trained on is not known: give it to 'tsgpt train --resume' with --data");
  const built = buildNanoGptRun(checkpoint, tokenizer.vocabSize, path);
  try {
    const { state } = built;
    const file: RunFile = {
      format: RUN_FORMAT,
      version: RUN_FORMAT_VERSION,
      model: built.modelConfig,
      tokenizer: tokenizer.toJSON(),
      run: built.run,
      data: data?.source ?? `nanoGPT dataset ${checkpoint.dataset ?? '(unnamed)'}`,
      ...(data !== null ? { dataSha256: data.sha256 } : {}),
      training: {
        step: state.step,
        bestValLoss: state.bestValLoss,
        dataRng: state.dataRng,
        evalRng: state.evalRng,
        modelRng: state.modelRng,
        trainLoss: null,
        valLoss: state.bestValLoss,
      },
    };
    const log = {
      type: 'import',
      time: new Date().toISOString(),
      from: path,
      step: state.step,
      config: built.run,
      model: built.modelConfig,
    };
    writeNewFolder(runDir, (tmp) => {
      saveCheckpoint(tmp, { model: built.model, optimizer: built.optimizer, state, file, newBest: true, previous: null });
      writeFileAtomicSync(join(tmp, LOG_FILE), `${JSON.stringify(log)}\n`);
      // A folder's vocabulary goes with the run (readGpt2TokenizerForRun reads it there before the cache).
      for (const f of files) writeFileAtomicSync(join(tmp, f.name), f.text);
    });
    return { checkpoint, file, vocabulary: source, notes };
  } finally {
    built.model.dispose();
    built.optimizer.dispose();
  }
}

/** A checkpoint's vocabulary, where it came from, and the vocabulary files the run folder is to keep. */
interface Vocabulary {
  tokenizer: CharTokenizer | GPT2Tokenizer;
  source: string;
  files: { name: string; text: string }[];
}

/**
 * The vocabulary: characters from --meta, or meta.pkl in --data-dir's folder for the checkpoint's dataset; else,
 * for a model of GPT-2's vocabulary (50257 tokens, or nanoGPT's padded 50304), GPT-2's tokenizer, as nanoGPT's
 * sample.py falls back to tiktoken's gpt2 when it finds no meta.pkl.
 */
async function findVocabulary(c: NanoGptCheckpoint, path: string, options: ImportOptions): Promise<Vocabulary> {
  let meta = options.meta;
  if (meta === undefined && options.dataDir !== undefined) {
    if (c.dataset === null || !DATASET_NAME.test(c.dataset)) {
      throw new TsgptError(`${path} names no dataset to look for in --data-dir ${options.dataDir}; give its meta.pkl with --meta`);
    }
    const beside = join(options.dataDir, c.dataset, NANOGPT_META_FILE);
    // nanoGPT's GPT-2 datasets (data/shakespeare, data/openwebtext) have no meta.pkl: sample.py then uses GPT-2's.
    if (exists(beside)) meta = beside;
    else if (!isGpt2(c)) throw new TsgptError(`there is no ${beside} for the checkpoint's dataset ${JSON.stringify(c.dataset)}`);
  }
  if (meta !== undefined && exists(meta)) {
    if (options.tokenizer !== undefined) throw new TsgptError(`--tokenizer and a meta.pkl (${meta}) both name the vocabulary; give one`);
    return { tokenizer: decodeNanoGptMeta(readFileBounded(meta, MAX_META_BYTES), meta), source: meta, files: [] };
  }
  if (meta !== undefined) throw new TsgptError(`cannot read ${meta}: no such file`);
  if (isGpt2(c)) return gpt2Vocabulary(options);
  throw new TsgptError(
    `${path} holds a model of ${c.modelArgs.vocabSize} tokens, neither GPT-2's (${GPT2_VOCAB_SIZE}, or ${GPT2_PADDED_VOCAB_SIZE} padded) nor ` +
      "one a meta.pkl was given for: give its vocabulary with --meta PATH (nanoGPT's data/<dataset>/meta.pkl) or --data-dir DIR",
  );
}

/** GPT-2's tokenizer: the cached files (downloaded once) for --tokenizer gpt2, the default, or a folder's copy. */
async function gpt2Vocabulary(options: ImportOptions): Promise<Vocabulary> {
  const spec = options.tokenizer ?? 'gpt2';
  let v: Vocabulary;
  if (spec === 'gpt2') {
    const { tokenizer, source } = await loadGpt2Tokenizer(options.gpt2);
    v = { tokenizer, source: `GPT-2's tokenizer in ${source}`, files: [] };
  } else {
    if (!isFolder(spec))
      throw new TsgptError(`--tokenizer ${spec} is not a folder; give gpt2 or a folder holding GPT-2's vocabulary files`);
    const files = readGpt2FolderFiles(spec);
    const [encoder, merges] = files as [(typeof files)[0], (typeof files)[0]];
    const tokenizer = GPT2Tokenizer.fromVocabFiles(encoder.text, merges.text, { encoder: encoder.path, merges: merges.path });
    v = { tokenizer, source: spec, files };
  }
  if (v.tokenizer.vocabSize !== GPT2_VOCAB_SIZE) {
    throw new TsgptError(`${v.source} holds ${v.tokenizer.vocabSize} tokens, not GPT-2's ${GPT2_VOCAB_SIZE}`);
  }
  return v;
}

function isGpt2(c: NanoGptCheckpoint): boolean {
  return c.modelArgs.vocabSize === GPT2_VOCAB_SIZE || c.modelArgs.vocabSize === GPT2_PADDED_VOCAB_SIZE;
}

/**
 * The text the model trained on, when known: --data, else input.txt beside meta.pkl in --data-dir (where
 * nanoGPT's shakespeare_char keeps it). It must give exactly the checkpoint's vocabulary, as resuming requires.
 */
async function findText(
  c: NanoGptCheckpoint,
  tokenizer: Tokenizer,
  options: ImportOptions,
): Promise<{ source: string; sha256: string } | null> {
  let path = options.data;
  if (path === undefined && options.dataDir !== undefined && c.dataset !== null) {
    const beside = join(options.dataDir, c.dataset, 'input.txt');
    if (exists(beside)) path = beside;
  }
  if (path === undefined) return null;
  const { text } = await loadCorpus({ path });
  // GPT-2's byte-level tokenizer encodes any text; characters must be exactly the model's.
  if (tokenizer instanceof CharTokenizer && CharTokenizer.fromText(text).chars.join('') !== tokenizer.chars.join('')) {
    throw new TsgptError(
      `${path} does not give the checkpoint's vocabulary of ${tokenizer.vocabSize} characters; pass the text it trained on`,
    );
  }
  return { source: path, sha256: createHash('sha256').update(text, 'utf8').digest('hex') };
}

function exists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

function refuseExisting(path: string): void {
  if (exists(path)) throw new TsgptError(`${path} already exists; choose a new folder (nothing was written)`);
}

/** Makes the folder `path` by `fill`ing a temporary sibling and renaming it into place: all of it or nothing. */
function writeNewFolder(path: string, fill: (tmp: string) => void): void {
  makeFolder(dirname(path), `the folder of ${path}`);
  const tmp = join(dirname(path), `.${basename(path)}${TEMP_MARK}${process.pid}-${randomBytes(6).toString('hex')}`);
  try {
    mkdirSync(tmp);
    fill(tmp);
    syncDirectory(tmp);
    refuseExisting(path);
    renameSync(tmp, path);
    syncDirectory(dirname(path));
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    if (err instanceof TsgptError) throw err;
    throw new TsgptError(`cannot write ${path}: ${describeFsError(err)}`);
  }
}
