/**
 * The memory-folder reader against hostile files, as run folders are fuzzed: a valid memory is mutated many
 * times (bytes flipped and cut in memory.safetensors, with config.json's SHA-256 fixed up so the damage reaches
 * the tensor checks rather than stopping at the checksum; config.json's bytes flipped; its fields given wrong
 * types and sizes) and loaded as every command loads it. Each load must succeed with finite keys, tokens in the
 * vocabulary and a true context order, or fail with a one-line TsgptError: never another exception, a hang, or
 * a big allocation.
 *
 * TSGPT_FUZZ_ITERS sets the number of mutated folders (default 600); more by hand.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Rng } from '../../src/engine/random.js';
import { TsgptError } from '../../src/errors.js';
import { buildMemory } from '../../src/memory/build_memory.js';
import { compareContexts } from '../../src/memory/context_index.js';
import { GPT } from '../../src/models/gpt.js';
import { loadMemory, saveMemory } from '../../src/node/memory_folder.js';
import { CharTokenizer } from '../../src/tokenizers/char.js';

const ITERS = Number(process.env.TSGPT_FUZZ_ITERS ?? 600);
const dir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'tsgpt-memory-fuzz-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const tokenizer = CharTokenizer.fromText('abcdefgh');
const model = new GPT(
  { kind: 'gpt', vocabSize: 8, blockSize: 8, nLayer: 1, nHead: 2, nEmbd: 8, dropout: 0, bias: false, style: 'nanogpt' },
  new Rng(5),
);
const rng = new Rng(11);
const tokens = Int32Array.from({ length: 200 }, () => rng.int(8));
const SHA = 'a'.repeat(64);
const memory = buildMemory(model, tokens, { tokenizer, source: 'fuzz', textSha256: SHA, weightsSha256: SHA });
const original = join(dir, 'original');
saveMemory(original, memory);
memory.dispose();
model.dispose();

const TENSORS = 'memory.safetensors';
const CONFIG = 'config.json';

/** Writes tensor bytes and records their size and SHA-256 in config.json, as a careful forger would. */
function forge(folder: string, bytes: Uint8Array): void {
  writeFileSync(join(folder, TENSORS), bytes);
  const config = JSON.parse(readFileSync(join(folder, CONFIG), 'utf8'));
  config.files[TENSORS] = { bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') };
  writeFileSync(join(folder, CONFIG), JSON.stringify(config));
}

const WRONG_VALUES: unknown[] = [null, -1, 0, 1.5, 2 ** 40, 'x', [], {}, true, 1e308];
const CONFIG_PATHS: string[][] = [
  ['count'],
  ['dtype'],
  ['point'],
  ['model', 'width'],
  ['model', 'vocabSize'],
  ['scoring', 'k'],
  ['scoring', 'temperature'],
  ['scoring', 'score'],
  ['format'],
  ['version'],
  ['tokenizer'],
];

function mutate(folder: string, r: Rng): string {
  const kind = r.int(5);
  const bytes = new Uint8Array(readFileSync(join(folder, TENSORS)));
  if (kind === 0) {
    const n = 1 + r.int(8);
    for (let i = 0; i < n; i++) bytes[r.int(bytes.length)]! ^= 1 << r.int(8);
    forge(folder, bytes);
    return 'tensor bytes flipped';
  }
  if (kind === 1) {
    forge(folder, bytes.subarray(0, r.int(bytes.length)));
    return 'tensors cut';
  }
  if (kind === 2) {
    // The header's first bytes: its length and the JSON of shapes and offsets.
    for (let i = 0; i < 3; i++) bytes[r.int(Math.min(bytes.length, 400))] = r.int(256);
    forge(folder, bytes);
    return 'tensor header changed';
  }
  const config = readFileSync(join(folder, CONFIG));
  if (kind === 3) {
    for (let i = 0; i < 1 + r.int(4); i++) config[r.int(config.length)] = 32 + r.int(95);
    writeFileSync(join(folder, CONFIG), config);
    return 'config bytes changed';
  }
  const json = JSON.parse(config.toString('utf8'));
  const path = CONFIG_PATHS[r.int(CONFIG_PATHS.length)]!;
  let at = json;
  for (const key of path.slice(0, -1)) at = at[key];
  at[path.at(-1)!] = WRONG_VALUES[r.int(WRONG_VALUES.length)];
  writeFileSync(join(folder, CONFIG), JSON.stringify(json));
  return `config ${path.join('.')} changed`;
}

test(`memory folders: ${ITERS} mutated folders load whole or fail in one line`, () => {
  const r = new Rng(1337);
  let loaded = 0;
  const refusals = new Set<string>();
  for (let i = 0; i < ITERS; i++) {
    const folder = join(dir, `m${i % 4}`);
    rmSync(folder, { recursive: true, force: true });
    cpSync(original, folder, { recursive: true });
    const what = mutate(folder, r);
    try {
      const m = loadMemory(folder);
      loaded++;
      assert.ok(m.keys.data.every(Number.isFinite), `${what}: finite keys`);
      assert.ok(
        m.tokens.every((t) => t >= 0 && t < m.config.model.vocabSize),
        `${what}: tokens in the vocabulary`,
      );
      for (let j = 1; j < m.order.length; j++)
        assert.ok(compareContexts(m.tokens, m.order[j - 1]!, m.order[j]!) <= 0, `${what}: order sorted`);
      m.dispose();
    } catch (err) {
      if (!(err instanceof TsgptError)) throw new Error(`${what}: not a TsgptError: ${(err as Error).stack}`);
      assert.equal(err.message.includes('\n'), false, `${what}: one line, got ${err.message}`);
      refusals.add(err.message.replace(/[0-9]+/g, 'N').slice(0, 60));
    }
  }
  console.log(`# ${loaded} loaded, ${ITERS - loaded} refused, for ${refusals.size} kinds of reason`);
  // Both outcomes happen: some mutations are harmless (a flipped key bit), most are caught, for many reasons.
  assert.ok(loaded > 0, 'some mutated memories still load');
  assert.ok(refusals.size >= 8, `refused for ${refusals.size} kinds of reason`);
});
