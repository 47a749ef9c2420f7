/**
 * The run-folder readers against hostile files, end to end: valid run folders (three model forms) are mutated
 * thousands of times (truncation, bit flips, oversized header lengths, wrong dtypes, huge shapes, overlapping
 * offsets, config.json edited to wrong types, missing fields, huge n_layer / n_embd / block sizes, a broken
 * vocabulary, state.json and optimizer moments tampered with) and loaded the way `tsgpt sample` and
 * `tsgpt train --resume` load them. Each load must either succeed with finite tensors of the model's shapes or
 * fail with a one-line TsgptError naming the file: never another exception, a hang, or a big allocation. The
 * browser's reader (loadRunFromFiles, given the same files as bytes) must come to the same answer, word for word.
 *
 * TSGPT_FUZZ_ITERS sets the number of mutated folders (default 2000, a few seconds); more by hand.
 */
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { defaultArena } from '../../src/engine/arena.js';
import { Rng } from '../../src/engine/random.js';
import { TsgptError } from '../../src/errors.js';
import { splitTrainVal } from '../../src/data/split.js';
import { createModel } from '../../src/models/index.js';
import { CharTokenizer } from '../../src/tokenizers/char.js';
import { modelConfigFor, PRESETS, type RunConfig } from '../../src/train/config.js';
import { Trainer } from '../../src/train/trainer.js';
import { RUN_FORMAT, RUN_FORMAT_VERSION, type RunFile } from '../../src/checkpoint/run_config.js';
import { loadRun, saveCheckpoint } from '../../src/node/run_folder.js';
import { readResumable, restoreTrainer } from '../../src/node/run_resume.js';
import { loadRunFromFiles } from '../../src/browser/run_folder.js';
import { makeCorpus } from '../helpers/corpus.js';

const ITERS = Number(process.env.TSGPT_FUZZ_ITERS ?? 2000);
// Thousands of small writes: on a RAM disk where there is one, as the test is about the readers, not the disk.
const dir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'tsgpt-fuzz-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const text = makeCorpus(6000, 9);
const tokenizer = CharTokenizer.fromText(text);
const { train, val } = splitTrainVal(tokenizer.encode(text));

const FORMS: Record<string, Partial<RunConfig>> = {
  nanogpt: { style: 'nanogpt', nLayer: 1, nHead: 2, nEmbd: 8, bias: false },
  lecture: { style: 'lecture', nLayer: 1, nHead: 2, nEmbd: 8, bias: true, dropout: 0.1 },
  bigram: { ...PRESETS.bigram },
};

function trainerFor(config: RunConfig): Trainer {
  const rng = new Rng(config.seed);
  return new Trainer(createModel(modelConfigFor(config, tokenizer.vocabSize), rng), config, train, val, rng);
}

/** A valid run folder for each form: a few steps of training, then a real checkpoint. */
async function makeTemplate(name: string, form: Partial<RunConfig>): Promise<{ dir: string; config: RunConfig; files: string[] }> {
  const config: RunConfig = { ...PRESETS.baby, blockSize: 8, batchSize: 2, maxIters: 6, evalInterval: 3, evalIters: 1, ...form };
  const trainer = trainerFor(config);
  const out = join(dir, `template-${name}`);
  await trainer.run({
    onEval: (e) => {
      const file: RunFile = {
        format: RUN_FORMAT,
        version: RUN_FORMAT_VERSION,
        model: modelConfigFor(config, tokenizer.vocabSize),
        tokenizer: tokenizer.toJSON(),
        run: config,
        data: 'corpus.txt',
        training: { ...trainer.state(), trainLoss: e.trainLoss, valLoss: e.valLoss },
      };
      saveCheckpoint(out, { model: trainer.model, optimizer: trainer.optimizer, state: trainer.resumeState(), file, newBest: true });
    },
  });
  trainer.model.dispose();
  trainer.optimizer.dispose();
  const snapshot = readdirSync(join(out, 'resume'))[0]!;
  const files = ['config.json', 'model.safetensors', 'log.jsonl']
    .filter((f) => f !== 'log.jsonl')
    .concat(['model.safetensors', 'optimizer.safetensors', 'state.json'].map((f) => `resume/${snapshot}/${f}`));
  return { dir: out, config, files };
}

/** Loads the folder both ways; returns 'ok' or the TsgptError's message, and fails the test on anything else. */
function loadBothWays(run: string, config: RunConfig): { sample: string; resume: string } {
  const attempt = (fn: () => void): string => {
    try {
      fn();
      return 'ok';
    } catch (e) {
      if (!(e instanceof TsgptError)) throw new Error(`not a TsgptError: ${(e as Error)?.stack ?? String(e)}`);
      assert.ok(!e.message.includes('\n'), `a message of several lines: ${e.message}`);
      assert.ok(
        /config\.json|model\.safetensors|optimizer\.safetensors|state\.json|run folder|not a tsgpt run/.test(e.message),
        `a message that names no file: ${e.message}`,
      );
      return e.message;
    }
  };
  const sample = attempt(() => {
    const { model } = loadRun(run);
    try {
      for (const [name, p] of model.namedParameters()) {
        assert.ok(p.data.every(Number.isFinite), `loaded ${name} with non-finite values`);
      }
    } finally {
      model.dispose();
    }
  });
  // The browser's reader gets the two files as bytes and must say exactly what Node's says.
  const browser = attempt(() => {
    const files = new Map(['config.json', 'model.safetensors'].map((f) => [f, new Uint8Array(readFileSync(join(run, f)))]));
    loadRunFromFiles(files, run).model.dispose();
  });
  assert.equal(browser, sample, "the browser's reader and Node's disagree");
  const resume = attempt(() => {
    const r = readResumable(run);
    // Resuming rebuilds the model from the recorded run config (the CLI does the same).
    const trainer = trainerFor({ ...r.file.run });
    try {
      restoreTrainer(trainer, r);
      for (const s of trainer.optimizer.states) {
        assert.ok(s.param.data.every(Number.isFinite) && s.m.data.every(Number.isFinite) && s.v.data.every((x) => x >= 0));
      }
    } finally {
      trainer.model.dispose();
      trainer.optimizer.dispose();
    }
  });
  void config;
  return { sample, resume };
}

// ---------------------------------------------------------------------------------------------------------
// Mutations. A seeded generator, so a failure is reproducible from its iteration number.

const rng = new Rng(Number(process.env.TSGPT_FUZZ_SEED ?? 77));
/** Uniform in [0, n), and 0 for an empty range (a truncation can leave a file of no bytes). */
const int = (n: number) => (n > 0 ? rng.int(n) : 0);
const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;

const WEIRD_VALUES: unknown[] = [
  -1,
  0,
  1,
  0.5,
  3,
  1e9,
  1e300,
  -1e300,
  2 ** 31,
  2 ** 53,
  2 ** 24 + 1,
  65536,
  1 << 20,
  'x',
  '',
  '1',
  true,
  false,
  null,
  [],
  {},
  [1, 2],
  { kind: 'gpt' },
  'F16',
  'nanogpt',
  [[[[[]]]]],
  -0.0,
  1e-320,
];

/** Every path into a JSON value, so a mutation can reach any field. */
function paths(v: unknown, prefix: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  out.push(prefix);
  if (Array.isArray(v)) v.forEach((x, i) => paths(x, [...prefix, i], out));
  else if (typeof v === 'object' && v !== null) for (const [k, x] of Object.entries(v)) paths(x, [...prefix, k], out);
  return out;
}

function mutateJsonValue(root: unknown): unknown {
  const all = paths(root).filter((p) => p.length > 0);
  const path = pick(all);
  const parent = path.slice(0, -1).reduce<unknown>((o, k) => (o as Record<string | number, unknown>)[k], root) as Record<
    string | number,
    unknown
  >;
  const key = path[path.length - 1]!;
  const old = parent[key];
  switch (int(6)) {
    case 0:
      if (Array.isArray(parent)) parent.splice(key as number, 1);
      else delete parent[key];
      break;
    case 1:
      // Numbers grow by orders of magnitude: n_layer 1 -> 10000, n_embd 8 -> 80000 would be gigabytes.
      parent[key] = typeof old === 'number' ? old * pick([10, 1000, 1e6, -1, 0.5]) + pick([0, 1]) : pick(WEIRD_VALUES);
      break;
    case 2:
      parent[key] = structuredClone(pick(WEIRD_VALUES));
      break;
    case 3:
      if (Array.isArray(old)) old.push(structuredClone(old[0] ?? 1));
      else if (typeof old === 'string') parent[key] = old + pick(['x', 'é', '\u0000', '😀', old]);
      else parent[key] = String(old);
      break;
    case 4:
      parent[pick(['extra', '__proto__', 'constructor'])] = pick(WEIRD_VALUES);
      break;
    default:
      parent[key] = typeof old === 'number' ? old + pick([1, -1, 2 ** 32, 0.25]) : null;
  }
  return root;
}

/** The first 8 bytes as the header length, the header as JSON, and the data after it. */
function splitSafetensors(bytes: Uint8Array): { header: unknown; data: Uint8Array } | null {
  if (bytes.length < 8) return null;
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  try {
    return { header: JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))), data: bytes.subarray(8 + n) };
  } catch {
    return null;
  }
}

function joinSafetensors(header: unknown, data: Uint8Array): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

function mutateSafetensors(bytes: Uint8Array): Uint8Array {
  const parts = splitSafetensors(bytes);
  const entries =
    parts && typeof parts.header === 'object' && parts.header !== null
      ? Object.entries(parts.header as Record<string, Record<string, unknown>>).filter(
          ([k, v]) => k !== '__metadata__' && typeof v === 'object' && v !== null && !Array.isArray(v),
        )
      : [];
  const kind = int(9);
  if (kind === 0) return bytes.slice(0, int(bytes.length));
  if (kind === 1 && bytes.length >= 8) {
    const out = bytes.slice();
    new DataView(out.buffer).setBigUint64(
      0,
      pick([0n, 7n, BigInt(bytes.length), 2n ** 40n, 2n ** 64n - 1n, BigInt(int(bytes.length * 2))]),
      true,
    );
    return out;
  }
  if (bytes.length === 0) return bytes;
  if (kind === 2 || entries.length === 0) {
    const out = bytes.slice();
    for (let i = 0, n = 1 + int(4); i < n; i++) {
      const at = int(out.length);
      out[at] = out[at]! ^ (1 << int(8));
    }
    return out;
  }
  const [name, entry] = pick(entries);
  const header = parts!.header as Record<string, unknown>;
  switch (kind) {
    case 3:
      entry.dtype = pick(['F16', 'BF16', 'F64', 'I32', 'I8', 'U8', 'f32', 7, null]);
      break;
    case 4: {
      const shape = Array.isArray(entry.shape) ? (entry.shape as number[]) : [];
      entry.shape = pick([[2 ** 30, 2 ** 30, 2 ** 30], [1e9], [-1], [1.5], [], [0], 'big', [2 ** 53], [...shape, 1]]);
      break;
    }
    case 5: {
      // An earlier round may have broken the offsets already: start from numbers either way.
      const offsets = Array.isArray(entry.data_offsets) ? (entry.data_offsets as number[]) : [];
      const [b = 0, e = 4] = offsets.map((x) => (typeof x === 'number' ? x : 0));
      entry.data_offsets = pick([
        [0, e - b],
        [b + 4, e + 4],
        [b, e + 4],
        [e, b],
        [0, 2 ** 53],
        [b, b],
        [b - 4, e - 4],
      ]);
      break;
    }
    case 6:
      delete header[name];
      break;
    case 7:
      header[name + pick(['.x', '_', ''])] = entry;
      if (int(2)) delete header[name];
      break;
    default:
      return concat(
        bytes,
        new Uint8Array(1 + int(16)).map(() => int(256)),
      );
  }
  return joinSafetensors(header, parts!.data);
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function mutateText(bytes: Uint8Array): Uint8Array {
  const kind = bytes.length === 0 ? 0 : int(4);
  if (kind === 0) return bytes.slice(0, int(bytes.length));
  const out = bytes.slice();
  if (kind === 1) {
    const at = int(out.length);
    out[at] = out[at]! ^ (1 << int(8));
    return out;
  }
  if (kind === 2) {
    out[int(out.length)] = pick([0xff, 0xc0, 0x80, 0x00, 0x22, 0x7b, 0x5d]);
    return out;
  }
  try {
    const json = JSON.parse(new TextDecoder().decode(bytes)) as unknown;
    let v = json;
    for (let i = 0, n = 1 + int(3); i < n; i++) v = mutateJsonValue(v);
    return new TextEncoder().encode(JSON.stringify(v));
  } catch {
    return out;
  }
}

test(`fuzz: ${ITERS} mutated run folders load or fail with one clear TsgptError`, { timeout: 60_000 + ITERS * 50 }, async () => {
  const templates = await Promise.all(Object.entries(FORMS).map(([name, form]) => makeTemplate(name, form)));
  for (const t of templates)
    assert.deepEqual(loadBothWays(t.dir, t.config), { sample: 'ok', resume: 'ok' }, 'a valid template does not load');

  // One scratch copy of each template; a mutated file is put back after its iteration.
  const scratches = templates.map((t, i) => {
    const scratch = join(dir, `scratch-${i}`);
    cpSync(t.dir, scratch, { recursive: true });
    return { scratch, originals: new Map(t.files.map((f) => [f, readFileSync(join(t.dir, f))])) };
  });
  const counts = { folders: 0, sampleOk: 0, resumeOk: 0, refused: 0, files: {} as Record<string, number> };
  const messages = new Set<string>();
  for (let iter = 0; iter < ITERS; iter++) {
    const which = int(templates.length);
    const t = templates[which]!,
      { scratch, originals } = scratches[which]!;
    // One file most of the time, sometimes two, each mutated one to three times.
    const touched = new Set<string>();
    for (let n = 0, files = 1 + (int(4) === 0 ? 1 : 0); n < files; n++) {
      const f = pick(t.files);
      touched.add(f);
      const key = f.replace(/step-[^/]+/, '*');
      counts.files[key] = (counts.files[key] ?? 0) + 1;
      let bytes: Uint8Array = readFileSync(join(scratch, f));
      for (let m = 0, rounds = 1 + int(3); m < rounds; m++) bytes = f.endsWith('.json') ? mutateText(bytes) : mutateSafetensors(bytes);
      writeFileSync(join(scratch, f), bytes);
    }
    let result: ReturnType<typeof loadBothWays> | undefined;
    try {
      result = loadBothWays(scratch, t.config);
    } catch (e) {
      assert.fail(`iteration ${iter}: ${(e as Error).message}`);
    }
    for (const f of touched) writeFileSync(join(scratch, f), originals.get(f)!);
    counts.folders++;
    if (result.sample === 'ok') counts.sampleOk++;
    if (result.resume === 'ok') counts.resumeOk++;
    for (const m of [result.sample, result.resume]) {
      if (m !== 'ok') {
        counts.refused++;
        messages.add(m.replace(/\/[^ :]*scratch/g, 'RUN').replace(/\d+/g, 'N'));
      }
    }
  }
  console.log(`# checkpoint fuzz: ${JSON.stringify(counts)}; ${messages.size} distinct error messages`);
  if (process.env.TSGPT_FUZZ_SHOW) for (const m of messages) console.log(`#   ${m}`);
  assert.ok(counts.refused > ITERS / 2, 'too few mutations were refused: the mutator may be broken');
  assert.ok(counts.sampleOk > 0 || ITERS < 200, 'no mutation left a loadable folder: the check may be too strict');
});

test('configs that claim huge models are refused before anything is allocated', async () => {
  const t = await makeTemplate('huge', FORMS.nanogpt!);
  const cfgPath = join(t.dir, 'config.json');
  const good = JSON.parse(readFileSync(cfgPath, 'utf8')) as RunFile;
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ nLayer: 256 }, /too small for the model config\.json describes/],
    [{ nEmbd: 65536, nHead: 1 }, /over .* parameters; tsgpt handles at most/],
    [{ nEmbd: 32768, nHead: 2, nLayer: 200 }, /over .* parameters/],
    [{ blockSize: 65536 }, /too small for the model/],
    [{ nLayer: 1 << 20 }, /model\.nLayer must be an integer from 1 to 256/],
    [{ nEmbd: 1e12 }, /model\.nEmbd must be an integer/],
    [{ vocabSize: 2 ** 31 }, /model\.vocabSize must be an integer/],
  ];
  const before = defaultArena.stats().capacity;
  for (const [change, pattern] of cases) {
    const model = { ...good.model, ...change };
    const run = { ...good.run, ...Object.fromEntries(Object.entries(change).filter(([k]) => k in good.run)) };
    writeFileSync(cfgPath, JSON.stringify({ ...good, model, run }));
    assert.throws(
      () => loadRun(t.dir),
      (e: unknown) => e instanceof TsgptError && pattern.test(e.message),
      JSON.stringify(change),
    );
    assert.throws(
      () => readResumable(t.dir),
      (e: unknown) => e instanceof TsgptError,
      JSON.stringify(change),
    );
  }
  assert.equal(defaultArena.stats().capacity, before, 'the arena grew while refusing');
  // A 10 GB weights file is refused from its size alone (a sparse file: no disk is used).
  writeFileSync(cfgPath, JSON.stringify(good));
  const weights = join(t.dir, 'model.safetensors');
  const { truncateSync } = await import('node:fs');
  truncateSync(weights, 10 * 1024 ** 3);
  assert.throws(() => loadRun(t.dir), /model\.safetensors is \d+ bytes, more than the \d+ it can be/);
});
