/**
 * Tokenizers on disk, as `--tokenizer` names them: "gpt2" (GPT-2's, downloaded once into the cache), a folder
 * holding GPT-2's vocabulary files, or a tokenizer file (a trained BPE's, as `tsgpt tokenizer train` writes it,
 * or a character tokenizer's JSON).
 */
import { statSync } from 'node:fs';
import { TsgptError } from '../errors.js';
import type { BpeTokenizer } from '../tokenizers/bpe.js';
import { tokenizerFromJSON } from '../tokenizers/from_json.js';
import type { Tokenizer } from '../tokenizers/tokenizer.js';
import { oneLine } from '../validate.js';
import { writeFileAtomicSync } from './atomic_write.js';
import { type LoadGpt2Options, loadGpt2Tokenizer, readGpt2Folder } from './gpt2_vocab.js';
import { describeFsError, readTextBounded } from './read_bounded.js';

/** A trained tokenizer of 2^21 tokens takes about 60 MB; anything larger is not a tokenizer file. */
const MAX_TOKENIZER_FILE_BYTES = 128 << 20;

/** "gpt2", a folder of GPT-2's files, or a tokenizer file. */
export async function loadTokenizer(spec: string, opts: LoadGpt2Options = {}): Promise<{ tokenizer: Tokenizer; source: string }> {
  if (spec === 'gpt2') return loadGpt2Tokenizer(opts);
  let folder: boolean;
  try {
    folder = statSync(spec).isDirectory();
  } catch (err) {
    throw new TsgptError(
      `no tokenizer at ${spec} (${describeFsError(err)}); give gpt2, a folder of GPT-2's vocabulary files or a tokenizer file`,
    );
  }
  return { tokenizer: folder ? readGpt2Folder(spec) : readTokenizerFile(spec), source: spec };
}

/** A tokenizer file: JSON with a "type" ("bpe" or "char"). */
export function readTokenizerFile(path: string): Tokenizer {
  const text = readTextBounded(path, MAX_TOKENIZER_FILE_BYTES);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new TsgptError(`${path}: not a tokenizer file (not valid JSON: ${oneLine((e as Error).message)})`);
  }
  return tokenizerFromJSON(json, path);
}

/** Writes a trained tokenizer's file, atomically: an interrupted write leaves the old file or none. */
export function writeTokenizerFile(path: string, tokenizer: BpeTokenizer): void {
  try {
    writeFileAtomicSync(path, tokenizer.toFileText());
  } catch (err) {
    throw new TsgptError(`cannot write ${path}: ${describeFsError(err)}`);
  }
}
