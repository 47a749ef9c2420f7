/**
 * Matmul throughput of the reference TypeScript kernels and the WebAssembly SIMD kernels (plain SIMD, and
 * relaxed SIMD where this engine has it), on the shapes of the `baby` preset (B*T = 768 rows, n_embd 128,
 * 65 characters): every product shape in each of the three layouts, then the products one training step
 * makes, then the attention kernels at baby's size (B 12, T 64, 4 heads of 32) for comparison.
 *
 *   node dist/bench/matmul.js [--seconds 0.4] [--cpu]
 *
 * GFLOPS count 2*M*N*K flops per product. Each figure is the best of three timed runs after a warm-up, timed by
 * the wall clock, or with --cpu by this process's CPU time (steadier when other processes share the cores;
 * the load average is printed). The WebAssembly kernels run on one thread, then on every core ("x2" on two).
 */
import { loadavg } from 'node:os';
import { referenceKernels, type Kernels } from '../src/engine/backend.js';
import { matmulNN, matmulNT, matmulTN } from '../src/engine/matmul_layouts.js';
import { Rng } from '../src/engine/random.js';
import { Tensor } from '../src/engine/tensor.js';
import { createWasmKernels, wasmVariant } from '../src/engine/wasm/wasm_kernels.js';
import { enableRelaxedSimd } from '../src/cli/wasm_flags.js';
import { coreCount, spawnNodeKernelWorker } from '../src/node/kernel_threads.js';

const args = process.argv.slice(2);
const secondsArg = args.indexOf('--seconds');
const SECONDS = secondsArg >= 0 ? Number(args[secondsArg + 1]) : 0.4;
const CPU = args.includes('--cpu');
/** Milliseconds, by the wall clock or by this process's CPU time. */
const now = CPU
  ? () => {
      const u = process.cpuUsage();
      return (u.user + u.system) / 1000;
    }
  : () => performance.now();

const relaxedAvailable = enableRelaxedSimd();
const backends: [string, Kernels][] = [
  ['reference', referenceKernels],
  ['wasm simd', await createWasmKernels(undefined, { relaxed: false })],
];
if (relaxedAvailable) backends.push(['wasm relaxed', await createWasmKernels(undefined, { relaxed: true })]);
const cores = coreCount();
if (cores > 1 && !CPU) {
  const threaded = { threads: cores, spawnWorker: spawnNodeKernelWorker };
  backends.push([`wasm simd x${cores}`, await createWasmKernels(undefined, { relaxed: false, ...threaded })]);
  if (relaxedAvailable) backends.push([`wasm relax x${cores}`, await createWasmKernels(undefined, { relaxed: true, ...threaded })]);
}

type Layout = 'NT' | 'NN' | 'TN';
const rng = new Rng(1);

function filled(size: number): Tensor {
  const t = new Tensor([size]);
  const d = t.data;
  for (let i = 0; i < size; i++) d[i] = rng.normal();
  return t;
}

/** Seconds per call: best of three runs of SECONDS/3 each, after a warm-up of SECONDS/4. */
function seconds(fn: () => void): number {
  const warm = now();
  do fn();
  while (now() - warm < SECONDS * 250);
  let best = Infinity;
  for (let r = 0; r < 3; r++) {
    let calls = 0;
    const start = now();
    let t = start;
    do {
      fn();
      calls++;
      t = now();
    } while (t - start < (SECONDS * 1000) / 3);
    best = Math.min(best, (t - start) / 1000 / calls);
  }
  return best;
}

function timeMatmul(k: Kernels, layout: Layout, M: number, N: number, K: number): number {
  const out = filled(M * N),
    a = filled(M * K),
    b = filled(K * N);
  const product = layout === 'NT' ? matmulNT : layout === 'NN' ? matmulNN : matmulTN;
  const s = seconds(() => product(k, out.data, a.data, b.data, M, N, K, false));
  for (const t of [out, a, b]) t.dispose();
  return s;
}

const pad = (s: string | number, w: number) => String(s).padStart(w);
const names = backends.map(([n]) => n);
const wasmNames = names.slice(1);

console.log(
  `tsgpt kernels, ${CPU ? 'one thread, CPU' : 'wall-clock'} time; load average ${loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}`,
);
console.log(`wasm builds: simd${relaxedAvailable ? `, relaxed-simd (default: ${wasmVariant()})` : ' (no relaxed SIMD here)'}`);
console.log('');
console.log('matmul GFLOPS');
console.log(
  `${'shape (M x K @ K x N)'.padEnd(22)}${'layout'.padEnd(7)}${names.map((n) => pad(n, 14)).join('')}` +
    wasmNames.map((n) => pad(`x ${n.slice(5)}`, 12)).join(''),
);
const shapes: [number, number, number][] = [
  [768, 128, 384],
  [768, 128, 512],
  [768, 512, 128],
  [768, 128, 65],
];
for (const [M, K, N] of shapes) {
  for (const layout of ['NT', 'NN', 'TN'] as const) {
    const g = backends.map(([, k]) => (2 * M * N * K) / timeMatmul(k, layout, M, N, K) / 1e9);
    console.log(
      `${`${M}x${K} @ ${K}x${N}`.padEnd(22)}${layout.padEnd(7)}${g.map((x) => pad(x.toFixed(1), 14)).join('')}` +
        g
          .slice(1)
          .map((x) => pad(`${(x / g[0]!).toFixed(1)}x`, 12))
          .join(''),
    );
  }
}

// One baby training step: per layer qkv (128 -> 384), proj (128 -> 128), fc (128 -> 512), fc proj (512 -> 128),
// then lm_head (128 -> 65). A linear x[M,K] W[N,K]^T runs NT (M,N,K), NN (M,K,N) for dx and TN (N,K,M) for dW.
console.log('');
console.log('the matmuls of one baby training step (4 layers + lm_head; forward NT, backward NN and TN)');
const layers: [number, number, number, number][] = [
  [768, 128, 384, 4],
  [768, 128, 128, 4],
  [768, 128, 512, 4],
  [768, 512, 128, 4],
  [768, 128, 65, 1],
];
let flops = 0;
const totals = backends.map(() => 0);
for (const [M, K, N, count] of layers) {
  for (const [layout, m, n, kk] of [
    ['NT', M, N, K],
    ['NN', M, K, N],
    ['TN', N, K, M],
  ] as const) {
    flops += count * 2 * m * n * kk;
    backends.forEach(([, k], i) => (totals[i]! += count * timeMatmul(k, layout, m, n, kk)));
  }
}
backends.forEach(([name], i) => {
  const t = totals[i]!;
  const speedup = i === 0 ? '' : `, ${(totals[0]! / t).toFixed(1)}x the reference`;
  console.log(`  ${name.padEnd(13)} ${(t * 1000).toFixed(1).padStart(7)} ms  ${(flops / t / 1e9).toFixed(1).padStart(5)} GFLOPS${speedup}`);
});

// Attention at baby's size: forward and backward of one layer (causal: T(T+1)/2 query-key pairs).
console.log('');
const B = 12,
  T = 64,
  nh = 4,
  hs = 32,
  C = nh * hs,
  scale = 1 / Math.sqrt(hs);
console.log(`attention, one layer at B ${B}, T ${T}, ${nh} heads of ${hs} (GFLOPS count the causal half)`);
const q = filled(B * T * C),
  k = filled(B * T * C),
  v = filled(B * T * C),
  dout = filled(B * T * C);
const out = filled(B * T * C),
  att = filled(B * nh * T * T),
  dq = filled(B * T * C),
  dk = filled(B * T * C),
  dv = filled(B * T * C);
const pairFlops = B * nh * ((T * (T + 1)) / 2) * hs * 2;
for (const [name, kern] of backends) {
  const f = seconds(() => kern.attentionForward(out.data, att.data, q.data, k.data, v.data, null, B, T, nh, hs, scale, C, 0, nh));
  const b = seconds(() =>
    kern.attentionBackward(dq.data, dk.data, dv.data, dout.data, q.data, k.data, v.data, att.data, null, B, T, nh, hs, scale, C, true),
  );
  console.log(
    `  ${name.padEnd(13)} forward ${(f * 1000).toFixed(2).padStart(6)} ms (${((2 * pairFlops) / f / 1e9).toFixed(1)} GFLOPS), ` +
      `backward ${(b * 1000).toFixed(2).padStart(6)} ms (${((4 * pairFlops) / b / 1e9).toFixed(1)} GFLOPS)`,
  );
}
