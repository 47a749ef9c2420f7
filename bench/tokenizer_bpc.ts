/**
 * Tokenizers compared at the same training compute, by validation loss in bits per character (run by hand,
 * never in CI): the `baby` model trained on Tiny Shakespeare with its characters, a BPE of 512 tokens learnt
 * from the training text (minbpe's, as `tsgpt tokenizer train --vocab-size 512` learns it) and GPT-2's BPE.
 *
 *   node dist/bench/tokenizer_bpc.js [--max-iters 2000] [--legs char,bpe,gpt2] [--bpe-vocab 512] [--threads N]
 *                                    [--data PATH] [--gpt2 FOLDER] [--json]
 *
 * "Same compute" here: the same transformer body (the baby preset's 4 layers, 4 heads, width 128), the same
 * steps, batch and context in tokens (12 windows of 64), the same learning-rate schedule and seed. So every leg
 * does the same non-embedding work per step (Kaplan et al.'s 6N per token counts the body, not the embedding),
 * and a tokenizer that packs more characters into a token shows it as more text seen per step and a longer
 * context in characters, which is what a tokenizer is for. What differs is the embedding and the output head,
 * whose size and cost grow with the vocabulary: GPT-2's 50257-token head costs several times the body at this
 * width, so the table prints each leg's FLOPs per step and characters per step beside its loss. (Same
 * characters per step instead would give BPE runs fewer, shorter token windows and so less body compute.)
 *
 * The text is cut once, by characters: the first 90% trains (the BPE is also learnt from it alone, so it has
 * never seen the validation text) and the last 10% validates, the same characters for every tokenizer, each
 * encoding the two parts separately. Validation is exhaustive, not sampled: every token of the validation text
 * after the first is predicted once, in consecutive windows of the context length, and
 *   bits per character = (sum of nats over the predicted tokens) / ln 2 / (characters those tokens hold).
 *
 * GPT-2's vocabulary comes from --gpt2 FOLDER (encoder.json and vocab.bpe), else tsgpt's cache ($TSGPT_CACHE/gpt2
 * or ~/.cache/tsgpt/gpt2, downloaded there once when there is a network), else is rebuilt from the ranks the
 * js-tiktoken dev dependency ships (as the tests do); when none of these is there, the gpt2 leg says why and
 * the others run.
 */
import { readFileSync } from 'node:fs';
import { enableRelaxedSimd } from '../src/cli/wasm_flags.js';
import { noGrad } from '../src/engine/autograd.js';
import { setKernels } from '../src/engine/backend.js';
import { Rng } from '../src/engine/random.js';
import { intTensor, tidy } from '../src/engine/tensor.js';
import { createWasmKernelsSync } from '../src/engine/wasm/wasm_kernels.js';
import { TsgptError } from '../src/errors.js';
import { trainingStepFlops } from '../src/measure/flops.js';
import { createModel, type LanguageModel } from '../src/models/index.js';
import { loadGpt2Tokenizer, readGpt2Folder } from '../src/node/gpt2_vocab.js';
import { spawnNodeKernelWorker } from '../src/node/kernel_threads.js';
import { trainBpe } from '../src/tokenizers/bpe_train.js';
import { CharTokenizer } from '../src/tokenizers/char.js';
import type { Tokenizer } from '../src/tokenizers/tokenizer.js';
import { modelConfigFor, PRESETS, type RunConfig } from '../src/train/config.js';
import { Trainer } from '../src/train/trainer.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : fallback;
};
const maxIters = Number(option('max-iters', String(PRESETS.baby.maxIters)));
const legs = option('legs', 'char,bpe,gpt2').split(',');
const bpeVocab = Number(option('bpe-vocab', '512'));
const threads = Number(option('threads', '2'));
const data = option('data', new URL('../../../shared/data/tinyshakespeare.txt', import.meta.url).pathname);
const gpt2Folder = args.includes('--gpt2') ? option('gpt2', '') : undefined;
const JSON_OUTPUT = args.includes('--json');
const say = (line: string) => {
  if (!JSON_OUTPUT) console.log(line);
};

enableRelaxedSimd();
setKernels(createWasmKernelsSync(undefined, { threads, spawnWorker: spawnNodeKernelWorker }));

const text = readFileSync(data, 'utf8');
const cut = Math.floor(text.length * 0.9);
const trainText = text.slice(0, cut);
const valText = text.slice(cut);
// The baby preset, its schedule fitted to --max-iters (a short check still warms up and decays).
const config: RunConfig = {
  ...PRESETS.baby,
  maxIters,
  lrDecayIters: maxIters,
  warmupIters: Math.min(PRESETS.baby.warmupIters, Math.floor(maxIters / 10)),
  evalInterval: maxIters,
};

interface LegResult {
  leg: string;
  vocabSize: number;
  parameters: number;
  trainTokens: number;
  valTokens: number;
  charsPerToken: number;
  charsPerStep: number;
  gflopsPerStep: number;
  seconds: number;
  lastTrainLoss: number;
  valNatsPerToken: number;
  bitsPerChar: number;
}

async function gpt2Tokenizer(): Promise<Tokenizer> {
  if (gpt2Folder !== undefined) return readGpt2Folder(gpt2Folder);
  try {
    return (await loadGpt2Tokenizer({ log: (l) => say(`  ${l}`) })).tokenizer;
  } catch (err) {
    if (!(err instanceof TsgptError)) throw err;
    say(`  GPT-2's files are not in the cache (${err.message}); rebuilding them from js-tiktoken's ranks`);
    try {
      const { gpt2ForTests } = await import('../test/helpers/gpt2_vocab.js');
      return gpt2ForTests();
    } catch (e) {
      throw new TsgptError(
        `no GPT-2 vocabulary: not in the cache, no download, and js-tiktoken is not installed (${(e as Error).message})`,
      );
    }
  }
}

async function tokenizerFor(leg: string): Promise<Tokenizer> {
  if (leg === 'char') return CharTokenizer.fromText(text);
  if (leg === 'bpe') return trainBpe(trainText, { vocabSize: bpeVocab, label: 'the training text' });
  if (leg === 'gpt2') return gpt2Tokenizer();
  throw new TsgptError(`--legs: unknown leg ${JSON.stringify(leg)}; the legs are char, bpe and gpt2`);
}

/** The summed cross-entropy (nats) of every validation token after the first, in consecutive windows of blockSize. */
function validationNats(model: LanguageModel, ids: Int32Array, blockSize: number): number {
  const windowsPerBatch = 16;
  let nats = 0;
  model.eval();
  for (let start = 0; start < ids.length - 1; start += windowsPerBatch * blockSize) {
    const predicted = Math.min(windowsPerBatch * blockSize, ids.length - 1 - start);
    const full = Math.floor(predicted / blockSize);
    const batches: [number, number, number][] = [];
    if (full > 0) batches.push([start, full, blockSize]);
    if (predicted % blockSize > 0) batches.push([start + full * blockSize, 1, predicted % blockSize]);
    for (const [from, B, T] of batches) {
      const x = new Int32Array(B * T);
      const y = new Int32Array(B * T);
      for (let b = 0; b < B; b++) {
        x.set(ids.subarray(from + b * T, from + (b + 1) * T), b * T);
        y.set(ids.subarray(from + b * T + 1, from + (b + 1) * T + 1), b * T);
      }
      // forward's loss is the mean over the B*T predictions.
      nats += B * T * tidy(() => noGrad(() => model.forward(intTensor(x, [B, T]), intTensor(y, [B, T])).loss!.item()));
    }
  }
  model.train();
  return nats;
}

async function runLeg(leg: string): Promise<LegResult> {
  const started = performance.now();
  const tokenizer = await tokenizerFor(leg);
  const train = tokenizer.encode(trainText, { special: 'ordinary', label: 'the training text' });
  const val = tokenizer.encode(valText, { special: 'ordinary', label: 'the validation text' });
  const modelConfig = modelConfigFor(config, tokenizer.vocabSize);
  const rng = new Rng(config.seed);
  const model = createModel(modelConfig, rng);
  try {
    // The trainer's own evaluation is not used: the validation below is exhaustive.
    const trainer = new Trainer(model, config, train, val, rng);
    let lastTrainLoss = Number.NaN;
    for (let s = 0; s < maxIters; s++) {
      lastTrainLoss = trainer.trainStep().loss;
      if ((s + 1) % Math.max(1, Math.floor(maxIters / 10)) === 0) say(`  ${leg}: step ${s + 1}, train loss ${lastTrainLoss.toFixed(4)}`);
    }
    const nats = validationNats(model, val, config.blockSize);
    const chars = tokenizer.decode(val.subarray(1)).length;
    const charsPerToken = valText.length / val.length;
    const parameters = model.namedParameters().reduce((n, [, p]) => n + p.data.length, 0);
    trainer.optimizer.dispose();
    return {
      leg: leg === 'bpe' ? `bpe${bpeVocab}` : leg,
      vocabSize: tokenizer.vocabSize,
      parameters,
      trainTokens: train.length,
      valTokens: val.length,
      charsPerToken,
      charsPerStep: config.batchSize * config.blockSize * charsPerToken,
      gflopsPerStep: trainingStepFlops(modelConfig, config.batchSize, config.blockSize) / 1e9,
      seconds: (performance.now() - started) / 1000,
      lastTrainLoss,
      valNatsPerToken: nats / (val.length - 1),
      bitsPerChar: nats / Math.LN2 / chars,
    };
  } finally {
    model.dispose();
  }
}

say(
  `Tiny Shakespeare: ${trainText.length} training and ${valText.length} validation characters; baby model ` +
    `(${config.nLayer} layers, ${config.nHead} heads, width ${config.nEmbd}), ${config.batchSize} x ${config.blockSize} tokens a step, ` +
    `${maxIters} steps, ${threads} thread(s)`,
);
const results: LegResult[] = [];
const skipped: { leg: string; reason: string }[] = [];
for (const leg of legs) {
  say(`${leg}:`);
  try {
    results.push(await runLeg(leg));
  } catch (err) {
    if (!(err instanceof TsgptError)) throw err;
    skipped.push({ leg, reason: err.message });
    say(`  ${leg} cannot run: ${err.message}`);
  }
}
if (JSON_OUTPUT) {
  console.log(JSON.stringify({ maxIters, threads, batchSize: config.batchSize, blockSize: config.blockSize, results, skipped }));
} else {
  console.log('\n| tokenizer | vocabulary | parameters | chars/token | chars/step | GFLOP/step | s | val nats/token | val bits/char |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const r of results) {
    console.log(
      `| ${r.leg} | ${r.vocabSize} | ${r.parameters.toLocaleString('en')} | ${r.charsPerToken.toFixed(3)} | ${Math.round(r.charsPerStep)} | ` +
        `${r.gflopsPerStep.toFixed(2)} | ${r.seconds.toFixed(0)} | ${r.valNatsPerToken.toFixed(4)} | ${r.bitsPerChar.toFixed(4)} |`,
    );
  }
}
process.exit(0);
