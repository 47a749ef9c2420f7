/**
 * The nanoGPT checkpoint reader against hostile files, as checkpoint_fuzz does for run folders: nanoGPT's real
 * ckpt.pt and meta.pkl (test/fixtures/nanogpt) mutated thousands of times (truncated archives, flipped bytes,
 * bytes flipped, inserted and deleted inside data.pkl with its CRC-32 made right again so that the unpickler
 * sees them, huge declared lengths and sizes, random opcodes, globals swapped for os.system and builtins.eval)
 * and imported the way `tsgpt import` imports them, up to the built model and optimizer. Each must load or fail
 * with a one-line TsgptError: never another exception, a hang or a large allocation.
 *
 * TSGPT_FUZZ_ITERS sets the number of mutations (default 2000, a few seconds); TSGPT_FUZZ_SEED the generator's seed.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Rng } from '../../src/engine/random.js';
import { TsgptError } from '../../src/errors.js';
import { buildNanoGptRun, parseNanoGptCheckpoint } from '../../src/checkpoint/nanogpt_import.js';
import { decodeNanoGptMeta } from '../../src/checkpoint/nanogpt_meta.js';
import { fixtureBytes, withPickle } from '../helpers/nanogpt_fixture.js';

const ITERS = Number(process.env.TSGPT_FUZZ_ITERS ?? 2000);
const rng = new Rng(Number(process.env.TSGPT_FUZZ_SEED ?? 13));
const int = (n: number) => (n > 0 ? rng.int(n) : 0);
const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;

const CKPT = fixtureBytes('ckpt.pt');
const META = fixtureBytes('meta.pkl');
/** Allocation beyond the fixture's own few hundred kilobytes: far below what a runaway size would take. */
const MAX_GROWTH_BYTES = 256 * 1024 * 1024;

/** Imports `bytes` as `tsgpt import` does, in memory; 'ok' or the refusal's message. */
function importOnce(bytes: Uint8Array): string {
  try {
    const ckpt = parseNanoGptCheckpoint(bytes, 'ckpt.pt');
    const run = buildNanoGptRun(ckpt, ckpt.modelArgs.vocabSize, 'ckpt.pt');
    try {
      for (const s of run.optimizer.states) {
        assert.ok(s.param.data.every(Number.isFinite) && s.m.data.every(Number.isFinite) && s.v.data.every((x) => x >= 0));
      }
    } finally {
      run.model.dispose();
      run.optimizer.dispose();
    }
    return 'ok';
  } catch (e) {
    return refusalOf(e);
  }
}

function refusalOf(e: unknown): string {
  if (!(e instanceof TsgptError)) throw new Error(`not a TsgptError: ${(e as Error)?.stack ?? String(e)}`);
  assert.ok(!e.message.includes('\n'), `a message of several lines: ${e.message}`);
  assert.ok(/ckpt\.pt|meta\.pkl/.test(e.message), `a message that names no file: ${e.message}`);
  return e.message;
}

const enc = (s: string) => new TextEncoder().encode(s);
const latin1 = (b: Uint8Array) => new TextDecoder('latin1').decode(b);
const fromLatin1 = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));

/** The opcodes the reader knows and some it refuses, with plausible operands. */
const OPCODE_SNIPPETS: number[][] = [
  [0x28],
  [0x29],
  [0x2e],
  [0x30],
  [0x31],
  [0x32],
  [0x4e],
  [0x5d],
  [0x61],
  [0x62],
  [0x65],
  [0x71, 0],
  [0x68, 0],
  [0x6a, 0xff, 0xff, 0, 0],
  [0x72, 0xff, 0xff, 0xff, 0xff],
  [0x74],
  [0x75],
  [0x7d],
  [0x73],
  [0x52],
  [0x51],
  [0x85],
  [0x86],
  [0x87],
  [0x4b, 0xff],
  [0x4d, 0xff, 0xff],
  [0x4a, 0xff, 0xff, 0xff, 0x7f],
  [0x8a, 8, 1, 2, 3, 4, 5, 6, 7, 0x7f],
  [0x8b, 0xff, 0xff, 0xff, 0xff],
  [0x58, 0xf0, 0xff, 0xff, 0xff],
  [0x8d, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
  [0x95, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
  [0x63, ...enc('os\nsystem\n')],
  [0x63, ...enc('builtins\neval\n')],
  [0x8c, 8, ...enc('builtins'), 0x8c, 4, ...enc('exec'), 0x93],
  [0x63, ...enc('torch\nFloatStorage\n')],
  [0x63, ...enc('collections\nOrderedDict\n')],
  [0x63, ...enc('torch._utils\n_rebuild_tensor_v2\n')],
  [0x69],
  [0x00],
  [0xff],
];

function mutatePickle(p: Uint8Array): Uint8Array {
  const out = Array.from(p);
  const edits = 1 + int(4);
  for (let e = 0; e < edits; e++) {
    const at = int(out.length);
    switch (int(6)) {
      case 0:
        out[at] = int(256);
        break;
      case 1:
        out[at]! ^= 1 << int(8);
        break;
      case 2:
        out.splice(at, 1 + int(8));
        break;
      case 3:
        out.splice(at, 0, ...pick(OPCODE_SNIPPETS));
        break;
      case 4: {
        // A number grows: sizes, offsets, lengths, ids.
        const k = out.indexOf(pick([0x4b, 0x4d, 0x4a, 0x58]), at);
        if (k >= 0 && k + 1 < out.length) out[k + 1] = pick([0, 1, 0x7f, 0xff]);
        break;
      }
      default:
        out.length = at; // truncated
    }
  }
  return Uint8Array.from(out);
}

/** Swaps a global the fixture names for one nothing may run. */
function swapGlobal(p: Uint8Array): Uint8Array {
  const s = latin1(p);
  const from = pick(['collections\nOrderedDict\n', 'torch._utils\n_rebuild_tensor_v2\n', 'torch\nFloatStorage\n']);
  const to = pick(['os\nsystem\n', 'builtins\neval\n', 'subprocess\nPopen\n', 'torch\nload\n', 'numpy.core.multiarray\n_reconstruct\n']);
  return fromLatin1(s.replace(from, to));
}

function mutateArchive(bytes: Uint8Array): Uint8Array {
  const out = bytes.slice();
  switch (int(4)) {
    case 0:
      return out.subarray(0, int(out.length));
    case 1: {
      for (let i = 0, n = 1 + int(8); i < n; i++) out[int(out.length)]! ^= 1 << int(8);
      return out;
    }
    case 2: {
      // The end of the archive (directory and its end record) takes the hits.
      const tail = Math.min(out.length, 3000);
      for (let i = 0, n = 1 + int(4); i < n; i++) out[out.length - 1 - int(tail)] = int(256);
      return out;
    }
    default:
      return withPickle(bytes, mutatePickle);
  }
}

test(`${ITERS} mutated nanoGPT checkpoints import or fail with one clear line`, { timeout: 300_000 }, () => {
  assert.equal(importOnce(CKPT), 'ok');
  const baseline = process.memoryUsage().arrayBuffers;
  const outcomes = new Map<string, number>();
  for (let i = 0; i < ITERS; i++) {
    const bytes = i % 10 === 9 ? withPickle(CKPT, swapGlobal) : mutateArchive(CKPT);
    let result: string;
    try {
      result = importOnce(bytes);
    } catch (e) {
      throw new Error(`mutation ${i} (seed ${process.env.TSGPT_FUZZ_SEED ?? 13}): ${(e as Error).message}`);
    }
    const kind = result === 'ok' ? 'ok' : result.replace(/\d+/g, 'N').slice(0, 60);
    outcomes.set(kind, (outcomes.get(kind) ?? 0) + 1);
    if (i % 100 === 0) assert.ok(process.memoryUsage().arrayBuffers - baseline < MAX_GROWTH_BYTES, `memory grew at mutation ${i}`);
  }
  // Most mutations must be caught, and by more than one check.
  const refused = ITERS - (outcomes.get('ok') ?? 0);
  assert.ok(refused > ITERS / 2, `only ${refused} of ${ITERS} mutations were refused`);
  assert.ok(outcomes.size > 10, `the mutations reached only ${outcomes.size} kinds of outcome`);
});

test(`${Math.ceil(ITERS / 4)} mutated meta.pkl files read or fail with one clear line`, () => {
  for (let i = 0; i < Math.ceil(ITERS / 4); i++) {
    try {
      const tokenizer = decodeNanoGptMeta(mutatePickle(META), 'meta.pkl');
      assert.ok(tokenizer.vocabSize > 0);
    } catch (e) {
      refusalOf(e);
    }
  }
});
