/**
 * Recall beyond the context window (issue 12, measure 3): documents of Tiny Shakespeare's validation text with a
 * made-up name stated once near the start and asked for at the end, thousands of characters later; the greedy
 * completion's exact-match rate by the model alone and with the document as its memory.
 *
 *   node dist/bench/memory_recall.js --from runs/baby [--documents 100] [--length 3000] [--data PATH] [--json]
 *                                    [--match-bonus B]   (0: plain kNN-LM, no exact-context matching)
 */
import { readFileSync } from 'node:fs';
import { enableRelaxedSimd } from '../src/cli/wasm_flags.js';
import { setKernels } from '../src/engine/backend.js';
import { createWasmKernelsSync } from '../src/engine/wasm/wasm_kernels.js';
import { measureRecall, recallDocuments } from '../src/memory/recall.js';
import { GPT } from '../src/models/gpt.js';
import { coreCount, spawnNodeKernelWorker } from '../src/node/kernel_threads.js';
import { loadRun } from '../src/node/run_folder.js';

const args = process.argv.slice(2);
const option = (name: string, fallback?: string): string | undefined => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const from = option('from');
if (from === undefined) throw new Error('give --from RUN, a GPT run folder');
const data = option('data', new URL('../../../shared/data/tinyshakespeare.txt', import.meta.url).pathname)!;
enableRelaxedSimd();
setKernels(createWasmKernelsSync(undefined, { threads: coreCount(), spawnWorker: spawnNodeKernelWorker }));
const run = loadRun(from);
if (!(run.model instanceof GPT)) throw new Error(`${from} is not a GPT run`);
const text = readFileSync(data, 'utf8');
const validation = text.slice(Math.floor(text.length * 0.9));
const count = Number(option('documents', '100'));
const docs = recallDocuments(validation, count, { length: Number(option('length', '3000')) });
const started = performance.now();
const bonus = option('match-bonus');
const result = measureRecall(run.model, run.tokenizer, docs, {
  weightsSha256: run.weightsSha256,
  scoring: bonus === undefined ? {} : { matchBonus: Number(bonus) },
  onDocument: (done) => process.stderr.write(`\rdocument ${done}/${count}`),
});
process.stderr.write('\n');
const seconds = (performance.now() - started) / 1000;
const distance = docs.reduce((a, d) => a + d.distance, 0) / docs.length;
if (args.includes('--json')) {
  console.log(JSON.stringify({ ...result, mean_distance: distance, seconds }));
} else {
  console.log(
    `${count} documents, the fact on average ${Math.round(distance)} characters before the question (context ${run.model.blockSize}):`,
  );
  console.log(`  exact name, model alone:       ${result.alone}/${count} (${((100 * result.alone) / count).toFixed(0)}%)`);
  console.log(`  exact name, document as memory: ${result.withMemory}/${count} (${((100 * result.withMemory) / count).toFixed(0)}%)`);
  for (const [answer, alone, recalled] of result.examples)
    console.log(`    ${JSON.stringify(answer)}: alone ${JSON.stringify(alone)}, with memory ${JSON.stringify(recalled)}`);
  console.log(`  ${seconds.toFixed(1)} s`);
}
process.exit(0);
