/**
 * Exact nearest-key search against PyTorch's brute force on the same keys, in one run: a million seeded
 * Gaussian keys of width 128 (a kNN-LM memory of Tiny Shakespeare's size), queries one at a time and in batches
 * of 16 and 256, k = 32 and 1024, both scores. tsgpt runs exactSearch on the WebAssembly kernels on 1 and on 2
 * threads; bench/torch_search.py runs torch.mm then topk (Debian's python3-torch, /usr/bin/python3) on the keys
 * and queries this script writes as raw float32 files. The two sides take turns, round after round (never at
 * once: two timings on 2 cores measure nothing), and the best time of each is kept.
 *
 *   node dist/bench/search.js [--keys 1048576] [--width 128] [--rounds 3] [--dir /tmp/tsgpt-search] [--no-torch]
 *
 * Prints queries per second per side and the ratio of tsgpt's best time (2 threads) to PyTorch's, how many of
 * the first query's k indices the two sides agree on (in the same place, and as sets: near ties may swap places,
 * as the two sum in different orders), the load average (other work on the machine), and memory: the arena
 * (keys, norms, what a search adds) and each process's peak resident size.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Kernels, setKernels } from '../src/engine/backend.js';
import { defaultArena } from '../src/engine/arena.js';
import { Rng } from '../src/engine/random.js';
import { Tensor } from '../src/engine/tensor.js';
import { createWasmKernelsSync, wasmVariant } from '../src/engine/wasm/wasm_kernels.js';
import { enableRelaxedSimd } from '../src/cli/wasm_flags.js';
import { exactSearch, keyNorms, type SearchScore } from '../src/memory/exact_search.js';
import { spawnNodeKernelWorker } from '../src/node/kernel_threads.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : fallback;
};
const N = Number(option('keys', String(1 << 20)));
const d = Number(option('width', '128'));
const rounds = Number(option('rounds', '3'));
const dir = option('dir', join(tmpdir(), 'tsgpt-search'));
const withTorch = !args.includes('--no-torch');
const torchScript = fileURLToPath(new URL('../../bench/torch_search.py', import.meta.url));

/** Batch sizes and how many queries each times: one at a time over 8 queries, batches once or twice. */
const BATCHES = [
  { batch: 1, queries: 8 },
  { batch: 16, queries: 32 },
  { batch: 256, queries: 256 },
] as const;
const KS = [32, 1024] as const;
const SCORES: SearchScore[] = ['dot', 'l2'];
const MB = 1024 * 1024;

const mb = (bytes: number) => `${(bytes / MB).toFixed(0)} MB`;
const configName = (score: string, batch: number, k: number) => `${score} batch ${batch} k ${k}`;

enableRelaxedSimd();
const backends: [string, Kernels][] = [1, 2].map((threads) => [
  `tsgpt ${threads} thread${threads > 1 ? 's' : ''}`,
  createWasmKernelsSync(undefined, { threads, spawnWorker: spawnNodeKernelWorker }),
]);

// The keys, seeded, straight into the arena, and the queries (as many as the largest count timed).
const rng = new Rng(12);
const keys = new Tensor([N, d]);
{
  const data = keys.data;
  for (let i = 0; i < data.length; i++) data[i] = rng.normal();
}
const maxQueries = Math.max(...BATCHES.map((b) => b.queries));
const queries = Float32Array.from({ length: maxQueries * d }, () => rng.normal());
mkdirSync(dir, { recursive: true });
writeFileSync(join(dir, 'keys.f32'), keys.data);
writeFileSync(join(dir, 'queries.f32'), queries);
const arenaWithKeys = defaultArena.stats().reserved;

setKernels(backends[backends.length - 1]![1]);
let started = performance.now();
const norms = keyNorms(keys);
console.log(
  `${N} keys of width ${d} (${mb(N * d * 4)}), ${wasmVariant()} kernels; keyNorms on 2 threads: ${(performance.now() - started).toFixed(0)} ms; ` +
    `load average ${loadavg()[0]!.toFixed(1)}`,
);

/** Seconds for `count` queries in calls of `batch`, and the first query's indices. */
function timeSearch(score: SearchScore, batch: number, count: number, k: number): { seconds: number; first: Int32Array } {
  let first: Int32Array | null = null;
  started = performance.now();
  for (let q0 = 0; q0 < count; q0 += batch) {
    const found = exactSearch(keys, queries.subarray(q0 * d, (q0 + batch) * d), k, score, { keyNorms: norms });
    first ??= found.indices.slice(0, k);
  }
  return { seconds: (performance.now() - started) / 1000, first: first! };
}

interface TorchLine {
  config: string;
  seconds: number;
  first: number[];
  threads: number;
  blas_threads: number | null;
  peak_rss_mb: number;
}

function runTorch(): TorchLine[] {
  const r = spawnSync('/usr/bin/python3', [torchScript, '--dir', dir, '--keys', String(N), '--width', String(d)], {
    encoding: 'utf8',
    maxBuffer: 64 * MB,
  });
  if (r.status !== 0) throw new Error(`torch_search.py failed:\n${r.stderr}`);
  return r.stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as TorchLine);
}

const best = new Map<string, number>(); // `${side}|${config}` -> best seconds
const firsts = new Map<string, Int32Array | number[]>();
const keep = (side: string, config: string, seconds: number, first: Int32Array | number[]) => {
  const key = `${side}|${config}`;
  best.set(key, Math.min(best.get(key) ?? Infinity, seconds));
  firsts.set(key, first);
};
let torchInfo: TorchLine | null = null;
for (let round = 0; round < rounds; round++) {
  for (const [side, kernels] of backends) {
    setKernels(kernels);
    for (const score of SCORES)
      for (const k of KS)
        for (const { batch, queries: count } of BATCHES) {
          const { seconds, first } = timeSearch(score, batch, count, k);
          keep(side, configName(score, batch, k), seconds / count, first);
        }
  }
  if (withTorch) {
    for (const line of runTorch()) {
      keep('torch', line.config, line.seconds, line.first);
      torchInfo = line;
    }
  }
  console.log(`round ${round + 1} of ${rounds} done`);
}

const sides = backends.map(([side]) => side).concat(withTorch ? ['torch'] : []);
console.log(
  `\nqueries per second (best of ${rounds} rounds)${torchInfo ? `; PyTorch on ${torchInfo.threads} intra-op thread(s), OpenBLAS on ${torchInfo.blas_threads ?? 'none'}` : ''}`,
);
console.log(
  ['config'.padEnd(24), ...sides.map((s) => s.padStart(16)), withTorch ? '  tsgpt 2t / torch time   agree on the first query' : ''].join(
    '',
  ),
);
for (const score of SCORES)
  for (const k of KS)
    for (const { batch } of BATCHES) {
      const config = configName(score, batch, k);
      const perQuery = sides.map((s) => best.get(`${s}|${config}`)!);
      let line = config.padEnd(24) + perQuery.map((t) => (1 / t).toFixed(1).padStart(16)).join('');
      if (withTorch) {
        const ours = firsts.get(`${sides[1]}|${config}`)!,
          theirs = firsts.get(`torch|${config}`)!;
        let same = 0;
        for (let i = 0; i < k; i++) if (ours[i] === theirs[i]) same++;
        const theirSet = new Set(theirs);
        const shared = Array.from(ours).filter((i) => theirSet.has(i)).length;
        line += `${`${(perQuery[1]! / perQuery[2]!).toFixed(2)}x`.padStart(22)}   ${same} and ${shared} of ${k}`;
      }
      console.log(line);
    }
const stats = defaultArena.stats();
console.log(
  `\nmemory: arena ${mb(arenaWithKeys)} with the keys, ${mb(stats.reserved)} after every search (norms ${mb(N * 4)}, the rest ` +
    `candidates and the threads' scratch); tsgpt peak resident ${mb(process.resourceUsage().maxRSS * 1024)}` +
    (torchInfo ? `; PyTorch peak resident ${torchInfo.peak_rss_mb.toFixed(0)} MB` : '') +
    `; load average ${loadavg()[0]!.toFixed(1)}`,
);
for (const [, k] of backends) k.dispose?.();
