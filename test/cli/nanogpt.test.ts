/**
 * tsgpt export and tsgpt import, as commands: nanoGPT's real checkpoint (test/fixtures/nanogpt) imported,
 * sampled and resumed; a tsgpt run exported and imported back with the same weights, moments and counters;
 * and each refusal (a bigram or lecture run, an output that exists, a vocabulary that does not fit, a pickle
 * naming os.system, a checkpoint whose config and tensors disagree) in one line, with nothing written.
 */
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { decodeSafetensors } from '../../src/io/safetensors.js';
import { decodeTorchFile } from '../../src/io/torch_file.js';
import { pickle, py } from '../../src/io/pickle_write.js';
import { assertOneLineError, tsgptIn } from '../helpers/cli_process.js';
import { makeTinyRun, TINY_GPT } from '../helpers/tiny_run.js';
import { encodeCheckpoint, fixtureBytes, fixturePath, withPickle, writeFixtureText } from '../helpers/nanogpt_fixture.js';

const dir = mkdtempSync(join(tmpdir(), 'tsgpt-nanogpt-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const CKPT = fixturePath('ckpt.pt');
const META = fixturePath('meta.pkl');
const TEXT = writeFixtureText(dir);

/** The latest snapshot's tensors of a run folder, decoded: what export reads and import writes. */
function snapshot(run: string): { weights: Map<string, Float32Array>; moments: Map<string, Float32Array>; state: Record<string, unknown> } {
  const folder = JSON.parse(readFileSync(join(run, 'config.json'), 'utf8')).training.resume.folder as string;
  const read = (name: string) =>
    new Map([...decodeSafetensors(readFileSync(join(run, folder, name)), name).tensors].map(([n, t]) => [n, t.data as Float32Array]));
  return {
    weights: read('model.safetensors'),
    moments: read('optimizer.safetensors'),
    state: JSON.parse(readFileSync(join(run, folder, 'state.json'), 'utf8')).state,
  };
}

test('a nanoGPT checkpoint imports into a run folder that samples and resumes', () => {
  const run = join(dir, 'imported');
  const r = tsgptIn(dir, 'import', CKPT, run, '--meta', META, '--data', TEXT, '--threads', '1');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /step 6, val loss 3\.8070; 2 layers, 2 heads, width 8, block 16, vocabulary 58/);
  assert.match(r.stdout, /2 causal mask\(s\)/);
  const config = JSON.parse(readFileSync(join(run, 'config.json'), 'utf8'));
  assert.equal(config.model.style, 'nanogpt');
  assert.equal(config.run.maxIters, 6);
  assert.equal(config.data, TEXT);
  assert.equal(config.training.resume.step, 6);
  // --from and --data-dir find the same: meta.pkl and input.txt in DIR/<dataset>/.
  const data = join(dir, 'data', 'tsgpt_fixture');
  mkdirSync(data, { recursive: true });
  cpSync(META, join(data, 'meta.pkl'));
  cpSync(TEXT, join(data, 'input.txt'));
  const again = join(dir, 'imported-again');
  const r2 = tsgptIn(dir, 'import', '--from', CKPT, again, '--data-dir', join(dir, 'data'), '--threads', '1');
  assert.equal(r2.code, 0, r2.stderr);
  assert.deepEqual(readFileSync(join(again, 'model.safetensors')), readFileSync(join(run, 'model.safetensors')));
  assert.equal(JSON.parse(readFileSync(join(again, 'config.json'), 'utf8')).dataSha256, config.dataSha256);
  const s = tsgptIn(dir, 'sample', '--from', run, '--tokens', '40', '--seed', '3', '--threads', '1');
  assert.equal(s.code, 0, s.stderr);
  assert.ok(s.stdout.length >= 40);
  const t = tsgptIn(dir, 'train', '--resume', run, '--max-iters', '8', '--threads', '1');
  assert.equal(t.code, 0, t.stderr);
  assert.equal(snapshot(run).state.step, 8);
});

test('a tsgpt run exports to nanoGPT and imports back with the same weights, moments and counters', () => {
  const run = makeTinyRun(dir, 'tiny');
  const out = join(dir, 'to-nanogpt');
  const r = tsgptIn(dir, 'export', '--to', 'nanogpt', run, out, '--threads', '1');
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(readdirSync(out).sort(), ['ckpt.pt', 'meta.pkl']);
  assert.match(r.stdout, /wrote .*ckpt\.pt \(step 30\)/);
  assert.match(r.stdout, /python train\.py --init_from=resume --out_dir=.* --dataset=tiny .*--dropout=0\.0 .*--decay_lr=True/);
  const ckpt = decodeTorchFile(readFileSync(join(out, 'ckpt.pt')), 'ckpt.pt') as Map<string, unknown>;
  assert.equal(ckpt.get('iter_num'), 30);
  assert.equal((ckpt.get('config') as Map<string, unknown>).get('dataset'), 'tiny');
  const back = join(dir, 'back');
  const i = tsgptIn(
    dir,
    'import',
    join(out, 'ckpt.pt'),
    back,
    '--meta',
    join(out, 'meta.pkl'),
    '--data',
    join(dir, 'tiny-corpus.txt'),
    '--threads',
    '1',
  );
  assert.equal(i.code, 0, i.stderr);
  const a = snapshot(run);
  const b = snapshot(back);
  assert.deepEqual([...b.weights.keys()], [...a.weights.keys()]);
  for (const [name, t] of a.weights) assert.deepEqual(b.weights.get(name), t, name);
  for (const [name, t] of a.moments) assert.deepEqual(b.moments.get(name), t, name);
  for (const key of ['step', 'optimizerStep', 'bestValLoss']) assert.equal(b.state[key], a.state[key], key);
  const original = JSON.parse(readFileSync(join(run, 'config.json'), 'utf8'));
  const imported = JSON.parse(readFileSync(join(back, 'config.json'), 'utf8'));
  assert.deepEqual(imported.model, original.model);
  assert.deepEqual(imported.tokenizer, original.tokenizer);
  for (const key of [
    'batchSize',
    'blockSize',
    'learningRate',
    'minLr',
    'warmupIters',
    'lrDecayIters',
    'weightDecay',
    'beta1',
    'beta2',
    'gradClip',
    'maxIters',
    'evalInterval',
    'evalIters',
  ]) {
    assert.equal(imported.run[key], original.run[key], key);
  }
  assert.equal(imported.dataSha256, original.dataSha256);
});

test('export refuses runs nanoGPT cannot hold, and an output that exists, in one line, writing nothing', () => {
  const bigram = makeTinyRun(dir, 'bigram-run', 'bigram');
  assertOneLineError(tsgptIn(dir, 'export', '--to', 'nanogpt', bigram, join(dir, 'x1')), /is a bigram run: nanoGPT has no bigram model/);
  const lecture = join(dir, 'lecture-run');
  const corpus = join(dir, 'tiny-corpus.txt');
  const t = tsgptIn(
    dir,
    'train',
    '--data',
    corpus,
    '--out',
    lecture,
    '--style',
    'lecture',
    ...TINY_GPT,
    '--max-iters',
    '2',
    '--eval-iters',
    '1',
  );
  assert.equal(t.code, 0, t.stderr);
  assertOneLineError(
    tsgptIn(dir, 'export', '--to', 'nanogpt', lecture, join(dir, 'x2')),
    /lecture's gpt\.py form .* which nanoGPT's model\.py cannot load/,
  );
  mkdirSync(join(dir, 'taken'));
  const run = join(dir, 'tiny');
  assertOneLineError(
    tsgptIn(dir, 'export', '--to', 'nanogpt', run, join(dir, 'taken')),
    /taken already exists; choose a new folder \(nothing was written\)/,
  );
  assert.deepEqual(readdirSync(join(dir, 'taken')), []);
  assertOneLineError(tsgptIn(dir, 'export', run, join(dir, 'x3')), /needs --to nanogpt/);
  assertOneLineError(tsgptIn(dir, 'export', '--to', 'nanogpt', run), /takes a run folder and a new folder, got 1/);
  assertOneLineError(
    tsgptIn(dir, 'export', '--to', 'nanogpt', run, join(dir, 'x4'), '--dataset', '../up'),
    /--dataset must be a folder name/,
  );
  assertOneLineError(tsgptIn(dir, 'export', '--to', 'nanogpt', join(dir, 'nowhere'), join(dir, 'x5')), /no run folder at/);
  for (const name of ['x1', 'x2', 'x3', 'x4', 'x5']) assert.ok(!existsSync(join(dir, name)), `${name} was written`);
  assert.ok(!readdirSync(dir).some((n) => n.includes('.tmp-')), 'a temporary folder was left behind');
});

test('import refuses bad input in one line and writes nothing', () => {
  const bad = (name: string, bytes: Uint8Array) => {
    const path = join(dir, name);
    writeFileSync(path, bytes);
    return path;
  };
  const evil = bad(
    'evil.pt',
    withPickle(fixtureBytes('ckpt.pt'), (p) => {
      const s = new TextDecoder('latin1').decode(p).replace('collections\nOrderedDict\n', 'posix\nsystem\n');
      return Uint8Array.from(s, (c) => c.charCodeAt(0));
    }),
  );
  const root = decodeTorchFile(fixtureBytes('ckpt.pt'), 'ckpt.pt') as Map<string | number, unknown>;
  (root.get('model_args') as Map<string, unknown>).set('n_layer', 3);
  const disagree = bad('disagree.pt', encodeCheckpoint(root));
  const notVocab = bad('list.pkl', pickle(py.list([py.int(1)])));
  const smaller = bad('small-meta.pkl', pickle(py.record({ itos: py.dict([[py.int(0), 'a']]) })));
  const cases: [string[], RegExp][] = [
    [
      [evil, 'r1', '--meta', META],
      /evil\.pt \(ckpt\/data\.pkl\): the pickle names the global "posix\.system", which a checkpoint does not need; refused, nothing was run/,
    ],
    [[disagree, 'r2', '--meta', META], /disagree\.pt: state dict: missing 12 of nanoGPT's parameters/],
    [
      [CKPT, 'r3', '--meta', notVocab],
      /list\.pkl: holds an array, not a dictionary; tsgpt reads the character vocabularies nanoGPT's prepare\.py writes/,
    ],
    [[CKPT, 'r4', '--meta', smaller], /small-meta\.pkl holds 1 characters but the model in .*ckpt\.pt has 58 tokens/],
    [[CKPT, 'r5'], /holds a model of 58 tokens, neither GPT-2's .* give its vocabulary with --meta PATH/],
    [[CKPT, 'r6', '--meta', META, '--data', join(dir, 'tiny-corpus.txt')], /does not give the checkpoint's vocabulary of 58 characters/],
    [[CKPT, 'r7', '--meta', join(dir, 'missing.pkl')], /cannot read .*missing\.pkl: no such file/],
    [[META, 'r8', '--meta', META], /meta\.pkl: not a zip archive/],
    [[CKPT, 'r9', '--data-dir', join(dir, 'no-data')], /there is no .*no-data\/tsgpt_fixture\/meta\.pkl/],
    [[CKPT], /takes a checkpoint and a new run folder, got 1/],
    [[CKPT, 'imported', '--meta', META], /imported already exists; choose a new folder/],
  ];
  for (const [args, pattern] of cases) assertOneLineError(tsgptIn(dir, 'import', ...args), pattern);
  for (let k = 1; k <= 9; k++) assert.ok(!existsSync(join(dir, `r${k}`)), `r${k} was written`);
  assert.ok(!readdirSync(dir).some((n) => n.includes('.tmp-')), 'a temporary folder was left behind');
});

test('export and import explain themselves with --help', () => {
  const e = tsgptIn(dir, 'export', '--help');
  assert.equal(e.code, 0);
  assert.match(e.stdout, /Usage: tsgpt export --to nanogpt RUN OUT/);
  const i = tsgptIn(dir, 'import', '--help');
  assert.equal(i.code, 0);
  assert.match(i.stdout, /restricted unpickler/);
  assert.match(tsgptIn(dir, '--help').stdout, /export .*nanoGPT's ckpt\.pt/);
});
