/**
 * The WebAssembly kernels on helper threads: every kernel that threads split gives the same bits on 2 and 3
 * threads as on 1 (shapes large enough to be split, odd sizes so that the blocks are uneven), and a few
 * training steps of a GPT end at the same loss and the same weights, bit for bit, whatever the thread count.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { Arena } from '../../src/engine/arena.js';
import { kernels, setKernels, type Kernels } from '../../src/engine/backend.js';
import { Rng } from '../../src/engine/random.js';
import { Tensor } from '../../src/engine/tensor.js';
import { createWasmKernelsSync } from '../../src/engine/wasm/wasm_kernels.js';
import { chunkCuts, MAX_CHUNKS } from '../../src/engine/wasm/thread_team.js';
import { matmulNN, matmulNT, matmulTN, panelFloats } from '../../src/engine/matmul_layouts.js';
import { enableRelaxedSimd } from '../../src/cli/wasm_flags.js';
import { spawnNodeKernelWorker } from '../../src/node/kernel_threads.js';
import { createModel } from '../../src/models/index.js';
import { Trainer } from '../../src/train/trainer.js';
import { PRESETS, type RunConfig } from '../../src/train/config.js';

enableRelaxedSimd();
const byThreads = new Map<number, Kernels>(
  [1, 2, 3].map((n) => [n, createWasmKernelsSync(undefined, { threads: n, spawnWorker: spawnNodeKernelWorker })]),
);
after(() => {
  for (const k of byThreads.values()) k.dispose?.();
});

const rng = new Rng(20261127);

function filled(n: number, std = 1): Tensor {
  const t = new Tensor([n]);
  const d = t.data;
  for (let i = 0; i < n; i++) d[i] = rng.normal() * std;
  return t;
}

/**
 * Runs `call` on fresh copies of `inputs` with each thread count and checks that every output array is the
 * same bit for bit. `outputs` are the indices of the arrays the kernel writes (they start with random values,
 * so accumulating kernels are checked too).
 */
function sameOnEveryThreadCount(what: string, inputs: Tensor[], outputs: number[], call: (k: Kernels, a: Float32Array[]) => void): void {
  let expected: number[][] | null = null;
  for (const [threads, k] of byThreads) {
    const copies = inputs.map((t) => {
      const c = new Tensor(t.shape);
      c.data.set(t.data);
      return c;
    });
    call(
      k,
      copies.map((c) => c.data),
    );
    const got = outputs.map((i) => Array.from(copies[i]!.data));
    for (const c of copies) c.dispose();
    if (expected === null) expected = got;
    else assert.deepEqual(got, expected, `${what}: ${threads} threads differ from 1`);
  }
}

test('chunk cuts: every unit once, on aligned offsets, big chunks first and never growing, never too many chunks', () => {
  for (const [total, align, threads] of [
    [768, 4, 2],
    [128, 8, 2],
    [12, 1, 2],
    [5, 1, 3],
    [40_003, 16, 2],
    [16_384, 4, 64],
    [3, 4, 2],
  ] as const) {
    const cuts = chunkCuts(total, align, threads);
    const tag = `total ${total} align ${align} threads ${threads}`;
    assert.equal(cuts[0], 0, tag);
    assert.equal(cuts.at(-1), total, tag);
    assert.ok(cuts.length - 1 <= MAX_CHUNKS, `${tag}: ${cuts.length - 1} chunks`);
    for (let i = 1; i < cuts.length; i++) {
      assert.ok(cuts[i]! > cuts[i - 1]!, `${tag}: empty chunk`);
      if (i < cuts.length - 1) assert.equal(cuts[i]! % align, 0, `${tag}: cut ${cuts[i]} not aligned`);
    }
    // Chunks never grow after the first ones (the last may be cut short by the total).
    const sizes = cuts.slice(1).map((c, i) => c - cuts[i]!);
    for (let i = 1; i < sizes.length - 1; i++) assert.ok(sizes[i]! <= sizes[i - 1]!, `${tag}: chunk ${i} grows (${sizes})`);
  }
});

test('matmul in its three layouts: the same bits on 1, 2 and 3 threads, split by rows and by columns', () => {
  // [M, N, K]: more rows than columns (split by rows), more columns (split by columns), depth past a block;
  // then B (split by rows) and A (split by columns) past a block of columns or rows as well, so that the
  // operand each thread packs whole holds several blocks.
  for (const [M, N, K] of [
    [201, 67, 29],
    [13, 301, 45],
    [37, 41, 300],
    [600, 530, 270],
    [150, 700, 260],
  ] as const) {
    for (const accumulate of [false, true]) {
      for (const [layout, product] of [
        ['NT', matmulNT],
        ['NN', matmulNN],
        ['TN', matmulTN],
      ] as const) {
        const ins = [filled(M * N), filled(M * K), filled(N * K)];
        sameOnEveryThreadCount(`matmul${layout} ${M}x${N}x${K} accumulate ${accumulate}`, ins, [0], (k, [out, a, b]) =>
          product(k, out!, a!, b!, M, N, K, accumulate),
        );
        for (const t of ins) t.dispose();
      }
    }
  }
});

test("packPanels and rowsTimesPanels (sampling's one-row products): the same bits on 1, 2 and 3 threads", () => {
  // N not a multiple of the 32-column panels, K past a depth block; big enough that threads take panels.
  for (const [M, N, K] of [
    [1, 1001, 300],
    [3, 700, 129],
  ] as const) {
    const ins = [filled(panelFloats(N, K)), filled(N * K), filled(M * (N + 3)), filled(M * K)];
    sameOnEveryThreadCount(`packPanels ${N}x${K}`, ins, [0], (k, [panels, w]) => k.packPanels(panels!, w!, N, K));
    sameOnEveryThreadCount(`rowsTimesPanels ${M}x${N}x${K}`, ins, [2], (k, [panels, w, out, x]) => {
      k.packPanels(panels!, w!, N, K);
      k.rowsTimesPanels(out!, N + 3, x!, panels!, M, N, K);
    });
    for (const t of ins) t.dispose();
  }
});

test('matmul: an operand changed in place between two split products is packed again, not taken from the last call', () => {
  // The same buffers twice: the threads' packed copies of the shared operand (B when split by rows, A when
  // split by columns) belong to the first call and must not serve the second.
  const one = byThreads.get(1)!,
    two = byThreads.get(2)!;
  for (const [M, N, K] of [
    [300, 40, 70],
    [40, 300, 70],
  ] as const) {
    const out = filled(M * N),
      a = filled(M * K),
      b = filled(N * K);
    for (let round = 0; round < 2; round++) {
      matmulNT(two, out.data, a.data, b.data, M, N, K, false);
      const got = Array.from(out.data);
      matmulNT(one, out.data, a.data, b.data, M, N, K, false);
      assert.deepEqual(got, Array.from(out.data), `${M}x${N}x${K}, round ${round}`);
      for (const t of [a, b]) for (let i = 0; i < t.data.length; i++) t.data[i] = -2 * t.data[i]! + 1;
    }
    for (const t of [out, a, b]) t.dispose();
  }
});

test('attention forward and backward: the same bits on 1, 2 and 3 threads, with q, k, v apart and in place', () => {
  const [B, T, nh, hs] = [5, 17, 2, 12];
  const C = nh * hs,
    scale = 1 / Math.sqrt(hs);
  for (const ld of [C, 3 * C]) {
    for (const withKeep of [false, true]) {
      const keep = filled(B * nh * T * T);
      keep.data.forEach((x, i, d) => (d[i] = x > 0 ? 1.25 : 0));
      // q, k, v (and dq, dk, dv) as column blocks of one [B, T, ld] array when ld = 3C.
      const [out, att, qkv, dqkv, dout] = [
        filled(B * T * C),
        filled(B * nh * T * T),
        filled(B * T * ld),
        filled(B * T * ld),
        filled(B * T * C),
      ];
      const thirds = (x: Float32Array) => [x, x.subarray(ld === C ? 0 : C), x.subarray(ld === C ? 0 : 2 * C)] as const;
      sameOnEveryThreadCount(
        `attention ld ${ld} keep ${withKeep}`,
        [out, att, qkv, dqkv, dout, keep],
        [0, 1, 3],
        (k, [o, a, x, dx, dy, m]) => {
          const [q, kk, v] = thirds(x!);
          k.attentionForward(o!, a!, q, kk, v, withKeep ? m! : null, B, T, nh, hs, scale, ld, 0, nh);
          const [dq, dk, dv] = thirds(dx!);
          // With ld = C the three are one array: only dq is passed, so nothing is accumulated twice.
          k.attentionBackward(
            dq,
            ld === C ? null : dk,
            ld === C ? null : dv,
            dy!,
            q,
            kk,
            v,
            a!,
            withKeep ? m! : null,
            B,
            T,
            nh,
            hs,
            scale,
            ld,
            true,
          );
        },
      );
      for (const t of [keep, out, att, qkv, dqkv, dout]) t.dispose();
    }
  }
});

test('attention forward of one sequence, split by heads: the same bits on 1, 2 and 3 threads', () => {
  const [T, nh, hs] = [41, 5, 17]; // long enough to be split
  const C = nh * hs,
    scale = 1 / Math.sqrt(hs);
  for (const ld of [C, 3 * C]) {
    const [out, att, qkv] = [filled(T * C), filled(nh * T * T), filled(T * ld)];
    sameOnEveryThreadCount(`attention B=1 ld ${ld}`, [out, att, qkv], [0, 1], (k, [o, a, x]) =>
      k.attentionForward(
        o!,
        a!,
        x!,
        x!.subarray(ld === C ? 0 : C),
        x!.subarray(ld === C ? 0 : 2 * C),
        null,
        1,
        T,
        nh,
        hs,
        scale,
        ld,
        0,
        nh,
      ),
    );
    for (const t of [out, att, qkv]) t.dispose();
  }
});

test('gelu (both forms), fillZero, copy and same-shape add: the same bits on 1, 2 and 3 threads', () => {
  const n = 40_003;
  const ins = [filled(n), filled(n, 3), filled(n)];
  sameOnEveryThreadCount('geluForward', ins, [0], (k, [out, x]) => k.geluForward(out!, x!, null, n));
  sameOnEveryThreadCount('geluBackward', ins, [0], (k, [dx, x, dout]) => k.geluBackward(dx!, x!, dout!, null, n, true));
  sameOnEveryThreadCount('geluBackward overwrite', ins, [0], (k, [dx, x, dout]) => k.geluBackward(dx!, x!, dout!, null, n, false));
  sameOnEveryThreadCount('geluForward saving exp(-2u), then the backward from it', ins, [0, 1, 2], (k, [out, x, saved]) => {
    k.geluForward(out!, x!, saved!, n);
    k.geluBackward(out!, x!, out!, saved!, n, true);
  });
  sameOnEveryThreadCount('geluErfForward', ins, [0], (k, [out, x]) => k.geluErfForward(out!, x!, n));
  sameOnEveryThreadCount('geluErfBackward', ins, [0], (k, [dx, x, dout]) => k.geluErfBackward(dx!, x!, dout!, n, true));
  sameOnEveryThreadCount('geluErfBackward overwrite', ins, [0], (k, [dx, x, dout]) => k.geluErfBackward(dx!, x!, dout!, n, false));
  sameOnEveryThreadCount('fillZero', ins, [0], (k, [out]) => k.fillZero(out!, n - 5));
  sameOnEveryThreadCount('copy', ins, [0], (k, [out, x]) => k.copy(out!, x!, n - 5));
  sameOnEveryThreadCount('transpose 301 x 131', ins, [0], (k, [out, x]) => k.transpose(out!, x!, 301, 131, 131, 301));
  sameOnEveryThreadCount('add', ins, [0], (k, [out, a, b]) => k.add(out!, a!, b!, n));
  sameOnEveryThreadCount('add in place', ins, [0], (k, [da, , dout]) => k.add(da!, da!, dout!, n));
  const z = ins[0]!;
  byThreads.get(2)!.fillZero(z.data, n - 5);
  assert.ok(z.data.subarray(0, n - 5).every((x) => x === 0) && z.data[n - 1] !== 0, 'fillZero clears n floats and no more');
  for (const t of ins) t.dispose();
});

test('layerNorm forward and backward, and AdamW: the same bits on 1, 2 and 3 threads', () => {
  // 67 columns: the weight gradients split by columns in blocks of 4, with a ragged last block.
  const [N, C] = [301, 67];
  const ln = [filled(N * C), filled(N), filled(N), filled(N * C), filled(C), filled(C)];
  sameOnEveryThreadCount('layernormForward', ln, [0, 1, 2], (k, [out, mean, rstd, x, w, b]) =>
    k.layernormForward(out!, mean!, rstd!, x!, w!, b!, N, C, 1e-5),
  );
  const [, mean, rstd, x, w] = ln;
  rstd!.data.forEach((r, i, d) => (d[i] = Math.abs(r) + 0.5));
  const grads = [filled(N * C), filled(C), filled(C), filled(N * C), x!, mean!, rstd!, w!];
  for (const accumulateDx of [true, false]) {
    sameOnEveryThreadCount(`layernormBackwardInput accumulate ${accumulateDx}`, grads, [0], (k, [dx, , , dout, xx, m, r, ww]) =>
      k.layernormBackwardInput(dx!, dout!, xx!, m!, r!, ww!, N, C, accumulateDx),
    );
  }
  sameOnEveryThreadCount('layernormBackwardParams', grads, [1, 2], (k, [, dw, db, dout, xx, m, r]) =>
    k.layernormBackwardParams(dw!, db!, dout!, xx!, m!, r!, N, C, C),
  );
  sameOnEveryThreadCount('layernormBackwardParams weight only', grads, [1], (k, [, dw, , dout, xx, m, r]) =>
    k.layernormBackwardParams(dw!, null, dout!, xx!, m!, r!, N, C, C),
  );
  for (const t of [...ln, ...grads.slice(0, 4)]) t.dispose();
  const n = 50_001;
  const opt = [filled(n), filled(n), filled(n), filled(n)];
  opt[3]!.data.forEach((x, i, d) => (d[i] = x * x)); // second moments are not negative
  sameOnEveryThreadCount('adamwStep', opt, [0, 2, 3], (k, [p, g, m, v]) =>
    k.adamwStep(p!, g!, m!, v!, n, 1e-3, 0.9, 0.99, 1e-8, 0.1, 1 - 0.9 ** 7, Math.sqrt(1 - 0.99 ** 7), 0.5, false),
  );
  sameOnEveryThreadCount('adamwStep zeroGrad', opt, [0, 1, 2, 3], (k, [p, g, m, v]) => {
    k.adamwStep(p!, g!, m!, v!, n, 1e-3, 0.9, 0.99, 1e-8, 0.1, 1 - 0.9 ** 7, Math.sqrt(1 - 0.99 ** 7), 0.5, true);
    assert.ok(
      g!.every((x) => x === 0),
      `${k.threads} threads: gradient zeroed`,
    );
  });
  for (const t of opt) t.dispose();
});

test('rms norm, rotary embeddings, relu squared, soft-cap, axpby and strided copies: the same bits on 1, 2 and 3 threads', () => {
  // QK-norm's layout: 2 nh groups of hs floats in rows 3C apart; 301 rows, so the chunks are uneven.
  const [B, T, nh, hs] = [7, 43, 4, 32];
  const N = B * T,
    C3 = 3 * nh * hs;
  const rs = [filled(N * C3), filled(N * 2 * nh), filled(N * C3), filled(N * C3)];
  sameOnEveryThreadCount('rmsnormForward', rs, [0, 1], (k, [out, rstd, x]) =>
    k.rmsnormForward(out!, rstd!, x!, N, 2 * nh, hs, C3, 2 ** -23),
  );
  rs[1]!.data.forEach((r, i, d) => (d[i] = Math.abs(r) + 0.5));
  for (const accumulate of [true, false]) {
    sameOnEveryThreadCount(`rmsnormBackward accumulate ${accumulate}`, rs, [0], (k, [dx, rstd, x, dout]) =>
      k.rmsnormBackward(dx!, dout!, x!, rstd!, N, 2 * nh, hs, C3, accumulate),
    );
  }
  const angles = [filled(T * (hs / 2)), filled(T * (hs / 2))];
  for (const inverse of [false, true]) {
    sameOnEveryThreadCount(`rotary inverse ${inverse}`, [rs[0]!, rs[2]!, ...angles], [0], (k, [out, x, c, s]) =>
      k.rotary(out!, x!, c!, s!, B, T, 2 * nh, hs, C3, inverse),
    );
    sameOnEveryThreadCount(`rotary in place, inverse ${inverse}`, [rs[2]!, ...angles], [0], (k, [x, c, s]) =>
      k.rotary(x!, x!, c!, s!, B, T, 2 * nh, hs, C3, inverse),
    );
  }
  for (const accumulate of [true, false]) {
    sameOnEveryThreadCount(`copyStrided accumulate ${accumulate}`, [rs[0]!, rs[2]!], [0], (k, [out, x]) =>
      k.copyStrided(out!.subarray(7), C3, x!, C3, N - 1, C3 - 9, accumulate),
    );
  }
  const n = 40_003;
  const ins = [filled(n), filled(n, 20), filled(n)];
  sameOnEveryThreadCount('relu2Forward', ins, [0], (k, [out, x]) => k.relu2Forward(out!, x!, n));
  sameOnEveryThreadCount('softcapForward', ins, [0], (k, [out, x]) => k.softcapForward(out!, x!, n, 15));
  for (const accumulate of [true, false]) {
    sameOnEveryThreadCount(`relu2Backward accumulate ${accumulate}`, ins, [0], (k, [dx, x, dout]) =>
      k.relu2Backward(dx!, x!, dout!, n, accumulate),
    );
    sameOnEveryThreadCount(`softcapBackward accumulate ${accumulate}`, ins, [0], (k, [dx, out, dout]) =>
      k.softcapBackward(dx!, out!, dout!, n, 15, accumulate),
    );
  }
  sameOnEveryThreadCount('axpby', ins, [0], (k, [out, x, y]) => k.axpby(out!, x!, y!, n, 0.95, -1.5));
  sameOnEveryThreadCount('axpby in place', ins, [1], (k, [, x, y]) => k.axpby(x!, x!, y!, n, 3.4445, 1));
  for (const t of [...rs, ...angles, ...ins]) t.dispose();
});

test('training a GPT: the same losses and weights, bit for bit, on 1 and 2 threads', () => {
  const config: RunConfig = {
    ...PRESETS.baby,
    nLayer: 2,
    nEmbd: 48,
    nHead: 3,
    blockSize: 24,
    batchSize: 6,
    maxIters: 4,
    evalIters: 2,
    dropout: 0.1,
  };
  const runs = [1, 2].map((threads) => {
    const saved = kernels();
    setKernels(byThreads.get(threads)!);
    try {
      const r = new Rng(5);
      const tokens = Int32Array.from({ length: 5000 }, () => r.int(40));
      const model = createModel(
        { kind: 'gpt', style: 'nanogpt', vocabSize: 40, blockSize: 24, nLayer: 2, nHead: 3, nEmbd: 48, dropout: 0.1, bias: true },
        r,
      );
      const trainer = new Trainer(model, config, tokens.subarray(0, 4000), tokens.subarray(4000), r);
      const losses = Array.from({ length: 4 }, () => trainer.trainStep().loss);
      const weights = model.parameters().map((p) => Array.from(p.data));
      trainer.optimizer.dispose();
      model.dispose();
      return { losses, weights };
    } finally {
      setKernels(saved);
    }
  });
  assert.ok(runs[0]!.losses.every(Number.isFinite));
  assert.deepEqual(runs[1]!.losses, runs[0]!.losses);
  assert.deepEqual(runs[1]!.weights, runs[0]!.weights);
});

test('a helper that never starts: every call still completes, on the calling thread, with the same bits', () => {
  // The caller waits for chunks, not for helpers: a helper that is late (or never comes) just takes none.
  const absent = createWasmKernelsSync(undefined, { threads: 2, spawnWorker: () => ({ terminate: () => {} }) });
  const one = byThreads.get(1)!;
  const [M, N, K] = [203, 61, 37];
  const ins = [filled(M * N), filled(M * K), filled(N * K), filled(M * N)];
  const results = [absent, one].map((k) => {
    const [out, a, b, out2] = ins.map((t) => {
      const c = new Tensor(t.shape);
      c.data.set(t.data);
      return c;
    });
    matmulNT(k, out!.data, a!.data, b!.data, M, N, K, false);
    matmulTN(k, out2!.data, a!.data, out!.data, K, N, M, true); // more calls on the same team
    k.geluForward(a!.data, a!.data, null, M * K);
    const got = [Array.from(out!.data), Array.from(out2!.data), Array.from(a!.data)];
    for (const t of [out, a, b, out2]) t!.dispose();
    return got;
  });
  assert.deepEqual(results[0], results[1]);
  assert.equal(absent.helpersRunning?.(), 0, 'a helper that never started is not counted');
  absent.dispose?.();
  for (const t of ins) t.dispose();
});

test('helpersRunning counts the helpers that came up', async () => {
  // Helpers start in parallel with the caller; each says it is up in its control block.
  const deadline = Date.now() + 30_000;
  for (const [threads, k] of byThreads) {
    while (k.helpersRunning!() < threads - 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    assert.equal(k.helpersRunning!(), threads - 1, `${threads} threads`);
  }
});

test('more than one thread needs a shared memory and a way to start workers: clear errors otherwise', () => {
  const plain = new Arena({ shared: false, initialBytes: 1 << 20 });
  assert.equal(plain.shared, false);
  assert.throws(
    () => createWasmKernelsSync(plain, { threads: 2, spawnWorker: spawnNodeKernelWorker }),
    (e: Error) => {
      assert.equal(e.name, 'TsgptError');
      // A browser page without cross-origin isolation is the usual cause: the message names the two headers.
      assert.match(e.message, /shared memory .*Cross-Origin-Opener-Policy: same-origin.*Cross-Origin-Embedder-Policy: require-corp/);
      return true;
    },
  );
  assert.throws(() => createWasmKernelsSync(undefined, { threads: 2 }), /spawnWorker/);
  assert.throws(() => createWasmKernelsSync(undefined, { threads: 0 }), /at least 1/);
  // One thread works on a plain memory (the module built for it).
  const k = createWasmKernelsSync(plain, { threads: 1 });
  assert.equal(k.threads, 1);
});
