/**
 * GPT-2's vocabulary files, rebuilt offline from the ranks js-tiktoken (a dev dependency) ships inside its npm
 * package, so that no test or benchmark needs the network. js-tiktoken holds each token's bytes, by id; the files
 * also need the pair each token was merged from, which is what byte-pair encoding the token's own bytes with
 * the earlier tokens alone leaves as its last two parts. The rebuilt files are byte for byte OpenAI's: their
 * SHA-256 is the one the download checks (a test asserts it).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ranks from 'js-tiktoken/ranks/gpt2';
import { GPT2Tokenizer } from '../../src/tokenizers/gpt2.js';
import { gpt2TokenText } from '../../src/tokenizers/gpt2_vocab_files.js';

export interface Gpt2VocabFiles {
  encoderJson: string;
  vocabBpe: string;
}

let files: Gpt2VocabFiles | undefined;
let tokenizer: GPT2Tokenizer | undefined;

/** Each token's bytes by id, from js-tiktoken's compressed ranks ("! 0 <base64> <base64> ..."). */
export function tiktokenGpt2Tokens(): Uint8Array[] {
  const tokens: Uint8Array[] = [];
  for (const line of ranks.bpe_ranks.split('\n')) {
    if (line === '') continue;
    const [, offset, ...encoded] = line.split(' ');
    encoded.forEach((b64, i) => {
      tokens[Number(offset) + i] = Uint8Array.from(Buffer.from(b64, 'base64'));
    });
  }
  return tokens;
}

export function gpt2VocabFiles(): Gpt2VocabFiles {
  if (files !== undefined) return files;
  const tokens = tiktokenGpt2Tokens();
  const latin1 = (bytes: Uint8Array) => Buffer.from(bytes).toString('latin1');
  const rankOf = new Map(tokens.map((bytes, id) => [latin1(bytes), id]));
  let vocabBpe = '#version: 0.2\n';
  for (let id = 256; id < tokens.length; id++) {
    const [left, right] = lastMerge(latin1(tokens[id]!), id, rankOf);
    vocabBpe += `${gpt2TokenText(Buffer.from(left, 'latin1'))} ${gpt2TokenText(Buffer.from(right, 'latin1'))}\n`;
  }
  // Python's json.dumps: ", " and ": " between items, every non-ASCII character as a \u escape.
  const entries = tokens.map((bytes, id) => `${pythonJsonString(gpt2TokenText(bytes))}: ${id}`);
  for (const [name, id] of Object.entries(ranks.special_tokens)) entries.push(`${pythonJsonString(name)}: ${id}`);
  files = { encoderJson: `{${entries.join(', ')}}`, vocabBpe };
  return files;
}

/** GPT-2's tokenizer built from the rebuilt files (once per process). */
export function gpt2ForTests(): GPT2Tokenizer {
  if (tokenizer === undefined) {
    const { encoderJson, vocabBpe } = gpt2VocabFiles();
    tokenizer = GPT2Tokenizer.fromVocabFiles(encoderJson, vocabBpe);
  }
  return tokenizer;
}

/** Writes encoder.json and vocab.bpe (or, with `huggingFace`, vocab.json and merges.txt) into `dir`. */
export function writeGpt2VocabFolder(dir: string, huggingFace = false): string {
  const { encoderJson, vocabBpe } = gpt2VocabFiles();
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, huggingFace ? 'vocab.json' : 'encoder.json'), encoderJson);
  writeFileSync(join(dir, huggingFace ? 'merges.txt' : 'vocab.bpe'), vocabBpe);
  return dir;
}

/** The two parts that byte-pair encoding `token` with the tokens below `id` ends with. */
function lastMerge(token: string, id: number, rankOf: Map<string, number>): [string, string] {
  const parts = [...token];
  while (parts.length > 2) {
    let best = id;
    let at = -1;
    for (let i = 0; i + 1 < parts.length; i++) {
      const rank = rankOf.get(parts[i]! + parts[i + 1]!);
      if (rank !== undefined && rank < best) [best, at] = [rank, i];
    }
    if (at < 0) break;
    parts.splice(at, 2, parts[at]! + parts[at + 1]!);
  }
  if (parts.length !== 2) throw new Error(`token ${id} is not the merge of two earlier tokens`);
  return [parts[0]!, parts[1]!];
}

function pythonJsonString(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.charCodeAt(0);
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (c >= 0x20 && c < 0x7f) out += ch;
    else out += `\\u${c.toString(16).padStart(4, '0')}`;
  }
  return `${out}"`;
}
