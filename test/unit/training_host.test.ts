/**
 * The training worker's host, driven in Node through its messages as a page drives it: a run stopped and
 * resumed gives the losses of the run that never stopped, bit for bit; the zip it saves is a run folder that
 * Node's readers load and resume from (the weights' digest recorded, the log readable); sampling through
 * the host gives what generate gives on the loaded folder at the same seed; attention maps are causal
 * distributions; and mistakes are one-line errors.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readRunFolderFiles } from '../../src/browser/run_folder.js';
import { TrainingHost } from '../../src/browser/training_host.js';
import type { AttentionResult, ModelSummary, Request, WorkerMessage } from '../../src/browser/training_protocol.js';
import { splitTrainVal } from '../../src/data/split.js';
import { setKernels } from '../../src/engine/backend.js';
import { Rng } from '../../src/engine/random.js';
import { createWasmKernelsSync, wasmVariant } from '../../src/engine/wasm/wasm_kernels.js';
import { readZip } from '../../src/io/zip.js';
import { createModel } from '../../src/models/index.js';
import { loadRun } from '../../src/node/run_folder.js';
import { readResumable, restoreTrainer } from '../../src/node/run_resume.js';
import { decodeSafetensors } from '../../src/io/safetensors.js';
import { spawnNodeKernelWorker } from '../../src/node/kernel_threads.js';
import { generate } from '../../src/sample/generate.js';
import { CharTokenizer } from '../../src/tokenizers/char.js';
import { modelConfigFor, PRESETS, type RunConfig } from '../../src/train/config.js';
import { Trainer } from '../../src/train/trainer.js';
import { causalRowError } from '../../src/viz/attention_matrix.js';
import { parseLossLog } from '../../src/viz/loss_log.js';
import { enableRelaxedSimd } from '../../src/cli/wasm_flags.js';
import { makeCorpus } from '../helpers/corpus.js';

const dir = mkdtempSync(join(tmpdir(), 'tsgpt-host-'));
enableRelaxedSimd();
const kernels = createWasmKernelsSync(undefined, { threads: 2, spawnWorker: spawnNodeKernelWorker });
after(() => {
  kernels.dispose?.();
  rmSync(dir, { recursive: true, force: true });
});

const text = makeCorpus(8000, 3);
const CONFIG: RunConfig = {
  ...PRESETS.baby,
  nLayer: 1,
  nHead: 2,
  nEmbd: 16,
  blockSize: 16,
  batchSize: 4,
  maxIters: 16,
  evalInterval: 5,
  evalIters: 2,
  warmupIters: 3,
  lrDecayIters: 16,
  dropout: 0.1,
};

/** A host and a way to send it requests, as TrainingWorker does; `onEvent` sees progress messages. */
function hostUnderTest(onEvent: (m: WorkerMessage, host: TrainingHost) => void = () => {}) {
  const waiting = new Map<number, (m: WorkerMessage) => void>();
  let nextId = 1;
  const host: TrainingHost = new TrainingHost(
    (m) => {
      if (m.type === 'reply' || m.type === 'error') waiting.get(m.id)?.(m);
      else onEvent(m, host);
    },
    async () => {
      setKernels(kernels);
      return { threads: kernels.threads, variant: wasmVariant(), isolated: true, note: null };
    },
  );
  const request = (r: Request) =>
    new Promise<WorkerMessage>((resolve) => {
      const id = nextId++;
      waiting.set(id, resolve);
      void host.handle({ ...r, id });
    });
  /** The reply's value, or the error's message thrown as an Error. */
  const ask = async <T>(r: Request): Promise<T> => {
    const m = await request(r);
    if (m.type === 'error') throw new Error(m.message);
    return (m as { value: T }).value;
  };
  return { host, ask };
}

/** Writes a saved zip's files under the test's folder; returns the run folder's path. */
async function unpack(zip: Uint8Array, folder: string): Promise<string> {
  for (const e of await readZip(zip, 'the saved zip')) {
    mkdirSync(dirname(join(dir, e.name)), { recursive: true });
    writeFileSync(join(dir, e.name), e.bytes);
  }
  return join(dir, folder);
}

/** The same run straight through the Trainer, as tsgpt train runs it. */
async function uninterrupted(): Promise<{ losses: number[]; evals: number[] }> {
  const tokenizer = CharTokenizer.fromText(text);
  const { train, val } = splitTrainVal(tokenizer.encode(text));
  const rng = new Rng(CONFIG.seed);
  const trainer = new Trainer(createModel(modelConfigFor(CONFIG, tokenizer.vocabSize), rng), CONFIG, train, val, rng);
  const losses: number[] = [],
    evals: number[] = [];
  await trainer.run({ onStep: (r) => void losses.push(r.loss), onEval: (e) => void evals.push(e.valLoss) });
  trainer.model.dispose();
  trainer.optimizer.dispose();
  return { losses, evals };
}

test('stopped and resumed in the host, a run has the losses of the run that never stopped; its zip is a run folder Node loads and resumes', async () => {
  const losses: number[] = [],
    evals: number[] = [];
  const { ask } = hostUnderTest((m, host) => {
    if (m.type === 'step') {
      losses.push(m.report.loss);
      if (m.report.step === 7) void host.handle({ type: 'stop', id: 1000 });
    } else if (m.type === 'eval') evals.push(m.report.valLoss);
  });
  const init = await ask<{ threads: number }>({ type: 'init', threads: 2, relaxed: true });
  assert.equal(init.threads, 2);
  const first = await ask<{ step: number; stopped: boolean }>({
    type: 'train',
    text,
    source: 'corpus.txt',
    config: CONFIG,
    preset: 'baby',
  });
  assert.deepEqual([first.step, first.stopped], [7, true]);
  const second = await ask<{ step: number; stopped: boolean }>({ type: 'resume' });
  assert.deepEqual([second.step, second.stopped], [16, false]);
  const expected = await uninterrupted();
  assert.deepEqual(losses, expected.losses);
  assert.deepEqual(evals, expected.evals);

  const zip = await ask<Uint8Array<ArrayBuffer>>({ type: 'save', folder: 'browser-run' });
  const run = await unpack(zip, 'browser-run');
  const loaded = loadRun(run);
  assert.equal(loaded.file.training.valLoss, Math.min(...evals), 'model.safetensors holds the best evaluation');
  assert.equal(loaded.file.dataSha256, createHash('sha256').update(text).digest('hex'));
  const resumable = readResumable(run);
  assert.equal(resumable.state.step, 16);
  const log = parseLossLog(readFileSync(join(run, 'log.jsonl'), 'utf8'), 'log.jsonl');
  assert.deepEqual(
    log.steps.map((s) => s.loss),
    expected.losses,
  );

  // A host that loads the saved zip samples what tsgpt sample's loop samples from the unpacked folder at the same seed.
  const files = await readRunFolderFiles(new Blob([zip]), 'the saved zip');
  const other = hostUnderTest();
  const summary = await other.ask<ModelSummary>({ type: 'load', files: [...files], label: 'the saved zip' });
  assert.deepEqual([summary.step, summary.valLoss], [loaded.file.training.step, loaded.file.training.valLoss]);
  const sampled = await other.ask<{ text: string }>({
    type: 'sample',
    request: { start: 'to be', tokens: 60, temperature: 0.8, topK: 20, topP: 0.95, seed: 11 },
  });
  const rng = new Rng(11);
  const ids = [
    ...generate(loaded.model, loaded.tokenizer.encode('to be'), { maxNewTokens: 60, temperature: 0.8, topK: 20, topP: 0.95, rng }),
  ];
  assert.equal(sampled.text, `to be${loaded.tokenizer.decode(ids)}`);

  // Attention maps of the loaded model: one per layer and head, each row a distribution over earlier positions.
  const a = await other.ask<AttentionResult>({ type: 'attention', text: 'to be or not' });
  assert.deepEqual(a.tokens, [...'to be or not']);
  assert.equal(a.maps.length, 1);
  assert.equal(a.maps[0]!.length, 2);
  for (const m of a.maps.flat()) assert.ok(causalRowError(m, a.tokens.length) < 1e-5);
  const long = await other.ask<AttentionResult>({ type: 'attention', text: 'to be or not that is the question' });
  assert.deepEqual([long.tokens.length, long.cropped], [16, 33 - 16]);
  loaded.model.dispose();
});

test("a Muon run with RMSNorm trained in the host: its zip holds Muon's buffers, and Node resumes from it", async () => {
  const { ask } = hostUnderTest();
  await ask({ type: 'init', threads: 2, relaxed: true });
  const config: RunConfig = { ...CONFIG, optimizer: 'muon', norm: 'rmsnorm', maxIters: 6 };
  const done = await ask<{ step: number }>({ type: 'train', text, source: 'corpus.txt', config, preset: 'baby' });
  assert.equal(done.step, 6);
  const run = await unpack(await ask<Uint8Array<ArrayBuffer>>({ type: 'save', folder: 'muon-run' }), 'muon-run');
  const r = readResumable(run);
  assert.deepEqual([r.file.run.optimizer, r.file.model.kind === 'gpt' && r.file.model.norm], ['muon', 'rmsnorm']);
  const names = [...decodeSafetensors(r.moments, r.momentsPath).tensors.keys()];
  assert.ok(names.includes('muon.transformer.h.0.mlp.c_fc.weight') && names.includes('m.transformer.wte.weight'), names.join());
  const rng = new Rng(config.seed);
  const trainer = new Trainer(createModel(r.file.model, rng), r.file.run, new Int32Array(100), new Int32Array(100), rng);
  restoreTrainer(trainer, r);
  assert.equal(trainer.step, 6);
  assert.ok(trainer.muon!.states.every((s) => s.buf.data.some((v) => v !== 0)));
  trainer.disposeOptimizers();
  trainer.model.dispose();
});

test('mistakes are one line each: no model yet, a character outside the vocabulary, two things at once, nothing to resume', async () => {
  const { ask } = hostUnderTest();
  await ask({ type: 'init', threads: 1, relaxed: true });
  const sample = { start: 'to be', tokens: 5, temperature: 1, topK: 0, topP: 1, seed: 1 };
  await assert.rejects(ask({ type: 'sample', request: sample }), /there is no model yet: train one or load a run folder/);
  await assert.rejects(ask({ type: 'resume' }), /there is no training run to resume here/);
  await assert.rejects(ask({ type: 'save', folder: 'x' }), /there is no run trained here to save yet/);
  await assert.rejects(ask({ type: 'train', text: '', source: 's', config: CONFIG, preset: null }), /the text to train on is empty/);
  await assert.rejects(
    ask({ type: 'train', text: 'abc'.repeat(20), source: 's', config: CONFIG, preset: null }),
    /too short for block size 16/,
  );
  await assert.rejects(
    ask({ type: 'load', files: [['notes.txt', new Uint8Array(1)]], label: 'the dropped folder' }),
    /the dropped folder is not a tsgpt run: config\.json is missing/,
  );
  const training = ask({ type: 'train', text, source: 's', config: { ...CONFIG, maxIters: 4 }, preset: null });
  await assert.rejects(ask({ type: 'sample', request: sample }), /cannot sample while the worker is busy \(training\); stop it first/);
  await training;
  await assert.rejects(ask({ type: 'sample', request: { ...sample, start: 'to be!' } }), /the start text.*"!"/);
  await assert.rejects(ask({ type: 'resume' }), /the run is complete \(step 4 of 4\)/);
});
