/**
 * The WebAssembly SIMD backend: the kernels of assembly/*.ts (compiled by scripts/build-wasm.mjs, embedded as
 * base64 in ./generated/kernels_wasm.ts) instantiated against the arena's memory, so they read and write
 * tensors in place: every kernel gets `view.byteOffset` as a pointer. Nothing here needs Node: it loads in a
 * browser too (use the async factory there; synchronous compilation is for Node or workers).
 *
 * Views not over the arena's current buffer (a plain Float32Array, say) are copied into a scratch block of the
 * arena, the kernel runs there, and the arrays it writes are copied back: correct, slower, rare.
 *
 * Scratch blocks (the matmul packing buffers, the attention kernels' packed operands, the copies above) come
 * from the arena and are kept. Taking one can grow the memory, which detaches every typed-array view made before it:
 * the engine re-reads `tensor.data` for every kernel call, and the wrappers here read every view's byteOffset
 * before allocating anything, so this is safe; a caller holding a view across kernel calls must re-read it
 * after `arena.generation` changes, as with any allocation.
 */
import { defaultArena, type Arena } from '../arena.js';
import type { Kernels } from '../backend.js';
import { KERNELS_WASM_RELAXED_SIMD, KERNELS_WASM_SIMD } from './generated/kernels_wasm.js';

type View = Float32Array | Int32Array;

/** The module's exports (assembly/index.ts); pointers are byte offsets into the arena, 0 for null. */
interface WasmExports {
  matmul(layout: number, out: number, a: number, b: number, M: number, N: number, K: number, acc: number, packA: number, packB: number): void;
  matmulPackABytes(): number;
  matmulPackBBytes(): number;
  attentionScratchBytes(kind: number, T: number, hs: number): number;
  attentionForward(
    out: number, att: number, q: number, k: number, v: number, keep: number,
    B: number, T: number, nh: number, hs: number, scale: number, scratch: number,
  ): void;
  attentionBackward(
    dq: number, dk: number, dv: number, dout: number, q: number, k: number, v: number, att: number, keep: number,
    B: number, T: number, nh: number, hs: number, scale: number, scratch: number,
  ): void;
  attentionCachedForward(
    out: number, q: number, kCache: number, vCache: number,
    B: number, Tq: number, Tmax: number, offset: number, nh: number, hs: number, scale: number, scratch: number,
  ): void;
  addForward(out: number, a: number, b: number, n: number, period: number): void;
  addBackward(da: number, db: number, dout: number, n: number, period: number): void;
  mulForward(out: number, x: number, mask: number, n: number): void;
  mulBackward(dx: number, dout: number, mask: number, n: number): void;
  biasForward(out: number, bias: number, M: number, N: number): void;
  biasBackward(dbias: number, dout: number, M: number, N: number): void;
  reluForward(out: number, x: number, n: number): void;
  reluBackward(dx: number, x: number, dout: number, n: number): void;
  geluForward(out: number, x: number, n: number): void;
  geluBackward(dx: number, x: number, dout: number, n: number): void;
  embeddingForward(out: number, weight: number, idx: number, N: number, C: number): void;
  embeddingBackward(dweight: number, dout: number, idx: number, N: number, C: number): void;
  layernormForward(out: number, mean: number, rstd: number, x: number, weight: number, bias: number, N: number, C: number, eps: number): void;
  layernormBackward(
    dx: number, dweight: number, dbias: number, dout: number, x: number, mean: number, rstd: number, weight: number,
    N: number, C: number,
  ): void;
  softmaxForward(out: number, x: number, N: number, C: number): void;
  softmaxBackward(dx: number, y: number, dy: number, N: number, C: number): void;
  crossEntropyForward(lse: number, logits: number, targets: number, N: number, V: number): number;
  crossEntropyCount(): number;
  crossEntropyBackward(dlogits: number, logits: number, lse: number, targets: number, N: number, V: number, count: number, dloss: number): void;
  adamwStep(
    p: number, g: number, m: number, v: number, n: number,
    stepSize: number, decay: number, invBc2: number, beta1: number, beta2: number, eps: number, gradScale: number,
  ): void;
  sumOfSquares(x: number, n: number): number;
}

export interface WasmKernelOptions {
  /**
   * Use the relaxed-SIMD build (fused multiply-add) when this engine validates it: true (the default) or false.
   * Node 20 validates it only after enableRelaxedSimd() (src/cli/wasm_flags.ts) or --experimental-wasm-relaxed-simd.
   */
  relaxed?: boolean;
}

/** Whether this JavaScript engine can run the SIMD kernels at all. */
export function wasmSimdSupported(): boolean {
  return WebAssembly.validate(decode(KERNELS_WASM_SIMD));
}

/** Which build createWasmKernels would pick: 'relaxed-simd' when allowed and validated, else 'simd'. */
export function wasmVariant(options: WasmKernelOptions = {}): 'simd' | 'relaxed-simd' {
  return chooseBytes(options).variant;
}

/** The WebAssembly SIMD kernels over `arena`'s memory (compiled asynchronously: works on a browser's main thread). */
export async function createWasmKernels(arena: Arena = defaultArena, options: WasmKernelOptions = {}): Promise<Kernels> {
  const { bytes } = chooseBytes(options);
  const { instance } = await WebAssembly.instantiate(bytes, { env: { memory: arena.memory } });
  return wrap(instance.exports as unknown as WasmExports, arena);
}

/**
 * The same, compiled synchronously: fine in Node and in workers; browsers refuse synchronous compilation of
 * modules this size on the main thread.
 */
export function createWasmKernelsSync(arena: Arena = defaultArena, options: WasmKernelOptions = {}): Kernels {
  const { bytes } = chooseBytes(options);
  const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory: arena.memory } });
  return wrap(instance.exports as unknown as WasmExports, arena);
}

function chooseBytes(options: WasmKernelOptions): { bytes: Uint8Array<ArrayBuffer>; variant: 'simd' | 'relaxed-simd' } {
  if (options.relaxed !== false) {
    const relaxed = decode(KERNELS_WASM_RELAXED_SIMD);
    if (WebAssembly.validate(relaxed)) return { bytes: relaxed, variant: 'relaxed-simd' };
  }
  const bytes = decode(KERNELS_WASM_SIMD);
  if (!WebAssembly.validate(bytes)) throw new Error('this JavaScript engine does not support WebAssembly SIMD');
  return { bytes, variant: 'simd' };
}

function decode(base64: string): Uint8Array<ArrayBuffer> {
  const s = atob(base64);
  const bytes = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) bytes[i] = s.charCodeAt(i);
  return bytes;
}

const ALIGN = 64;
const roundUp = (n: number) => Math.ceil(n / ALIGN) * ALIGN;

/** A block of the arena kept between calls and replaced by a bigger one when a call needs more. */
class Scratch {
  offset = 0;
  bytes = 0;
  constructor(private readonly arena: Arena) {}

  /** Byte offset of a block of at least `bytes` bytes (may grow the memory: read view offsets first). */
  get(bytes: number): number {
    if (bytes > this.bytes) {
      if (this.bytes > 0) this.arena.release(this.offset, this.bytes);
      // Grow geometrically so a run of slightly larger requests does not reallocate each time.
      const size = roundUp(Math.max(bytes, this.bytes * 1.5));
      this.offset = this.arena.alloc(size);
      this.bytes = size;
    }
    return this.offset;
  }
}

/**
 * Turns views into pointers. `run(views, written, fn)` calls fn with the byte offsets of the views (0 for
 * null); a view outside the arena's current buffer is copied into scratch first and, if its bit is set in
 * `written`, copied back afterwards. The same foreign view passed twice gets one copy, so in-place calls work.
 */
class Bridge {
  private buffer: ArrayBuffer;
  private generation: number;
  private readonly copies: Scratch;

  constructor(private readonly arena: Arena) {
    this.buffer = arena.memory.buffer;
    this.generation = arena.generation;
    this.copies = new Scratch(arena);
  }

  run<R>(views: readonly (View | null)[], written: number, fn: (p: number[]) => R): R {
    if (this.generation !== this.arena.generation) {
      this.buffer = this.arena.memory.buffer;
      this.generation = this.arena.generation;
    }
    const p: number[] = new Array<number>(views.length);
    let foreign = false;
    for (let i = 0; i < views.length; i++) {
      const v = views[i]!;
      if (v === null) p[i] = 0;
      else if (v.buffer === this.buffer) p[i] = v.byteOffset;
      else if (v.buffer === (this.buffer = this.arena.memory.buffer)) p[i] = v.byteOffset; // grown behind our back
      else if (this.arena.isRetired(v.buffer)) {
        // Growing the memory detached this view: it reads as empty, and copying it would compute on garbage.
        throw new Error('a kernel was given a typed-array view detached by memory growth; take tensor.data after allocating');
      } else {
        p[i] = -1;
        foreign = true;
      }
    }
    if (!foreign) return fn(p);
    return this.runWithCopies(views, written, p, fn);
  }

  private runWithCopies<R>(views: readonly (View | null)[], written: number, p: number[], fn: (p: number[]) => R): R {
    // Offsets of arena views are already in p: from here on allocating (and so growing) is safe.
    // slot[i]: offset in the copy block of a foreign view's first occurrence; a repeat shares it, and its
    // written bit moves to the first occurrence.
    let bytes = 0;
    const slot = new Array<number>(views.length).fill(-1);
    for (let i = 0; i < views.length; i++) {
      if (p[i] !== -1) continue;
      const first = views.indexOf(views[i]!);
      if (first < i) {
        if (written & (1 << i)) written |= 1 << first;
        continue;
      }
      slot[i] = bytes;
      bytes += roundUp(views[i]!.byteLength);
    }
    const base = this.copies.get(bytes);
    let mem = new Uint8Array(this.arena.memory.buffer);
    for (let i = 0; i < views.length; i++) {
      if (p[i] !== -1) continue;
      const v = views[i]!;
      if (slot[i] === -1) {
        p[i] = p[views.indexOf(v)]!;
        continue;
      }
      p[i] = base + slot[i]!;
      mem.set(new Uint8Array(v.buffer, v.byteOffset, v.byteLength), p[i]!);
    }
    const result = fn(p);
    mem = new Uint8Array(this.arena.memory.buffer); // fn may have grown the memory
    for (let i = 0; i < views.length; i++) {
      if (slot[i] === -1 || (written & (1 << i)) === 0) continue;
      const v = views[i]!;
      new Uint8Array(v.buffer, v.byteOffset, v.byteLength).set(mem.subarray(p[i]!, p[i]! + v.byteLength));
    }
    return result;
  }
}

/** Bit masks of written arguments, by position. */
const W0 = 1, W1 = 2, W2 = 4, W3 = 8;

function wrap(ex: WasmExports, arena: Arena): Kernels {
  const bridge = new Bridge(arena);
  // The matmul packing buffers: fixed sizes (the kernels block by them), taken once.
  const packA = arena.alloc(ex.matmulPackABytes());
  const packB = arena.alloc(ex.matmulPackBBytes());
  // The attention kernels' packed operands (and the backward's dS): sized per call, kept.
  const attention = new Scratch(arena);

  const matmul = (layout: number) =>
    (out: Float32Array, a: Float32Array, b: Float32Array, M: number, N: number, K: number, accumulate: boolean): void =>
      bridge.run([out, a, b], W0, (p) => ex.matmul(layout, p[0]!, p[1]!, p[2]!, M, N, K, accumulate ? 1 : 0, packA, packB));

  return {
    name: 'wasm-simd',
    matmulNT: matmul(0),
    matmulNN: matmul(1),
    matmulTN: matmul(2),
    biasForward: (out, bias, M, N) => bridge.run([out, bias], W0, (p) => ex.biasForward(p[0]!, p[1]!, M, N)),
    biasBackward: (dbias, dout, M, N) => bridge.run([dbias, dout], W0, (p) => ex.biasBackward(p[0]!, p[1]!, M, N)),
    addForward: (out, a, b, n, period) =>
      bridge.run([out, a, b], W0, (p) => ex.addForward(p[0]!, p[1]!, p[2]!, n, period)),
    addBackward: (da, db, dout, n, period) =>
      bridge.run([da, db, dout], W0 | W1, (p) => ex.addBackward(p[0]!, p[1]!, p[2]!, n, period)),
    mulForward: (out, x, mask, n) => bridge.run([out, x, mask], W0, (p) => ex.mulForward(p[0]!, p[1]!, p[2]!, n)),
    mulBackward: (dx, dout, mask, n) => bridge.run([dx, dout, mask], W0, (p) => ex.mulBackward(p[0]!, p[1]!, p[2]!, n)),
    embeddingForward: (out, weight, idx, N, C) =>
      bridge.run([out, weight, idx], W0, (p) => ex.embeddingForward(p[0]!, p[1]!, p[2]!, N, C)),
    embeddingBackward: (dweight, dout, idx, N, C) =>
      bridge.run([dweight, dout, idx], W0, (p) => ex.embeddingBackward(p[0]!, p[1]!, p[2]!, N, C)),
    layernormForward: (out, mean, rstd, x, weight, bias, N, C, eps) =>
      bridge.run([out, mean, rstd, x, weight, bias], W0 | W1 | W2, (p) =>
        ex.layernormForward(p[0]!, p[1]!, p[2]!, p[3]!, p[4]!, p[5]!, N, C, eps)),
    layernormBackward: (dx, dweight, dbias, dout, x, mean, rstd, weight, N, C) =>
      bridge.run([dx, dweight, dbias, dout, x, mean, rstd, weight], W0 | W1 | W2, (p) =>
        ex.layernormBackward(p[0]!, p[1]!, p[2]!, p[3]!, p[4]!, p[5]!, p[6]!, p[7]!, N, C)),
    reluForward: (out, x, n) => bridge.run([out, x], W0, (p) => ex.reluForward(p[0]!, p[1]!, n)),
    reluBackward: (dx, x, dout, n) => bridge.run([dx, x, dout], W0, (p) => ex.reluBackward(p[0]!, p[1]!, p[2]!, n)),
    geluForward: (out, x, n) => bridge.run([out, x], W0, (p) => ex.geluForward(p[0]!, p[1]!, n)),
    geluBackward: (dx, x, dout, n) => bridge.run([dx, x, dout], W0, (p) => ex.geluBackward(p[0]!, p[1]!, p[2]!, n)),
    softmaxForward: (out, x, N, C) => bridge.run([out, x], W0, (p) => ex.softmaxForward(p[0]!, p[1]!, N, C)),
    softmaxBackward: (dx, y, dy, N, C) => bridge.run([dx, y, dy], W0, (p) => ex.softmaxBackward(p[0]!, p[1]!, p[2]!, N, C)),
    attentionForward: (out, att, q, k, v, keep, B, T, nh, hs, scale) =>
      bridge.run([out, att, q, k, v, keep], W0 | W1, (p) =>
        ex.attentionForward(p[0]!, p[1]!, p[2]!, p[3]!, p[4]!, p[5]!, B, T, nh, hs, scale,
          attention.get(ex.attentionScratchBytes(0, T, hs)))),
    attentionBackward: (dq, dk, dv, dout, q, k, v, att, keep, B, T, nh, hs, scale) =>
      bridge.run([dq, dk, dv, dout, q, k, v, att, keep], W0 | W1 | W2, (p) =>
        ex.attentionBackward(p[0]!, p[1]!, p[2]!, p[3]!, p[4]!, p[5]!, p[6]!, p[7]!, p[8]!, B, T, nh, hs, scale,
          attention.get(ex.attentionScratchBytes(1, T, hs)))),
    // `row` is the caller's scratch (often a plain array, which would be copied in and out): ours serves instead.
    attentionCachedForward: (out, q, kCache, vCache, _row, B, Tq, Tmax, offset, nh, hs, scale) =>
      bridge.run([out, q, kCache, vCache], W0, (p) =>
        ex.attentionCachedForward(p[0]!, p[1]!, p[2]!, p[3]!, B, Tq, Tmax, offset, nh, hs, scale,
          attention.get(ex.attentionScratchBytes(2, offset + Tq, hs)))),
    crossEntropyForward: (lse, logits, targets, N, V) =>
      bridge.run([lse, logits, targets], W0, (p) => {
        const total = ex.crossEntropyForward(p[0]!, p[1]!, p[2]!, N, V);
        const count = ex.crossEntropyCount();
        return { loss: count === 0 ? NaN : total / count, count };
      }),
    crossEntropyBackward: (dlogits, logits, lse, targets, N, V, count, dloss) =>
      bridge.run([dlogits, logits, lse, targets], W0, (p) =>
        ex.crossEntropyBackward(p[0]!, p[1]!, p[2]!, p[3]!, N, V, count, dloss)),
    adamwStep: (p_, g, m, v, n, lr, beta1, beta2, eps, weightDecay, step, gradScale) => {
      const stepSize = lr / (1 - Math.pow(beta1, step));
      const invBc2 = 1 / Math.sqrt(1 - Math.pow(beta2, step));
      const decay = 1 - lr * weightDecay;
      bridge.run([p_, g, m, v], W0 | W2 | W3, (p) =>
        ex.adamwStep(p[0]!, p[1]!, p[2]!, p[3]!, n, stepSize, decay, invBc2, beta1, beta2, eps, gradScale));
    },
    sumOfSquares: (x, n) => bridge.run([x], 0, (p) => ex.sumOfSquares(p[0]!, n)),
  };
}
