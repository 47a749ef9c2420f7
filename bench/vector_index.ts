/**
 * A vector database behind the memory's search (issue 12): LanceDB's IVF-PQ index of a memory's keys against
 * tsgpt's exact search, on the same keys and queries in one run. Recall@k is the share of the exact search's k
 * best keys that LanceDB's answer holds (after tsgpt rescores its proposals, as the Memory does); queries per
 * second one query at a time (awaited in turn, as sampling asks) and all at once (LanceDB's own threads, and
 * tsgpt's exact search given every query in one call).
 *
 *   node dist/bench/vector_index.js --memory MEM [--queries OTHER_MEM] [--count 500] [--k 10]
 *                                   [--nprobes 10,20,50,100] [--refine 1,4] [--build] [--kind ivf_pq|ivf_flat] [--partitions N]
 *
 * The queries are keys of OTHER_MEM (the same model's hidden states over another text: what a memory is asked
 * at run time), evenly spaced; without it, the memory's own keys with a little deterministic noise. The index is
 * built (tsgpt memory index) when missing or with --build; its build time is printed. Run it alone: timings on
 * 2 shared cores measure nothing; the load average is printed.
 */
import { loadavg } from 'node:os';
import { enableRelaxedSimd } from '../src/cli/wasm_flags.js';
import { setKernels } from '../src/engine/backend.js';
import { createWasmKernelsSync } from '../src/engine/wasm/wasm_kernels.js';
import { exactSearch } from '../src/memory/exact_search.js';
import { recallAt } from '../src/memory/key_index.js';
import { coreCount, spawnNodeKernelWorker } from '../src/node/kernel_threads.js';
import { buildLanceIndex, LANCE_FOLDER, type LanceIndexKind, openLanceIndex } from '../src/node/lance_index.js';
import { loadMemory } from '../src/node/memory_folder.js';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const args = process.argv.slice(2);
const option = (name: string, fallback?: string): string | undefined => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const memDir = option('memory');
if (memDir === undefined) throw new Error('give --memory MEM');
const count = Number(option('count', '500'));
const k = Number(option('k', '10'));
const nprobesList = option('nprobes', '10,20,50,100')!.split(',').map(Number);
const refineList = option('refine', '1,4')!.split(',').map(Number);

enableRelaxedSimd();
setKernels(createWasmKernelsSync(undefined, { threads: coreCount(), spawnWorker: spawnNodeKernelWorker }));
const memory = loadMemory(memDir);
const { width } = memory;
const score = memory.config.scoring.score;

const queries = new Float32Array(count * width);
const queryDir = option('queries');
if (queryDir !== undefined) {
  const other = loadMemory(queryDir);
  if (other.width !== width) throw new Error(`${queryDir} has keys of width ${other.width}, not ${width}`);
  for (let q = 0; q < count; q++) {
    const i = Math.floor(((q + 0.5) * other.count) / count);
    queries.set(other.keys.data.subarray(i * width, (i + 1) * width), q * width);
  }
  other.dispose();
} else {
  for (let q = 0; q < count; q++) {
    const i = Math.floor(((q + 0.5) * memory.count) / count);
    for (let j = 0; j < width; j++) queries[q * width + j] = memory.keys.data[i * width + j]! + 0.05 * Math.sin(12.9898 * (q * width + j));
  }
}

console.log(
  `memory ${memDir}: ${memory.count.toLocaleString('en-US')} keys of width ${width}, ${score} score; ${count} queries${queryDir ? ` from ${queryDir}` : ' (own keys + noise)'}, k ${k}`,
);
console.log(
  `load average before: ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}`,
);

if (args.includes('--build') || !existsSync(join(memDir, LANCE_FOLDER))) {
  const partitions = option('partitions');
  const kind = option('kind', 'ivf_pq') as LanceIndexKind;
  const built = await buildLanceIndex(memDir, memory, {
    score,
    kind,
    partitions: partitions === undefined ? undefined : Number(partitions),
  });
  console.log(`built the index: ${built.kind}, ${built.partitions} partitions, ${built.sub_vectors} sub-vectors, ${built.build_seconds} s`);
}

const time = async (f: () => unknown | Promise<unknown>): Promise<number> => {
  const t = performance.now();
  await f();
  return (performance.now() - t) / 1000;
};
const qps = (seconds: number) => Math.round(count / seconds).toLocaleString('en-US');

let truth = exactSearch(memory.keys, queries, k, score);
const exactOne = await time(() => {
  for (let q = 0; q < count; q++) exactSearch(memory.keys, queries.subarray(q * width, (q + 1) * width), k, score);
});
const exactAll = await time(() => {
  truth = exactSearch(memory.keys, queries, k, score);
});
console.log(`exact (tsgpt, ${coreCount()} threads): ${qps(exactOne)} queries/s one at a time, ${qps(exactAll)} all at once; recall@${k} 1`);

console.log('\nLanceDB          nprobes  refine  recall@k  queries/s one at a time  all at once');
for (const nprobes of nprobesList) {
  for (const refine of refineList) {
    const index = await openLanceIndex(memDir, memory, { nprobes, refine });
    await index.search(queries.subarray(0, width), k, score); // warm: opens the files
    const one = await time(async () => {
      for (let q = 0; q < count; q++) await index.search(queries.subarray(q * width, (q + 1) * width), k, score);
    });
    let found = truth;
    const all = await time(async () => {
      found = await index.search(queries, k, score);
    });
    console.log(
      `                 ${String(nprobes).padStart(7)}  ${String(refine).padStart(6)}  ${recallAt(found, truth, k).toFixed(3).padStart(8)}  ${qps(one).padStart(23)}  ${qps(all).padStart(11)}`,
    );
    await index.close();
  }
}
console.log(
  `load average after: ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}`,
);
memory.dispose();
process.exit(0);
