/**
 * The WebAssembly SIMD kernels against the reference TypeScript kernels: every kernel on random inputs over
 * odd and even shapes (sizes that are not multiples of the 4-float vectors or of the 4x8 matmul tile, shapes
 * that cross the matmul's block sizes), accumulate on and off, null optional arguments; each case runs with all
 * views in the arena and again with some views as plain Float32Arrays (the copy path). Then a whole GPT
 * forward, backward and AdamW step gives the same loss, gradients and weights on both backends.
 *
 * Tolerances are relative to the largest magnitude of the expected tensor (helpers/assert.ts relativeError).
 * The reference computes each value in float64 and rounds once; the wasm kernels keep float32 sums and
 * multiply-adds (and a polynomial exp good to about 2 ulp), so sums of K terms drift by about sqrt(K) ulp:
 *   element-wise, embedding, bias, add, mul, relu: 1e-6 (a few rounding differences at most)
 *   exp-based (gelu, softmax, cross-entropy, layernorm), adamw: 1e-5
 *   matmul (K up to 777) and attention: 1e-5;   sumOfSquares (float64 lanes): 1e-12
 * Gradients that are zero in exact arithmetic (dq, dk when T = 1) are compared against a scale of 1, the size
 * of these N(0, 1) inputs' gradients, not against their own rounding noise; likewise the cross-entropy loss
 * (a difference of float32 terms of size 1 to 10, tiny when the target logit dominates).
 * The whole-model check uses 1e-4 (1e-3 for the weights after AdamW), the bars the PyTorch parity test sets;
 * the observed errors are printed with TSGPT_TEST_VERBOSE=1.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { referenceKernels, setKernels, type Kernels } from '../../src/engine/backend.js';
import { matmulNN, matmulNT, matmulTN, panelFloats } from '../../src/engine/matmul_layouts.js';
import { Rng } from '../../src/engine/random.js';
import { Tensor, intTensor, tidy } from '../../src/engine/tensor.js';
import { createWasmKernels, createWasmKernelsSync } from '../../src/engine/wasm/wasm_kernels.js';
import { enableRelaxedSimd } from '../../src/cli/wasm_flags.js';
import { GPT, type GPTConfig } from '../../src/models/gpt.js';
import { AdamW, gradientNorm } from '../../src/train/adamw.js';
import { relativeError } from '../helpers/assert.js';

// Both builds: plain SIMD, and relaxed SIMD (fused multiply-add) where this engine has it.
const variants: [string, Kernels][] = [['simd', await createWasmKernels(undefined, { relaxed: false })]];
if (enableRelaxedSimd()) variants.push(['relaxed-simd', await createWasmKernels(undefined, { relaxed: true })]);
const wasm = variants[0]![1];
const rng = new Rng(20261126);
const verbose = !!process.env.TSGPT_TEST_VERBOSE;

type Arr = Float32Array | Int32Array;
type Arg = Arr | null | number | boolean;

function randn(n: number, std = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.normal() * std;
  return a;
}

function ints(n: number, below: number): Int32Array {
  const a = new Int32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.int(below);
  return a;
}

const worst = new Map<string, number>();

function note(kernel: string, err: number): void {
  worst.set(kernel, Math.max(worst.get(kernel) ?? 0, err));
}

/**
 * Runs `call` with the reference kernels on plain copies of args, then with each wasm build twice: all arrays
 * in the arena, and every other array left as a plain typed array (the copy path). Compares every array
 * argument afterwards (outputs, accumulated gradients, and inputs that must be left alone) and the result.
 */
function check(what: string, kernel: string, tol: number, args: Arg[], call: (k: Kernels, a: Arg[]) => unknown, floor = 0): void {
  const copy = (a: Arg): Arg => (a instanceof Float32Array || a instanceof Int32Array ? a.slice() : a);
  const refArgs = args.map(copy);
  const expected = call(referenceKernels, refArgs);
  for (const [variant, wasm] of variants)
    for (const mode of ['arena', 'mixed'] as const) {
      let arrayIndex = 0;
      const tensors: (Tensor | null)[] = args.map((a) => {
        if (!(a instanceof Float32Array || a instanceof Int32Array)) return null;
        if (mode === 'mixed' && arrayIndex++ % 2 === 1) return null;
        const t = new Tensor([a.length], a instanceof Int32Array ? 'i32' : 'f32');
        (a instanceof Int32Array ? t.ints : t.data).set(a);
        return t;
      });
      const plain = args.map(copy);
      // Views are taken just before the call: making tensors may have grown the memory.
      const view = (i: number): Arg => {
        const t = tensors[i];
        return t ? (t.dtype === 'i32' ? t.ints : t.data) : plain[i]!;
      };
      const actual = call(
        wasm,
        args.map((_, i) => view(i)),
      );
      args.forEach((a, i) => {
        if (!(a instanceof Float32Array || a instanceof Int32Array)) return;
        const got = view(i) as Arr,
          want = refArgs[i] as Arr;
        const err = errorOf(got, want, floor);
        note(kernel, err);
        assert.ok(err <= tol, `${what} [${variant}, ${mode}] argument ${i}: relative error ${err.toExponential(2)} > ${tol}`);
      });
      compareResults(`${what} [${variant}, ${mode}]`, kernel, actual, expected, tol, floor);
      for (const t of tensors) t?.dispose();
    }
}

/**
 * relativeError, except that equal non-finite values (an input holding -Infinity) count as equal and the
 * scale is at least `floor`: a gradient that is zero in exact arithmetic (dq when T = 1) holds rounding noise
 * in both backends, and the noise must be measured against the gradient's natural scale, not its own.
 */
function errorOf(got: Arr, want: Arr, floor: number): number {
  assert.equal(got.length, want.length, 'length');
  let diff = 0,
    scale = floor;
  for (let i = 0; i < want.length; i++) {
    const a = got[i]!,
      e = want[i]!;
    if (Number.isFinite(e)) scale = Math.max(scale, Math.abs(e));
    if (Object.is(a, e)) continue;
    if (!Number.isFinite(a) || !Number.isFinite(e)) return Infinity;
    diff = Math.max(diff, Math.abs(a - e));
  }
  return scale === 0 ? diff : diff / scale;
}

function compareResults(what: string, kernel: string, actual: unknown, expected: unknown, tol: number, floor: number): void {
  if (typeof expected === 'number') {
    assert.equal(typeof actual, 'number', what);
    if (Number.isNaN(expected)) {
      assert.ok(Number.isNaN(actual as number), `${what}: expected NaN`);
      return;
    }
    const err = Math.abs((actual as number) - expected) / Math.max(Math.abs(expected), floor, 1e-30);
    note(kernel, err);
    assert.ok(err <= tol, `${what}: result ${actual} vs ${expected}`);
  } else if (expected !== null && typeof expected === 'object') {
    for (const [key, value] of Object.entries(expected)) {
      compareResults(`${what}.${key}`, kernel, (actual as Record<string, unknown>)[key], value, tol, floor);
    }
  } else {
    assert.equal(actual, expected, what);
  }
}

const f = (a: Arg) => a as Float32Array;
const i32 = (a: Arg) => a as Int32Array;
/** The three layouts of a linear layer's products, over the one strided matmul kernel. */
const LAYOUTS = [
  ['NT', matmulNT],
  ['NN', matmulNN],
  ['TN', matmulTN],
] as const;
/** AdamW's bias corrections at a step, as the optimizer computes them. */
const biasCorrections = (step: number): [number, number] => [1 - Math.pow(0.9, step), Math.sqrt(1 - Math.pow(0.95, step))];

test('matmul NT, NN, TN: odd shapes, shapes crossing the blocks, accumulate on and off', () => {
  const shapes: [number, number, number][] = [
    [1, 1, 1],
    [1, 7, 3],
    [3, 5, 7],
    [5, 3, 1],
    [4, 8, 16],
    [17, 33, 5],
    [33, 17, 67],
    [67, 65, 33],
    [8, 16, 260],
    [1, 67, 300],
    [67, 1, 17],
    [130, 9, 7],
    [6, 520, 12],
    [131, 37, 259],
    [5, 9, 777],
  ];
  for (const [M, N, K] of shapes) {
    for (const accumulate of [false, true]) {
      const a = randn(M * K),
        b = randn(K * N),
        out = randn(M * N);
      const tag = `${M}x${N}x${K}${accumulate ? ' acc' : ''}`;
      for (const [layout, product] of LAYOUTS) {
        check(`matmul${layout} ${tag}`, 'matmul', 1e-5, [out, a, b, M, N, K, accumulate], (k, x) =>
          product(k, f(x[0]), f(x[1]), f(x[2]), M, N, K, accumulate),
        );
      }
      // A block of columns (the output's rows ldc apart), as a thread computes one.
      if (N > 2) {
        const cols = N - 2;
        check(`matmul block of columns ${tag}`, 'matmul', 1e-5, [out, a, b], (k, x) =>
          k.matmul(f(x[0]).subarray(1), N, f(x[1]), K, 1, f(x[2]).subarray(K), 1, K, M, cols, K, accumulate),
        );
      }
    }
  }
  // One to three rows take their own path (no packing), in the NT layout (a weight as stored) and the NN
  // layout (a weight transposed, as the input gradient reads it): each row must have the very bits it gets
  // among many rows, or sampling with the cache would drift from the uncached path.
  // [N, K]: odd widths, depths past a block of KC = 256.
  const fewRowShapes = [
    [67, 300],
    [8, 5],
    [13, 129],
    [70, 33],
    [35, 260],
  ] as const;
  for (const [variant, k] of variants) {
    for (const [layout, product] of LAYOUTS.slice(0, 2)) {
      for (const [N, K] of fewRowShapes) {
        for (const accumulate of [false, true]) {
          const M = 7;
          const a = new Tensor([M * K]),
            b = new Tensor([N * K]),
            whole = new Tensor([M * N]),
            rows = new Tensor([M * N]);
          a.data.set(randn(M * K));
          b.data.set(randn(N * K));
          whole.data.set(randn(M * N));
          rows.data.set(whole.data);
          product(k, whole.data, a.data, b.data, M, N, K, accumulate);
          for (let i = 0; i < M; i += 3) {
            const m = Math.min(3, M - i);
            product(k, rows.data.subarray(i * N), a.data.subarray(i * K), b.data, m, N, K, accumulate);
          }
          assert.deepEqual(Array.from(rows.data), Array.from(whole.data), `${variant} ${layout} rows alone vs together, N ${N} K ${K}`);
          for (const t of [a, b, whole, rows]) t.dispose();
        }
      }
    }
  }
  // Sampling's one-row products read the weight packed into panels of 32 columns: packing moves floats only
  // (exact), and each row's outputs have the very bits matmul gives the row among many (forward()'s).
  // Also whole panels, and a depth past two blocks.
  for (const [N, K] of [...fewRowShapes, [64, 128], [32, 513]] as const) {
    const w = randn(N * K),
      x = randn(3 * K);
    check(`packPanels N ${N} K ${K}`, 'packPanels', 0, [new Float32Array(panelFloats(N, K)), w], (k, a) =>
      k.packPanels(f(a[0]), f(a[1]), N, K),
    );
    for (const M of [1, 2, 3]) {
      const panels = new Float32Array(panelFloats(N, K));
      check(`rowsTimesPanels M ${M} N ${N} K ${K}`, 'rowsTimesPanels', 1e-5, [randn(M * (N + 5)), x, w, panels], (k, a) => {
        k.packPanels(f(a[3]), f(a[2]), N, K);
        k.rowsTimesPanels(f(a[0]), N + 5, f(a[1]), f(a[3]), M, N, K);
      });
    }
    for (const [variant, k] of variants) {
      const weight = new Tensor([N * K]),
        rows = new Tensor([7 * K]),
        panels = new Tensor([panelFloats(N, K)]),
        whole = new Tensor([7 * N]),
        each = new Tensor([7 * N]);
      weight.data.set(w);
      rows.data.set(randn(7 * K));
      matmulNT(k, whole.data, rows.data, weight.data, 7, N, K, false);
      k.packPanels(panels.data, weight.data, N, K);
      for (let i = 0; i < 7; i += 3)
        k.rowsTimesPanels(each.data.subarray(i * N), N, rows.data.subarray(i * K), panels.data, Math.min(3, 7 - i), N, K);
      assert.deepEqual(Array.from(each.data), Array.from(whole.data), `${variant} rowsTimesPanels against matmul's rows, N ${N} K ${K}`);
      for (const t of [weight, rows, panels, whole, each]) t.dispose();
    }
  }
  // K = 0: overwrite gives zeros, accumulate leaves out alone.
  for (const accumulate of [false, true]) {
    check(`matmulNT K=0${accumulate ? ' acc' : ''}`, 'matmul', 0, [randn(6), new Float32Array(0), new Float32Array(0)], (k, x) =>
      matmulNT(k, f(x[0]), f(x[1]), f(x[2]), 2, 3, 0, accumulate),
    );
  }
});

test('attention forward and backward: T = 1, 7, 33, 70, odd head sizes, with and without dropout', () => {
  const heads = [
    [1, 1],
    [3, 5],
    [2, 7],
    [1, 16],
    [2, 20],
    [1, 37],
    [2, 32],
  ] as const;
  for (const T of [1, 7, 33, 70]) {
    for (const [nh, hs] of T === 70 ? [heads[4], heads[5]] : heads) {
      for (const dropout of [false, true]) {
        const B = 2,
          C = nh * hs,
          scale = 1 / Math.sqrt(hs);
        const q = randn(B * T * C),
          kk = randn(B * T * C),
          v = randn(B * T * C),
          dout = randn(B * T * C);
        const keep = dropout ? Float32Array.from(randn(B * nh * T * T), (x) => (x < -0.5 ? 0 : 1 / 0.7)) : null;
        const tag = `B=${B} T=${T} nh=${nh} hs=${hs}${dropout ? ' dropout' : ''}`;
        const fwd = [randn(B * T * C), randn(B * nh * T * T), q, kk, v, keep];
        check(`attentionForward ${tag}`, 'attention', 1e-5, fwd, (k, x) =>
          k.attentionForward(f(x[0]), f(x[1]), f(x[2]), f(x[3]), f(x[4]), x[5] as Float32Array | null, B, T, nh, hs, scale, C, 0, nh),
        );
        const att = new Float32Array(B * nh * T * T);
        referenceKernels.attentionForward(new Float32Array(B * T * C), att, q, kk, v, keep, B, T, nh, hs, scale, C, 0, nh);
        for (const zero of [true, false]) {
          const g = () => (zero ? new Float32Array(B * T * C) : randn(B * T * C));
          check(
            `attentionBackward ${tag}${zero ? '' : ' acc'}`,
            'attention',
            1e-5,
            [g(), g(), g(), dout, q, kk, v, att, keep],
            (k, x) =>
              k.attentionBackward(
                f(x[0]),
                f(x[1]),
                f(x[2]),
                f(x[3]),
                f(x[4]),
                f(x[5]),
                f(x[6]),
                f(x[7]),
                x[8] as Float32Array | null,
                B,
                T,
                nh,
                hs,
                scale,
                C,
                true,
              ),
            1,
          );
        }
        // Overwriting (accumulate false): whatever the gradients held before is gone.
        check(
          `attentionBackward ${tag} overwrite`,
          'attention',
          1e-5,
          [randn(B * T * C), randn(B * T * C), randn(B * T * C), dout, q, kk, v, att, keep],
          (k, x) =>
            k.attentionBackward(
              f(x[0]),
              f(x[1]),
              f(x[2]),
              f(x[3]),
              f(x[4]),
              f(x[5]),
              f(x[6]),
              f(x[7]),
              x[8] as Float32Array | null,
              B,
              T,
              nh,
              hs,
              scale,
              C,
              false,
            ),
          1,
        );
        // Only some gradients wanted: the others are null and nothing may be written through them.
        for (const wanted of ['q', 'k', 'v', 'qk', 'kv']) {
          const g = (name: string) => (wanted.includes(name) ? randn(B * T * C) : null);
          check(
            `attentionBackward ${tag} only d${wanted}`,
            'attention',
            1e-5,
            [g('q'), g('k'), g('v'), dout, q, kk, v, att, keep],
            (k, x) =>
              k.attentionBackward(
                x[0] as Float32Array | null,
                x[1] as Float32Array | null,
                x[2] as Float32Array | null,
                f(x[3]),
                f(x[4]),
                f(x[5]),
                f(x[6]),
                f(x[7]),
                x[8] as Float32Array | null,
                B,
                T,
                nh,
                hs,
                scale,
                C,
                true,
              ),
            1,
          );
        }
      }
    }
  }
});

test('attention with q, k, v read in place from a fused [B, T, 3C] array (ld = 3C), forward and backward', () => {
  const [B, T, nh, hs] = [3, 19, 2, 10];
  const C = nh * hs,
    ld = 3 * C,
    scale = 1 / Math.sqrt(hs);
  const qkv = randn(B * T * ld),
    dout = randn(B * T * C);
  const thirds = (x: Float32Array) => [x, x.subarray(C), x.subarray(2 * C)] as const;
  const att = new Float32Array(B * nh * T * T);
  referenceKernels.attentionForward(new Float32Array(B * T * C), att, ...thirds(qkv), null, B, T, nh, hs, scale, ld, 0, nh);
  check('attentionForward ld = 3C', 'attention', 1e-5, [randn(B * T * C), randn(B * nh * T * T), qkv], (k, x) =>
    k.attentionForward(f(x[0]), f(x[1]), ...thirds(f(x[2])), null, B, T, nh, hs, scale, ld, 0, nh),
  );
  for (const accumulate of [true, false]) {
    check(
      `attentionBackward ld = 3C accumulate ${accumulate}`,
      'attention',
      1e-5,
      [randn(B * T * ld), dout, qkv, att],
      (k, x) => k.attentionBackward(...thirds(f(x[0])), f(x[1]), ...thirds(f(x[2])), f(x[3]), null, B, T, nh, hs, scale, ld, accumulate),
      1,
    );
  }
});

test('attention over a key/value cache: matches the reference, and the uncached wasm kernel bit for bit', () => {
  const B = 2,
    Tmax = 11;
  for (const [variant, wasm] of variants)
    for (const [nh, hs] of [
      [1, 1],
      [3, 5],
      [2, 7],
      [1, 37],
    ] as const) {
      const C = nh * hs,
        scale = 1 / Math.sqrt(hs);
      const q = randn(B * Tmax * C),
        kk = randn(B * Tmax * C),
        v = randn(B * Tmax * C);
      // The uncached wasm forward over the whole sequence: the rows the cached calls must reproduce exactly.
      const full = new Tensor([B * Tmax * C]),
        att = new Tensor([B * nh * Tmax * Tmax]);
      const tq = new Tensor([B * Tmax * C]),
        tk = new Tensor([B * Tmax * C]),
        tv = new Tensor([B * Tmax * C]);
      tq.data.set(q);
      tk.data.set(kk);
      tv.data.set(v);
      wasm.attentionForward(full.data, att.data, tq.data, tk.data, tv.data, null, B, Tmax, nh, hs, scale, C, 0, nh);
      for (const [offset, Tq] of [
        [0, 1],
        [0, 4],
        [3, 1],
        [5, 6],
        [10, 1],
      ] as const) {
        const qs = new Float32Array(B * Tq * C); // the new queries: rows offset .. offset + Tq - 1 of each batch
        for (let b = 0; b < B; b++) qs.set(q.subarray((b * Tmax + offset) * C, (b * Tmax + offset + Tq) * C), b * Tq * C);
        const want = new Float32Array(B * Tq * C);
        referenceKernels.attentionCachedForward(want, qs, kk, v, B, Tq, Tmax, offset, nh, hs, scale);
        const out = new Tensor([B * Tq * C]),
          tqs = new Tensor([B * Tq * C]);
        tqs.data.set(qs);
        wasm.attentionCachedForward(out.data, tqs.data, tk.data, tv.data, B, Tq, Tmax, offset, nh, hs, scale);
        const tag = `${variant} nh=${nh} hs=${hs} offset=${offset} Tq=${Tq}`;
        const err = errorOf(out.data, want, 0);
        note('attention', err);
        assert.ok(err <= 1e-5, `attentionCachedForward ${tag}: relative error ${err.toExponential(2)}`);
        for (let b = 0; b < B; b++) {
          const rows = full.data.subarray((b * Tmax + offset) * C, (b * Tmax + offset + Tq) * C);
          assert.deepEqual(out.data.subarray(b * Tq * C, (b + 1) * Tq * C), rows, `${tag}: cached rows differ from uncached`);
        }
        out.dispose();
        tqs.dispose();
      }
      for (const t of [full, att, tq, tk, tv]) t.dispose();
    }
});

test('layernorm forward and backward, with and without bias, null gradients', () => {
  for (const [N, C] of [
    [1, 1],
    [3, 3],
    [5, 5],
    [17, 17],
    [4, 64],
    [3, 130],
    [2, 1031],
  ] as const) {
    for (const withBias of [true, false]) {
      const x = randn(N * C, 2),
        w = randn(C),
        bias = withBias ? randn(C) : null;
      for (let i = 0; i < C; i++) x[i] = x[i]! + 5; // a row with a large mean
      check(
        `layernormForward ${N}x${C}${withBias ? '' : ' no bias'}`,
        'layernorm',
        1e-5,
        [randn(N * C), randn(N), randn(N), x, w, bias],
        (k, a) => k.layernormForward(f(a[0]), f(a[1]), f(a[2]), f(a[3]), f(a[4]), a[5] as Float32Array | null, N, C, 1e-5),
      );
      const mean = new Float32Array(N),
        rstd = new Float32Array(N);
      referenceKernels.layernormForward(new Float32Array(N * C), mean, rstd, x, w, bias, N, C, 1e-5);
      const dout = randn(N * C);
      for (const [hasDx, hasDw, hasDb] of [
        [1, 1, 1],
        [0, 1, 1],
        [1, 0, 0],
        [1, 1, 0],
        [1, 0, 1],
        [0, 0, 1],
      ]) {
        const dx = hasDx ? randn(N * C) : null,
          dw = hasDw ? randn(C) : null,
          db = hasDb ? randn(C) : null;
        for (const accumulateDx of hasDx ? [true, false] : [true]) {
          check(
            `layernormBackward ${N}x${C} dx${hasDx} dw${hasDw} db${hasDb}${accumulateDx ? '' : ' overwrite dx'}`,
            'layernorm',
            1e-5,
            [dx, dw, db, dout, x, mean, rstd, w],
            (k, a) => {
              const [gx, gw, gb] = [a[0], a[1], a[2]] as (Float32Array | null)[];
              if (gw || gb) k.layernormBackwardParams(gw!, gb!, f(a[3]), f(a[4]), f(a[5]), f(a[6]), N, C, C);
              if (gx) k.layernormBackwardInput(gx, f(a[3]), f(a[4]), f(a[5]), f(a[6]), f(a[7]), N, C, accumulateDx);
            },
          );
        }
      }
    }
  }
});

test('softmax forward and backward, including -Infinity and very negative logits', () => {
  for (const [N, C] of [
    [1, 1],
    [3, 3],
    [5, 7],
    [17, 17],
    [2, 64],
    [3, 65],
    [2, 1001],
  ] as const) {
    const x = randn(N * C, 3);
    if (C >= 7) {
      x[2] = -Infinity;
      x[4] = -1e30;
      x[5] = 80;
    }
    check(`softmaxForward ${N}x${C}`, 'softmax', 1e-5, [randn(N * C), x], (k, a) => k.softmaxForward(f(a[0]), f(a[1]), N, C));
    const y = new Float32Array(N * C);
    referenceKernels.softmaxForward(y, x, N, C);
    check(`softmaxBackward ${N}x${C}`, 'softmax', 1e-5, [randn(N * C), y, randn(N * C)], (k, a) =>
      k.softmaxBackward(f(a[0]), f(a[1]), f(a[2]), N, C),
    );
  }
});

test('cross-entropy forward and backward, ignored targets, no counted rows', () => {
  for (const [N, V] of [
    [1, 1],
    [1, 3],
    [5, 17],
    [17, 65],
    [7, 67],
    [3, 1000],
  ] as const) {
    for (const ignore of ['none', 'some', 'all'] as const) {
      const logits = randn(N * V, 4),
        targets = ints(N, V);
      if (ignore === 'all') targets.fill(-1);
      if (ignore === 'some') for (let i = 0; i < N; i += 2) targets[i] = -1;
      const tag = `${N}x${V} ignore ${ignore}`;
      // The loss is lse - logit[target], a difference of O(1..10) terms rounded in float32: scale at least 1.
      check(
        `crossEntropyForward ${tag}`,
        'crossEntropy',
        1e-5,
        [randn(N), logits, targets],
        (k, a) => k.crossEntropyForward(f(a[0]), f(a[1]), i32(a[2]), N, V),
        1,
      );
      const lse = new Float32Array(N);
      referenceKernels.crossEntropyForward(lse, logits, targets, N, V);
      const count = targets.filter((t) => t >= 0).length;
      check(`crossEntropyBackward ${tag}`, 'crossEntropy', 1e-5, [randn(N * V, 0.01), logits, lse, targets], (k, a) =>
        k.crossEntropyBackward(f(a[0]), f(a[1]), f(a[2]), i32(a[3]), N, V, count, 0.75),
      );
    }
  }
});

test('dropoutMask: the same mask and the same generator state as Rng.uniform() drawn one by one', () => {
  // p = 0.5 and 0.25 put the threshold p * 2^32 on an integer (the kernel compares against its ceiling); n = 7
  // and 15 end in a short round (the kernel draws eight at a time).
  for (const [n, p] of [
    [0, 0.5],
    [1, 0.2],
    [1001, 0.2],
    [65_537, 0.9],
    [300, 1e-9],
    [4096, 0.5],
    [4096, 0.25],
    [500, 0],
    [7, 0.3],
    [15, 0.3],
  ] as const) {
    const viaUniform = new Rng(99 + n),
      viaRef = new Rng(99 + n);
    const expected = Float32Array.from({ length: n }, () => (viaUniform.uniform() < p ? 0 : 1 / (1 - p)));
    const ref = new Float32Array(n);
    referenceKernels.dropoutMask(ref, n, p, viaRef.stateWords());
    assert.deepEqual(ref, expected, `reference n ${n} p ${p}`);
    for (const [variant, k] of variants) {
      const t = new Tensor([Math.max(n, 1)]);
      const rng = new Rng(99 + n);
      k.dropoutMask(t.data, n, p, rng.stateWords());
      assert.deepEqual(t.data.subarray(0, n), expected, `${variant} n ${n} p ${p}`);
      assert.deepEqual(rng.getState(), viaUniform.getState(), `${variant}: the generator moved on as far`);
      t.dispose();
    }
    assert.deepEqual(viaRef.getState(), viaUniform.getState());
  }
});

test('transpose and fillZero: exact, on odd shapes', () => {
  for (const [rows, cols] of [
    [1, 1],
    [3, 5],
    [4, 4],
    [7, 9],
    [65, 128],
    [128, 65],
  ] as const) {
    check(`transpose ${rows}x${cols}`, 'transpose', 0, [randn(rows * cols), randn(rows * cols)], (k, a) =>
      k.transpose(f(a[0]), f(a[1]), rows, cols, cols, rows),
    );
  }
  for (const n of [0, 1, 5, 20001]) {
    check(`fillZero n=${n}`, 'fillZero', 0, [randn(n + 3)], (k, a) => k.fillZero(f(a[0]), n));
    check(`copy n=${n}`, 'copy', 0, [randn(n + 3), randn(n + 3)], (k, a) => k.copy(f(a[0]), f(a[1]), n));
  }
});

test('gelu and relu forward and backward, including large and zero inputs', () => {
  for (const len of [0, 1, 3, 5, 17, 1000]) {
    const x = randn(len, 3);
    const special = [0, -0, 20, -20, 100, -100, 1e-8, -1e-8, 9.5, -9.5];
    for (let i = 0; i < Math.min(len, special.length); i++) x[i] = special[i]!;
    check(`geluForward n=${len}`, 'gelu', 1e-5, [randn(len), x], (k, a) => k.geluForward(f(a[0]), f(a[1]), null, len));
    // Keeping exp(-2u) for the backward; e of +-100 is 0 or beyond float32 (Infinity): compared as such.
    check(`geluForward n=${len} saved`, 'gelu', 1e-5, [randn(len), x, randn(len)], (k, a) => {
      k.geluForward(f(a[0]), f(a[1]), f(a[2]), len);
      f(a[2]).forEach((e, i, s) => (s[i] = Number.isFinite(e) ? Math.min(e, 1e6) : 1e6));
    });
    const saved = new Float32Array(len);
    referenceKernels.geluForward(new Float32Array(len), x, saved, len);
    check(`reluForward n=${len}`, 'relu', 1e-6, [randn(len), x], (k, a) => k.reluForward(f(a[0]), f(a[1]), len));
    for (const zero of [true, false]) {
      const dx = zero ? new Float32Array(len) : randn(len),
        dout = randn(len);
      check(`geluBackward n=${len}`, 'gelu', 1e-5, [dx, x, dout], (k, a) => k.geluBackward(f(a[0]), f(a[1]), f(a[2]), null, len, true));
      check(`geluBackward n=${len} overwrite`, 'gelu', 1e-5, [randn(len), x, dout], (k, a) =>
        k.geluBackward(f(a[0]), f(a[1]), f(a[2]), null, len, false),
      );
      for (const accumulate of [true, false]) {
        check(
          `geluBackward n=${len} from saved, accumulate ${accumulate}`,
          'gelu',
          1e-5,
          [zero ? dx : randn(len), x, dout, saved],
          (k, a) => k.geluBackward(f(a[0]), f(a[1]), f(a[2]), f(a[3]), len, accumulate),
        );
      }
      check(`reluBackward n=${len}`, 'relu', 1e-6, [dx, x, dout], (k, a) => k.reluBackward(f(a[0]), f(a[1]), f(a[2]), len));
    }
  }
});

test('add, mul, bias and embedding, forward and backward', () => {
  for (const [len, period] of [
    [0, 0],
    [1, 1],
    [7, 7],
    [6, 1],
    [35, 5],
    [35, 7],
    [68, 17],
    [64, 64],
    [384, 128],
  ] as const) {
    check(`addBroadcast n=${len} period=${period}`, 'add', 1e-6, [randn(len), randn(len), randn(period)], (k, a) =>
      k.addBroadcast(f(a[0]), f(a[1]), f(a[2]), len, period),
    );
    check(`add n=${len}`, 'add', 1e-6, [randn(len), randn(len), randn(len)], (k, a) => k.add(f(a[0]), f(a[1]), f(a[2]), len));
    for (const [hasDa, hasDb] of [
      [1, 1],
      [1, 0],
      [0, 1],
    ]) {
      check(
        `addBroadcastBackward n=${len} period=${period} da${hasDa} db${hasDb}`,
        'add',
        1e-6,
        [hasDa ? randn(len) : null, hasDb ? randn(period) : null, randn(len)],
        (k, a) => k.addBroadcastBackward(a[0] as Float32Array | null, a[1] as Float32Array | null, f(a[2]), len, period),
      );
    }
  }
  for (const len of [0, 1, 5, 67, 1000]) {
    const mask = Float32Array.from(randn(len), (x) => (x < 0 ? 0 : 1.25));
    check(`mulForward n=${len}`, 'mul', 1e-6, [randn(len), randn(len), mask], (k, a) => k.mulForward(f(a[0]), f(a[1]), f(a[2]), len));
    check(`mulBackward n=${len}`, 'mul', 1e-6, [randn(len), randn(len), mask], (k, a) => k.mulBackward(f(a[0]), f(a[1]), f(a[2]), len));
  }
  for (const [M, N] of [
    [1, 1],
    [3, 5],
    [17, 33],
    [5, 67],
    [7, 128],
  ] as const) {
    check(`biasForward ${M}x${N}`, 'bias', 1e-6, [randn(M * N), randn(N)], (k, a) => k.biasForward(f(a[0]), f(a[1]), M, N));
    check(`biasBackward ${M}x${N}`, 'bias', 1e-6, [randn(N), randn(M * N)], (k, a) => k.biasBackward(f(a[0]), f(a[1]), M, N));
  }
  for (const [N, C] of [
    [1, 1],
    [7, 3],
    [20, 5],
    [9, 33],
    [30, 128],
  ] as const) {
    const vocab = 11,
      idx = ints(N, vocab);
    idx[0] = idx[N - 1] = 4; // a repeated id collects both gradients
    check(`embeddingForward ${N}x${C}`, 'embedding', 1e-6, [randn(N * C), randn(vocab * C), idx], (k, a) =>
      k.embeddingForward(f(a[0]), f(a[1]), i32(a[2]), N, C),
    );
    check(`embeddingBackward ${N}x${C}`, 'embedding', 1e-6, [randn(vocab * C), randn(N * C), idx], (k, a) =>
      k.embeddingBackward(f(a[0]), f(a[1]), i32(a[2]), N, C),
    );
  }
});

test('adamw step and sum of squares', () => {
  for (const len of [0, 1, 5, 67, 1001]) {
    for (const [step, wd, scale] of [
      [1, 0, 1],
      [7, 0.1, 0.7],
      [1000, 0.01, 0.2],
    ] as const) {
      const v = Float32Array.from(randn(len, 0.01), (x) => x * x);
      check(`adamwStep n=${len} step=${step}`, 'adamw', 1e-5, [randn(len), randn(len), randn(len, 0.1), v], (k, a) =>
        k.adamwStep(f(a[0]), f(a[1]), f(a[2]), f(a[3]), len, 3e-3, 0.9, 0.95, 1e-8, wd, ...biasCorrections(step), scale, false),
      );
    }
  }
  for (const len of [0, 1, 7, 10001]) {
    check(`sumOfSquares n=${len}`, 'sumOfSquares', 1e-12, [randn(len)], (k, a) => k.sumOfSquares(f(a[0]), len));
  }
});

test('adamw step with zeroGrad: the same update, bit for bit, and the gradient left at zero', () => {
  for (const len of [1, 5, 67, 1001, 40_003]) {
    const args = [randn(len), randn(len), randn(len, 0.1), Float32Array.from(randn(len, 0.01), (x) => x * x)];
    for (const [name, k] of [['reference', referenceKernels] as const, ...variants]) {
      const [plain, zeroed] = [false, true].map((zeroGrad) => {
        const [p, g, m, v] = args.map((a) => a.slice());
        k.adamwStep(p!, g!, m!, v!, len, 3e-3, 0.9, 0.95, 1e-8, 0.1, ...biasCorrections(7), 0.7, zeroGrad);
        return { p, g, m, v };
      });
      for (const key of ['p', 'm', 'v'] as const) assert.deepEqual(zeroed[key], plain[key], `${name} n=${len}: ${key}`);
      assert.deepEqual(plain.g, args[1], `${name} n=${len}: without zeroGrad the gradient is kept`);
      assert.deepEqual(zeroed.g, new Float32Array(len), `${name} n=${len}: gradient zeroed`);
    }
  }
});

test('views outside the arena: plain arrays, in-place calls, a mix with arena views', () => {
  // check() already runs every case with every other array plain; here the same plain array is passed twice.
  for (const len of [5, 67]) {
    const x = randn(len),
      expected = x.map((v) => (v > 0 ? v : 0));
    wasm.reluForward(x, x, len);
    assert.deepEqual(x, expected);
    const y = randn(len),
      want = y.map((v) => v + v);
    wasm.add(y, y, y, len);
    assert.deepEqual(y, want);
  }
  // All arguments plain, one output: the copy path writes back only what the kernel writes.
  const M = 5,
    N = 3,
    K = 7,
    a = randn(M * K),
    b = randn(N * K),
    out = new Float32Array(M * N),
    ref = new Float32Array(M * N);
  const aBefore = a.slice();
  matmulNT(wasm, out, a, b, M, N, K, false);
  matmulNT(referenceKernels, ref, a, b, M, N, K, false);
  assert.ok(relativeError(out, ref) <= 1e-5);
  assert.deepEqual(a, aBefore);
  // Sub-array views at an offset inside the arena take the fast path at that offset.
  const t = new Tensor([3 * 8]);
  t.data.set(randn(24));
  const whole = t.data.slice();
  wasm.reluForward(t.data.subarray(8, 16), t.data.subarray(8, 16), 8);
  for (let i = 0; i < 24; i++) assert.equal(t.data[i], i >= 8 && i < 16 ? Math.max(whole[i]!, 0) : whole[i]);
  t.dispose();
});

test('rms norm forward and backward: one group a row and heads in fused rows, in place, accumulate on and off', () => {
  for (const [N, groups, size, ld] of [
    [1, 1, 1, 1],
    [3, 1, 5, 5],
    [5, 2, 7, 21],
    [4, 1, 128, 128],
    [7, 8, 32, 384],
    [2, 6, 3, 27],
  ] as const) {
    const x = randn(N * ld, 2);
    for (let i = 0; i < size; i++) x[i] = x[i]! + 5; // a group with a large mean
    check(`rmsnormForward ${N}x${groups}x${size} ld ${ld}`, 'rmsnorm', 1e-5, [randn(N * ld), randn(N * groups), x], (k, a) =>
      k.rmsnormForward(f(a[0]), f(a[1]), f(a[2]), N, groups, size, ld, 1e-6),
    );
    check(`rmsnormForward ${N}x${groups}x${size} in place`, 'rmsnorm', 1e-5, [x, randn(N * groups)], (k, a) =>
      k.rmsnormForward(f(a[0]), f(a[1]), f(a[0]), N, groups, size, ld, 1e-6),
    );
    const rstd = new Float32Array(N * groups);
    referenceKernels.rmsnormForward(new Float32Array(N * ld), rstd, x, N, groups, size, ld, 1e-6);
    for (const accumulate of [true, false]) {
      check(
        `rmsnormBackward ${N}x${groups}x${size} ld ${ld}${accumulate ? '' : ' overwrite'}`,
        'rmsnorm',
        1e-5,
        [randn(N * ld), randn(N * ld), x, rstd],
        (k, a) => k.rmsnormBackward(f(a[0]), f(a[1]), f(a[2]), f(a[3]), N, groups, size, ld, accumulate),
        // A group of one float has a gradient of zero in exact arithmetic: measure its noise against 1.
        1,
      );
    }
  }
});

test('rotary embeddings forward and inverse, odd half sizes, in place, and inverse undoing forward', () => {
  for (const [B, T, groups, size, ld] of [
    [1, 1, 1, 2, 2],
    [2, 3, 2, 6, 18],
    [3, 7, 8, 32, 384],
    [2, 5, 3, 10, 45],
    [1, 9, 1, 18, 18],
  ] as const) {
    const h = size / 2;
    const angles = Array.from({ length: T * h }, (_, j) => Math.floor(j / h) * Math.pow(10000, (-2 * (j % h)) / size));
    const cos = Float32Array.from(angles, Math.cos),
      sin = Float32Array.from(angles, Math.sin);
    const x = randn(B * T * ld);
    for (const inverse of [false, true]) {
      check(`rotary ${B}x${T}x${groups}x${size}${inverse ? ' inverse' : ''}`, 'rotary', 1e-6, [randn(B * T * ld), x, cos, sin], (k, a) =>
        k.rotary(f(a[0]), f(a[1]), f(a[2]), f(a[3]), B, T, groups, size, ld, inverse),
      );
      check(`rotary ${B}x${T}x${groups}x${size} in place`, 'rotary', 1e-6, [x, cos, sin], (k, a) =>
        k.rotary(f(a[0]), f(a[0]), f(a[1]), f(a[2]), B, T, groups, size, ld, inverse),
      );
    }
    // A rotation's inverse is its transpose: forward then inverse gives x back (to rounding), columns past the
    // heads untouched.
    const y = x.slice();
    wasm.rotary(y, y, cos, sin, B, T, groups, size, ld, false);
    wasm.rotary(y, y, cos, sin, B, T, groups, size, ld, true);
    assert.ok(relativeError(y, x) < 1e-6);
  }
});

test('relu squared, soft-cap, axpby and strided copies, forward and backward', () => {
  for (const len of [0, 1, 3, 5, 17, 1000]) {
    const x = randn(len, 3);
    const special = [0, -0, 20, -20, 100, -100, 1e-8, -1e-8, 9.5, -9.5];
    for (let i = 0; i < Math.min(len, special.length); i++) x[i] = special[i]! * 3;
    check(`relu2Forward n=${len}`, 'relu2', 1e-6, [randn(len), x], (k, a) => k.relu2Forward(f(a[0]), f(a[1]), len));
    for (const cap of [1, 15, 30]) {
      check(`softcapForward n=${len} cap ${cap}`, 'softcap', 1e-6, [randn(len), x], (k, a) => k.softcapForward(f(a[0]), f(a[1]), len, cap));
      const out = new Float32Array(len);
      referenceKernels.softcapForward(out, x, len, cap);
      for (const accumulate of [true, false]) {
        check(`softcapBackward n=${len} cap ${cap}`, 'softcap', 1e-6, [randn(len), out, randn(len)], (k, a) =>
          k.softcapBackward(f(a[0]), f(a[1]), f(a[2]), len, cap, accumulate),
        );
      }
    }
    for (const accumulate of [true, false]) {
      check(`relu2Backward n=${len}${accumulate ? '' : ' overwrite'}`, 'relu2', 1e-6, [randn(len), x, randn(len)], (k, a) =>
        k.relu2Backward(f(a[0]), f(a[1]), f(a[2]), len, accumulate),
      );
    }
    check(`axpby n=${len}`, 'axpby', 1e-6, [randn(len), x, randn(len)], (k, a) => k.axpby(f(a[0]), f(a[1]), f(a[2]), len, 0.95, -1.5));
    check(`axpby n=${len} in place`, 'axpby', 1e-6, [x.slice(), randn(len)], (k, a) => k.axpby(f(a[0]), f(a[0]), f(a[1]), len, 3.4445, 1));
  }
  for (const [rows, cols, ldOut, ldX] of [
    [1, 1, 1, 1],
    [5, 3, 7, 9],
    [17, 128, 384, 384],
    [4, 5, 5, 15],
  ] as const) {
    for (const accumulate of [true, false]) {
      check(`copyStrided ${rows}x${cols}`, 'copyStrided', 1e-6, [randn(rows * ldOut), randn(rows * ldX)], (k, a) =>
        k.copyStrided(f(a[0]), ldOut, f(a[1]), ldX, rows, cols, accumulate),
      );
    }
  }
});

test('synchronous factory gives the same kernels', () => {
  const sync = createWasmKernelsSync();
  assert.equal(sync.name, 'wasm-simd');
  const x = randn(37);
  assert.equal(sync.sumOfSquares(x, 37), wasm.sumOfSquares(x, 37));
});

for (const [style, bias] of [
  ['nanogpt', true],
  ['lecture', false],
] as const) {
  test(`a whole GPT (${style}${bias ? ', bias' : ''}, dropout): same loss, gradients and AdamW step on both backends`, () => {
    const config: GPTConfig = {
      kind: 'gpt',
      style,
      vocabSize: 13,
      blockSize: 9,
      nLayer: 2,
      nHead: 3,
      nEmbd: 15,
      dropout: 0.1,
      bias,
    };
    const B = 3,
      T = 9;
    const data = new Rng(7);
    const idx = Array.from({ length: B * T }, () => data.int(13)),
      targets = Array.from({ length: B * T }, () => data.int(13));
    targets[4] = -1;
    const run = (k: Kernels) => {
      setKernels(k);
      try {
        const model = new GPT(config, new Rng(3));
        model.train();
        const result = tidy(() => {
          const { logits, loss } = model.forward(intTensor(idx, [B, T]), intTensor(targets, [B, T]));
          const values = { logits: logits.data.slice(), loss: loss!.item() };
          loss!.backward();
          return values;
        });
        const grads = model.namedParameters().map(([name, p]) => [name, p.grad!.data.slice()] as const);
        const { norm, scale } = gradientNorm(model.parameters(), 0.5);
        const opt = new AdamW(model.namedParameters(), { beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.1 });
        opt.update(1e-3, scale);
        const after = model.namedParameters().map(([name, p]) => [name, p.data.slice()] as const);
        opt.dispose();
        model.dispose();
        return { ...result, grads, norm, after };
      } finally {
        setKernels(referenceKernels);
      }
    };
    const ref = run(referenceKernels);
    for (const [variant, wasm] of variants) {
      const got = run(wasm);
      const errors: [string, number][] = [['logits', relativeError(got.logits, ref.logits)]];
      errors.push(['loss', Math.abs(got.loss - ref.loss) / Math.abs(ref.loss)]);
      errors.push(['grad norm', Math.abs(got.norm - ref.norm) / ref.norm]);
      ref.grads.forEach(([name, g], i) => errors.push([`grad ${name}`, relativeError(got.grads[i]![1], g)]));
      ref.after.forEach(([name, p], i) => errors.push([`after ${name}`, relativeError(got.after[i]![1], p)]));
      for (const [what, err] of errors) {
        // Adam divides by sqrt(v): a gradient at rounding-noise level (the key bias's is zero in exact arithmetic,
        // softmax ignoring a shift of every score) becomes an update of up to lr in a noise-given direction, so
        // the weights after the step get the 1e-3 the PyTorch parity test gives updates.
        const tol = what.startsWith('after') ? 1e-3 : 1e-4;
        assert.ok(err <= tol, `${style} [${variant}]: ${what} relative error ${err.toExponential(2)}`);
      }
      if (verbose) {
        const top = errors.sort((a, b) => b[1] - a[1]).slice(0, 3);
        console.log(`${style} (${variant}): worst ${top.map(([k, v]) => `${k} ${v.toExponential(2)}`).join(', ')}`);
      }
    }
  });
}

test('worst errors per kernel', { skip: !verbose }, () => {
  for (const [k, e] of [...worst].sort()) console.log(`${k.padEnd(14)} ${e.toExponential(2)}`);
});
