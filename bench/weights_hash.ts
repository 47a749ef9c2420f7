/**
 * Same seed, same bits: trains the `baby` preset for a few steps on Tiny Shakespeare and prints a hash of the
 * weights, for comparing builds and thread counts (the hash must not change with either).
 *
 *   node dist/bench/weights_hash.js [--steps 40] [--threads N] [--data PATH] [--kernels wasm|reference]
 *                                   [--activation gelu_tanh|gelu|relu]
 *
 * The activation stays GELU's tanh form unless asked, the `baby` preset's before the exact form became its
 * default, so the hash printed since then (ce0b7e4aef1a96f7 for 40 steps) stays comparable.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { enableRelaxedSimd } from '../src/cli/wasm_flags.js';
import { splitTrainVal } from '../src/data/split.js';
import { setKernels } from '../src/engine/backend.js';
import { Rng } from '../src/engine/random.js';
import { createWasmKernelsSync } from '../src/engine/wasm/wasm_kernels.js';
import { createModel } from '../src/models/index.js';
import { ACTIVATIONS, type Activation } from '../src/nn/layers.js';
import { spawnNodeKernelWorker } from '../src/node/kernel_threads.js';
import { CharTokenizer } from '../src/tokenizers/char.js';
import { modelConfigFor, PRESETS } from '../src/train/config.js';
import { Trainer } from '../src/train/trainer.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : fallback;
};
const steps = Number(option('steps', '40'));
const threads = Number(option('threads', '1'));
const activation = option('activation', 'gelu_tanh') as Activation;
if (!ACTIVATIONS.includes(activation)) throw new Error(`--activation must be one of ${ACTIVATIONS.join(', ')}`);
const data = option('data', new URL('../../../shared/data/tinyshakespeare.txt', import.meta.url).pathname);
if (option('kernels', 'wasm') === 'wasm') {
  enableRelaxedSimd();
  setKernels(createWasmKernelsSync(undefined, { threads, spawnWorker: spawnNodeKernelWorker }));
}
const text = readFileSync(data, 'utf8');
const tokenizer = CharTokenizer.fromText(text);
const { train, val } = splitTrainVal(tokenizer.encode(text));
const config = { ...PRESETS.baby, activation, maxIters: steps, evalInterval: steps };
const rng = new Rng(config.seed);
const model = createModel(modelConfigFor(config, tokenizer.vocabSize), rng);
const trainer = new Trainer(model, config, train, val, rng);
for (let s = 0; s < steps; s++) trainer.trainStep();
const hash = createHash('sha256');
for (const [, p] of model.namedParameters()) hash.update(new Uint8Array(p.data.buffer, p.data.byteOffset, p.data.byteLength));
console.log(`${hash.digest('hex').slice(0, 16)}  baby (${activation}), ${steps} steps, ${threads} thread(s)`);
process.exit(0);
