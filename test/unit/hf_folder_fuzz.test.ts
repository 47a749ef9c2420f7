/**
 * The Hugging Face GPT-2 folder reader against hostile files, as checkpoint_fuzz.test.ts treats run folders: the
 * small random GPT-2 of test/fixtures/gpt2_tiny/ is mutated (model.safetensors truncated, bit-flipped, its
 * header rewritten with wrong dtypes, shapes, offsets and names; config.json's fields given wrong types, huge
 * sizes or removed; vocab.json and merges.txt damaged) and loaded as `tsgpt sample --from FOLDER` loads it. Each
 * load must succeed with finite weights of the config's shapes, or fail with a one-line TsgptError: never another
 * exception or a big allocation.
 *
 * TSGPT_FUZZ_ITERS sets the number of mutated folders (default 2000); more by hand.
 */
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { defaultArena } from '../../src/engine/arena.js';
import { Rng } from '../../src/engine/random.js';
import { TsgptError } from '../../src/errors.js';
import { loadHfFolder } from '../../src/node/hf_folder.js';
import { FIXTURES } from '../helpers/fixtures.js';

const ITERS = Number(process.env.TSGPT_FUZZ_ITERS ?? 2000);
const TINY = fileURLToPath(new URL('gpt2_tiny/', FIXTURES));
const dir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'tsgpt-hf-fuzz-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const FILES = ['config.json', 'model.safetensors', 'vocab.json', 'merges.txt'] as const;
const original = Object.fromEntries(FILES.map((f) => [f, readFileSync(join(TINY, f))])) as Record<(typeof FILES)[number], Buffer>;

/** The header JSON of a safetensors file and the bytes after it. */
function splitSafetensors(bytes: Buffer): { header: Record<string, unknown>; data: Buffer } {
  const n = Number(bytes.readBigUInt64LE(0));
  return { header: JSON.parse(bytes.subarray(8, 8 + n).toString('utf8')), data: bytes.subarray(8 + n) };
}

function joinSafetensors(header: unknown, data: Buffer): Buffer {
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([length, json, data]);
}

const WEIRD_VALUES: unknown[] = [null, -1, 0, 1.5, 1e9, 2 ** 53, '12', true, [], {}, 'gelu', 'gelu_new', 'relu'];

function parses(fn: () => unknown): boolean {
  try {
    fn();
    return true;
  } catch {
    return false;
  }
}

/** One random damage to one file of the folder. */
function mutate(rng: Rng, files: Record<string, Buffer>): string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rng.uniform() * xs.length)]!;
  let kind = Math.floor(rng.uniform() * 8);
  // A second mutation may find a file the first made unparsable: then it truncates instead.
  if (kind === 2 && !parses(() => splitSafetensors(files['model.safetensors']!))) kind = 0;
  if ((kind === 3 || kind === 4) && !parses(() => JSON.parse(files['config.json']!.toString('utf8')))) kind = 5;
  const weights = files['model.safetensors']!;
  if (kind === 0) {
    const at = Math.floor(rng.uniform() * weights.length);
    files['model.safetensors'] = weights.subarray(0, at);
    return `weights truncated at ${at}`;
  }
  if (kind === 1) {
    const copy = Buffer.from(weights);
    // Mostly in the header, where a flip changes meaning; sometimes in the data (a NaN or infinity may appear).
    const at = rng.uniform() < 0.7 ? Math.floor(rng.uniform() * Math.min(copy.length, 2048)) : Math.floor(rng.uniform() * copy.length);
    copy[at]! ^= 1 << Math.floor(rng.uniform() * 8);
    files['model.safetensors'] = copy;
    return `weights bit flip at ${at}`;
  }
  if (kind === 2) {
    const { header, data } = splitSafetensors(weights);
    const names = Object.keys(header).filter((k) => k !== '__metadata__');
    const name = pick(names);
    const entry = header[name] as { dtype: string; shape: number[]; data_offsets: number[] };
    const field = pick(['dtype', 'shape', 'data_offsets', 'name', 'drop', 'extra'] as const);
    if (field === 'dtype') entry.dtype = pick(['F16', 'BF16', 'F64', 'I32', 'U8', 'Q4', 'f32']);
    else if (field === 'shape') entry.shape = pick([[], [1], [2 ** 31, 2 ** 31], entry.shape.slice().reverse(), [...entry.shape, 1], [0]]);
    else if (field === 'data_offsets') entry.data_offsets = entry.data_offsets.map((o) => o + pick([-4, 4, 2 ** 40]));
    else if (field === 'name') {
      header[name.replace(/\d/, '9')] = entry;
      delete header[name];
    } else if (field === 'drop') delete header[name];
    else header['h.0.attn.extra'] = entry;
    files['model.safetensors'] = joinSafetensors(header, data);
    return `header ${name}: ${field}`;
  }
  if (kind === 3 || kind === 4) {
    const config = JSON.parse(files['config.json']!.toString('utf8')) as Record<string, unknown>;
    const key = pick([...Object.keys(config), 'n_ctx', 'scale_attn_weights', 'add_cross_attention']);
    if (kind === 3) delete config[key];
    else config[key] = pick(WEIRD_VALUES);
    files['config.json'] = Buffer.from(JSON.stringify(config));
    return `config ${key} ${kind === 3 ? 'removed' : 'changed'}`;
  }
  const file = pick(['config.json', 'vocab.json', 'merges.txt'] as const);
  const text = files[file]!;
  if (kind === 5) {
    files[file] = text.subarray(0, Math.floor(rng.uniform() * text.length));
    return `${file} truncated`;
  }
  const copy = Buffer.from(text);
  const at = Math.floor(rng.uniform() * copy.length);
  copy[at] = kind === 6 ? Math.floor(rng.uniform() * 256) : 0x20;
  files[file] = copy;
  return `${file} byte ${at} changed`;
}

test(`${ITERS} mutated Hugging Face GPT-2 folders load or fail with one line`, () => {
  const rng = new Rng(4242);
  const outcomes = new Map<string, number>();
  const arenaBefore = defaultArena.stats().capacity;
  for (let i = 0; i < ITERS; i++) {
    const files: Record<string, Buffer> = { ...original };
    const what = [mutate(rng, files)];
    if (rng.uniform() < 0.3) what.push(mutate(rng, files));
    const folder = join(dir, `f${i % 4}`);
    cpSync(TINY, folder, { recursive: true });
    for (const f of FILES) writeFileSync(join(folder, f), files[f]!);
    try {
      const { model, tokenizer } = loadHfFolder(folder);
      assert.equal(tokenizer.vocabSize, model.config.vocabSize, what.join('; '));
      for (const [name, p] of model.namedParameters()) {
        assert.ok(
          p.data.every((v) => Number.isFinite(v)),
          `${name} not finite after ${what.join('; ')}`,
        );
      }
      model.dispose();
      outcomes.set('loaded', (outcomes.get('loaded') ?? 0) + 1);
    } catch (e) {
      if (!(e instanceof TsgptError)) throw new Error(`${what.join('; ')}: ${e instanceof Error ? e.stack : String(e)}`);
      assert.ok(!e.message.includes('\n'), `${what.join('; ')}: two lines: ${e.message}`);
      outcomes.set('refused', (outcomes.get('refused') ?? 0) + 1);
    }
  }
  // Both outcomes happen (the mutations are neither all harmless nor all fatal), and no load grew the arena wildly.
  assert.ok((outcomes.get('loaded') ?? 0) > 0 && (outcomes.get('refused') ?? 0) > ITERS / 2, JSON.stringify([...outcomes]));
  assert.ok(defaultArena.stats().capacity - arenaBefore < 64 << 20, 'the arena grew by more than 64 MB');
});
