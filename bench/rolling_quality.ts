/**
 * Sampling past the block size (issue 15): the next-token loss on long validation texts of a rotary run,
 * rolling its key/value cache against the cropped recompute nanoGPT does, by bands of positions (within the
 * block size, 1-2x, 2-4x, ... it). Texts are cut back to back from the corpus's validation split (its last
 * 10%, as training splits it), `--times` block sizes long.
 *
 *   node dist/bench/rolling_quality.js --from RUN [--times 8] [--texts 64] [--batch 16] [--threads N]
 *                                      [--data PATH] [--json]
 */
import { readFileSync } from 'node:fs';
import { enableRelaxedSimd } from '../src/cli/wasm_flags.js';
import { splitTrainVal } from '../src/data/split.js';
import { setKernels } from '../src/engine/backend.js';
import { createWasmKernelsSync } from '../src/engine/wasm/wasm_kernels.js';
import { bandMeans, cutTexts, nextTokenLosses, positionBands } from '../src/measure/past_context_loss.js';
import type { PastContext } from '../src/models/decoder.js';
import { coreCount, spawnNodeKernelWorker } from '../src/node/kernel_threads.js';
import { loadRun } from '../src/node/run_folder.js';

const args = process.argv.slice(2);
const option = (name: string, fallback?: string): string | undefined => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const fail = (message: string): never => {
  process.stderr.write(`rolling_quality: ${message}\n`);
  process.exit(1);
};
const positive = (name: string, fallback: string): number => {
  const v = Number(option(name, fallback));
  return Number.isSafeInteger(v) && v >= 1 ? v : fail(`--${name} must be a positive integer`);
};
const from = option('from') ?? fail('give --from RUN, a run folder of a GPT trained with --rotary');
const data = option('data', new URL('../../../shared/data/tinyshakespeare.txt', import.meta.url).pathname)!;
const times = positive('times', '8'),
  count = positive('texts', '64'),
  batch = positive('batch', '16'),
  threads = positive('threads', String(coreCount()));
enableRelaxedSimd();
setKernels(createWasmKernelsSync(undefined, { threads, spawnWorker: spawnNodeKernelWorker }));
const run = loadRun(from);
const model = run.model;
if (!model.pastContexts.includes('roll')) fail(`${from} has no rotary embeddings: it can only crop past the block size`);
const W = model.blockSize,
  length = times * W + 1;
const { val } = splitTrainVal(run.tokenizer.encode(readFileSync(data, 'utf8')));
const texts = cutTexts(val, length, count);
if (texts.length === 0) fail(`the validation split (${val.length} tokens) is shorter than one text of ${length}`);

const results = (['roll', 'crop'] as PastContext[]).map((pastContext) => {
  const started = performance.now();
  const losses = nextTokenLosses(model, texts, pastContext, {
    batch,
    onText: (done) => process.stderr.write(`\r${pastContext}: ${done}/${texts.length} texts`),
  });
  process.stderr.write('\n');
  const seconds = (performance.now() - started) / 1000;
  return { pastContext, seconds, bands: bandMeans(losses, positionBands(length, W)) };
});
const [roll, crop] = results as [(typeof results)[0], (typeof results)[0]];
if (args.includes('--json')) {
  console.log(JSON.stringify({ run: from, block_size: W, texts: texts.length, text_tokens: length, threads, results }));
} else {
  console.log(`${from}: ${texts.length} validation texts of ${length} tokens (block size ${W}), ${threads} thread(s)`);
  console.log('positions        roll     crop   roll - crop   predictions');
  roll.bands.forEach((r, i) => {
    const c = crop.bands[i]!;
    const band = r.from === 0 ? `0-${r.to - 1} (block)` : `${r.from}-${r.to - 1} (${r.from / W}-${(r.from / W) * 2}x)`;
    console.log(
      `${band.padEnd(15)} ${r.loss.toFixed(4)}   ${c.loss.toFixed(4)}   ${(r.loss - c.loss >= 0 ? '+' : '') + (r.loss - c.loss).toFixed(4)}        ${r.count}`,
    );
  });
  console.log(`time: roll ${roll.seconds.toFixed(1)} s, crop ${crop.seconds.toFixed(1)} s`);
}
process.exit(0);
