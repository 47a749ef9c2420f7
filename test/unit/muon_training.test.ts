/**
 * Muon in the training run (--optimizer muon): which parameters it takes, that a Trainer step is AdamW on the
 * rest plus Muon on the hidden matrices with the schedule's factor and the clipping factor, that a run resumed
 * half-way from its saved optimizer state ends bit for bit where the uninterrupted run ends, on 1 and 2 threads
 * alike, and that optimizer state of the other kind (or damaged) is refused in one line.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { kernels, referenceKernels, setKernels, type Kernels } from '../../src/engine/backend.js';
import { createWasmKernelsSync } from '../../src/engine/wasm/wasm_kernels.js';
import { enableRelaxedSimd } from '../../src/cli/wasm_flags.js';
import { spawnNodeKernelWorker } from '../../src/node/kernel_threads.js';
import { Rng } from '../../src/engine/random.js';
import { createModel } from '../../src/models/index.js';
import { encodeOptimizer, loadOptimizer } from '../../src/checkpoint/optimizer_state.js';
import { encodeWeights, loadWeights } from '../../src/checkpoint/weights.js';
import { encodeSafetensors, decodeSafetensors } from '../../src/io/safetensors.js';
import { AdamW, gradientNorm } from '../../src/train/adamw.js';
import { modelConfigFor, PRESETS, type RunConfig } from '../../src/train/config.js';
import { Muon } from '../../src/train/muon.js';
import { optimizerGroups } from '../../src/train/optimizer_groups.js';
import { learningRateAt } from '../../src/train/schedule.js';
import { Trainer } from '../../src/train/trainer.js';

const VOCAB = 23;
// Dropout and two micro-batches, so every generator and counter a resume restores is in play.
const CONFIG: RunConfig = {
  ...PRESETS.baby,
  nLayer: 2,
  nHead: 2,
  nEmbd: 16,
  blockSize: 12,
  batchSize: 3,
  dropout: 0.1,
  gradientAccumulationSteps: 2,
  maxIters: 8,
  evalInterval: 4,
  evalIters: 2,
  warmupIters: 3,
  lrDecayIters: 8,
  // Small enough that clipping acts on every step.
  gradClip: 0.05,
  optimizer: 'muon',
  muonLr: 0.03,
  muonMomentum: 0.9,
  norm: 'rmsnorm',
};

function corpus(): Int32Array {
  const r = new Rng(77);
  return Int32Array.from({ length: 3000 }, () => r.int(VOCAB));
}

function newTrainer(config: RunConfig, tokens = corpus()): Trainer {
  const rng = new Rng(config.seed);
  return new Trainer(createModel(modelConfigFor(config, VOCAB), rng), config, tokens.subarray(0, 2500), tokens.subarray(2500), rng);
}

function free(trainer: Trainer): void {
  trainer.disposeOptimizers();
  trainer.model.dispose();
}

/** Every weight's bytes and every optimizer buffer's, for bit-for-bit comparisons. */
function stateBytes(trainer: Trainer): Uint8Array {
  const weights = encodeWeights(trainer.model, {});
  const moments = encodeOptimizer(trainer.optimizer, trainer.muon);
  const all = new Uint8Array(weights.length + moments.length);
  all.set(weights);
  all.set(moments, weights.length);
  return all;
}

test("Muon takes the blocks' 2-D weights; AdamW keeps embeddings, the head, gains and biases", () => {
  for (const [style, bias] of [
    ['nanogpt', true],
    ['lecture', true],
  ] as const) {
    const config: RunConfig = { ...CONFIG, style, bias, norm: 'layernorm', activation: style === 'lecture' ? 'relu' : 'gelu' };
    const model = createModel(modelConfigFor(config, VOCAB), new Rng(1));
    const groups = optimizerGroups(model, 'muon');
    const muonNames = groups.muon!.map(([n]) => n);
    const adamwNames = groups.adamw.map(([n]) => n);
    if (style === 'nanogpt') {
      assert.deepEqual(
        muonNames,
        [0, 1].flatMap((l) =>
          ['attn.c_attn.weight', 'attn.c_proj.weight', 'mlp.c_fc.weight', 'mlp.c_proj.weight'].map((n) => `transformer.h.${l}.${n}`),
        ),
      );
      assert.ok(adamwNames.includes('transformer.wte.weight') && adamwNames.includes('transformer.wpe.weight'));
      assert.ok(adamwNames.includes('transformer.h.0.ln_1.weight') && adamwNames.includes('transformer.h.0.attn.c_attn.bias'));
    } else {
      assert.ok(muonNames.includes('blocks.0.sa.heads.0.key.weight') && muonNames.includes('blocks.1.ffwd.net.2.weight'), muonNames.join());
      assert.ok(adamwNames.includes('lm_head.weight') && adamwNames.includes('token_embedding_table.weight'));
    }
    // Every parameter in exactly one group, in the model's order.
    assert.equal(muonNames.length + adamwNames.length, model.namedParameters().length);
    assert.ok(groups.muon!.every(([, p]) => p.shape.length === 2) && !muonNames.some((n) => adamwNames.includes(n)));
    assert.deepEqual(optimizerGroups(model, 'adamw'), { adamw: model.namedParameters(), muon: null });
    model.dispose();
  }
  const bigram = createModel({ kind: 'bigram', vocabSize: VOCAB, blockSize: 8 }, new Rng(1));
  assert.throws(() => optimizerGroups(bigram, 'muon'), /--optimizer muon needs a GPT/);
  bigram.dispose();
});

test('a Muon step is AdamW on the rest and Muon on the hidden matrices, both at the schedule factor, after one clipping', () => {
  // Two copies of the same model and batches: one steps through the Trainer, the other by hand.
  const trainer = newTrainer(CONFIG);
  const twin = newTrainer({ ...CONFIG, optimizer: 'adamw' });
  const groups = optimizerGroups(twin.model, 'muon');
  const adamw = new AdamW(groups.adamw, { beta1: CONFIG.beta1, beta2: CONFIG.beta2, eps: 1e-8, weightDecay: CONFIG.weightDecay });
  const muon = new Muon(groups.muon!, { momentum: CONFIG.muonMomentum, nesterov: true, nsSteps: 5 });
  for (let step = 0; step < 4; step++) {
    // The same batch and gradients on the twin: its own Trainer's forward and backward, without its update.
    const lr = learningRateAt(step, CONFIG);
    trainer.trainStep();
    stepWithOwnUpdate(twin, () => {
      const { scale } = gradientNorm(twin.model.parameters(), CONFIG.gradClip);
      assert.ok(scale < 1, 'clipping acts');
      adamw.update(lr, scale, true);
      muon.update(CONFIG.muonLr * (lr / CONFIG.learningRate), scale, true);
    });
  }
  for (const [[name, a], [, b]] of zip(trainer.model.namedParameters(), twin.model.namedParameters())) {
    assert.deepEqual(a.data, b.data, name);
  }
  assert.deepEqual(
    trainer.muon!.states.map((s) => s.buf.data),
    muon.states.map((s) => s.buf.data),
  );
  adamw.dispose();
  muon.dispose();
  free(trainer);
  free(twin);
});

/** The twin's trainStep (its batch, forward, backward, norm check) with `update` in place of its AdamW's update. */
function stepWithOwnUpdate(twin: Trainer, update: () => void): void {
  const saved = twin.optimizer.update;
  twin.optimizer.update = () => update();
  try {
    twin.trainStep();
  } finally {
    twin.optimizer.update = saved;
  }
}

function zip<A, B>(a: readonly A[], b: readonly B[]): [A, B][] {
  assert.equal(a.length, b.length);
  return a.map((x, i) => [x, b[i]!]);
}

/** Trains CONFIG.maxIters steps, stopping at `stopAt` and resuming from the saved bytes into a new trainer. */
async function runResumedAt(stopAt: number | null): Promise<Uint8Array> {
  let trainer = newTrainer(CONFIG);
  if (stopAt !== null) {
    await trainer.run({ shouldStop: () => trainer.step >= stopAt });
    const weights = encodeWeights(trainer.model, {}),
      moments = encodeOptimizer(trainer.optimizer, trainer.muon),
      state = structuredClone(trainer.resumeState());
    free(trainer);
    trainer = newTrainer(CONFIG);
    loadWeights(trainer.model, weights, 'weights');
    loadOptimizer(trainer.optimizer, moments, 'optimizer.safetensors', trainer.muon);
    trainer.restore(state);
  }
  await trainer.run();
  assert.equal(trainer.step, CONFIG.maxIters);
  const bytes = stateBytes(trainer);
  free(trainer);
  return bytes;
}

/** Runs fn (which yields to the event loop) with `set` as the active kernels throughout. */
async function withKernelsAsync<T>(set: Kernels, fn: () => Promise<T>): Promise<T> {
  const saved = kernels();
  setKernels(set);
  try {
    return await fn();
  } finally {
    setKernels(saved);
  }
}

test('a Muon run resumed half-way ends bit for bit where the uninterrupted run ends; 1 and 2 threads give the same bytes', async () => {
  enableRelaxedSimd();
  const sets: [string, Kernels][] = [
    ['reference', referenceKernels],
    ['wasm, 1 thread', createWasmKernelsSync()],
    ['wasm, 2 threads', createWasmKernelsSync(undefined, { threads: 2, spawnWorker: spawnNodeKernelWorker })],
  ];
  const ends = new Map<string, Uint8Array>();
  for (const [name, set] of sets) {
    const whole = await withKernelsAsync(set, () => runResumedAt(null));
    const resumed = await withKernelsAsync(set, () => runResumedAt(3));
    assert.deepEqual(resumed, whole, `${name}: resumed at step 3`);
    ends.set(name, whole);
  }
  assert.deepEqual(ends.get('wasm, 2 threads'), ends.get('wasm, 1 thread'));
  for (const [, set] of sets.slice(1)) set.dispose?.();
});

test('optimizer state of the other kind, or with a buffer missing or misshapen, is one line naming what is wrong', () => {
  const muonRun = newTrainer(CONFIG);
  const adamwRun = newTrainer({ ...CONFIG, optimizer: 'adamw' });
  const muonBytes = encodeOptimizer(muonRun.optimizer, muonRun.muon),
    adamwBytes = encodeOptimizer(adamwRun.optimizer, adamwRun.muon);
  assert.equal(decodeSafetensors(muonBytes, 'x').metadata.format, 'tsgpt-adamw-muon');
  assert.equal(decodeSafetensors(adamwBytes, 'x').metadata.format, 'tsgpt-adamw');
  assert.throws(
    () => loadOptimizer(muonRun.optimizer, adamwBytes, 'opt.safetensors', muonRun.muon),
    /^TsgptError: opt\.safetensors holds no Muon momentum buffers \(muon\.<name>\), but the run's optimizer is muon$/,
  );
  assert.throws(
    () => loadOptimizer(adamwRun.optimizer, muonBytes, 'opt.safetensors', adamwRun.muon),
    /holds Muon momentum buffers \(muon\.<name>\), but the run's optimizer is adamw/,
  );
  const { tensors } = decodeSafetensors(muonBytes, 'x');
  const entries = [...tensors].map(([name, t]) => ({ name, dtype: 'F32' as const, shape: [...t.shape], data: t.data as Float32Array }));
  const without = encodeSafetensors(entries.filter((t) => t.name !== 'muon.transformer.h.1.mlp.c_fc.weight'));
  assert.throws(
    () => loadOptimizer(muonRun.optimizer, without, 'opt.safetensors', muonRun.muon),
    /opt\.safetensors: missing 1 optimizer state tensor\(s\): muon\.transformer\.h\.1\.mlp\.c_fc\.weight/,
  );
  const misshapen = encodeSafetensors(
    entries.map((t) => (t.name === 'muon.transformer.h.0.attn.c_proj.weight' ? { ...t, shape: [t.data.length] } : t)),
  );
  assert.throws(
    () => loadOptimizer(muonRun.optimizer, misshapen, 'opt.safetensors', muonRun.muon),
    /muon\.transformer\.h\.0\.attn\.c_proj\.weight has shape/,
  );
  const nan = encodeSafetensors(
    entries.map((t) =>
      t.name === 'muon.transformer.h.0.mlp.c_proj.weight' ? { ...t, data: t.data.map((v, i) => (i === 3 ? NaN : v)) } : t,
    ),
  );
  assert.throws(() => loadOptimizer(muonRun.optimizer, nan, 'opt.safetensors', muonRun.muon), /holds NaN at index 3/);
  free(muonRun);
  free(adamwRun);
});
