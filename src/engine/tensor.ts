/**
 * Tensor: a shape and a block of the arena. Float tensors hold float32, integer tensors (token ids) int32;
 * both are row-major and contiguous. The data is reached through typed-array views over the arena's memory,
 * cached per tensor and remade only when the memory has grown (growth detaches old views).
 *
 * Ownership: a tensor made inside `tidy(fn)` is released when fn returns, unless fn returns it (then it
 * passes to the enclosing scope) or it is `keep()`-ed. A tensor made outside any tidy lives until dispose().
 * Parameters, optimizer moments and their gradients live outside; activations live inside the step's tidy.
 */
import { type Arena, defaultArena } from './arena.js';
import { runBackward, truncateTape, tapeLength, type TapeNode } from './autograd.js';
import { kernels } from './backend.js';
import type { Rng } from './random.js';

export type DType = 'f32' | 'i32';
export type Shape = readonly number[];

export class Tensor {
  readonly shape: Shape;
  readonly size: number;
  readonly dtype: DType;
  readonly arena: Arena;
  /** Byte offset of the block in the arena; 0 once disposed. */
  private block: number;
  /** Whether backward should compute a gradient for this tensor (true for parameters and what depends on them). */
  requiresGrad = false;
  /** The gradient, same shape; made on the first backward that reaches this tensor. */
  grad: Tensor | null = null;
  /** The op that made this tensor, when it was recorded on the tape; null for leaves (inputs, parameters). */
  node: TapeNode | null = null;
  private f32View: Float32Array | null = null;
  private i32View: Int32Array | null = null;
  private viewGeneration = -1;

  constructor(shape: Shape, dtype: DType = 'f32', arena: Arena = defaultArena) {
    let size = 1;
    for (let i = 0; i < shape.length; i++) {
      const d = shape[i]!;
      if (!Number.isSafeInteger(d) || d < 0) throw new RangeError(`bad tensor shape [${shape.join(', ')}]`);
      size *= d;
    }
    this.shape = Object.freeze(shape.slice());
    this.size = size;
    this.dtype = dtype;
    this.arena = arena;
    this.block = arena.alloc(this.size * 4);
    track(this);
  }

  get disposed(): boolean {
    return this.block === 0;
  }

  /** The float32 values (a view into the arena: writes go to the tensor). */
  get data(): Float32Array {
    if (this.dtype !== 'f32') throw new TypeError('data is for f32 tensors; use ints for i32');
    if (this.viewGeneration !== this.arena.generation || this.f32View === null) this.refreshViews();
    return this.f32View!;
  }

  /** The int32 values of an i32 tensor (a view into the arena). */
  get ints(): Int32Array {
    if (this.dtype !== 'i32') throw new TypeError('ints is for i32 tensors; use data for f32');
    if (this.viewGeneration !== this.arena.generation || this.i32View === null) this.refreshViews();
    return this.i32View!;
  }

  private refreshViews(): void {
    if (this.block === 0) throw new Error('tensor used after dispose()');
    const buffer = this.arena.memory.buffer;
    this.f32View = this.dtype === 'f32' ? new Float32Array(buffer, this.block, this.size) : null;
    this.i32View = this.dtype === 'i32' ? new Int32Array(buffer, this.block, this.size) : null;
    this.viewGeneration = this.arena.generation;
  }

  /** Byte offset of the data in the arena's memory, for kernels that address memory directly. */
  get byteOffset(): number {
    return this.block;
  }

  /** The single value of a one-element tensor. */
  item(): number {
    if (this.size !== 1) throw new RangeError(`item() needs one element, tensor has ${this.size}`);
    return this.dtype === 'f32' ? this.data[0]! : this.ints[0]!;
  }

  /** A plain copy of the values, detached from the arena. */
  toArray(): number[] {
    return Array.from(this.dtype === 'f32' ? this.data : this.ints);
  }

  /**
   * Backpropagates from this tensor through every op recorded since the tape was last cleared, accumulating
   * into the `grad` of every tensor that requires one, then clears the tape. `seed` is d(objective)/d(this):
   * a number for a scalar (gradient accumulation passes 1/steps, so the summed gradient is that of the mean
   * loss), or a tensor of this one's shape, as PyTorch's tensor.backward(gradient).
   */
  backward(seed: number | Tensor = 1): void {
    runBackward(this, seed);
  }

  /** Releases the data (and the gradient's) back to the arena. Safe to call twice. */
  dispose(): void {
    if (this.block === 0) return;
    this.arena.release(this.block, this.size * 4);
    this.block = 0;
    this.f32View = this.i32View = null;
    this.grad?.dispose();
    this.grad = null;
  }
}

// ---- scopes ------------------------------------------------------------------------------------------------

interface Scope {
  tensors: Tensor[];
  tapeStart: number;
}

const scopes: Scope[] = [];

function track(t: Tensor): void {
  const top = scopes[scopes.length - 1];
  if (top !== undefined) top.tensors.push(t);
}

/**
 * Runs fn and releases every tensor it made, except those in its result (a tensor, or an array or plain object
 * of tensors, which move to the enclosing scope) and those passed to keep(). Ops recorded inside and not yet
 * backpropagated are dropped from the tape, since their tensors are gone.
 */
export function tidy<T>(fn: () => T): T {
  const scope: Scope = { tensors: [], tapeStart: tapeLength() };
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } finally {
    scopes.pop();
  }
  const survivors = new Set<Tensor>();
  collectTensors(result, survivors);
  if (survivors.size > 0) truncateTape(scope.tapeStart, survivors);
  else truncateTape(scope.tapeStart);
  // Newest first: each block then ends where the arena's untouched tail begins, so releasing it just moves
  // the top down (no free-list bookkeeping), and the next step allocates from the same top again.
  for (let i = scope.tensors.length - 1; i >= 0; i--) {
    const t = scope.tensors[i]!;
    if (survivors.has(t)) continue;
    if (!kept.has(t)) t.dispose();
    else kept.delete(t);
  }
  for (const t of scope.tensors) if (survivors.has(t)) track(t);
  return result;
}

const kept = new Set<Tensor>();

/** Marks a tensor made inside a tidy to outlive it; it must then be disposed by hand. */
export function keep<T extends Tensor>(t: T): T {
  kept.add(t);
  return t;
}

/** Makes a tensor outside every scope, whatever scope is active: for state that outlives a step. */
export function untracked<T>(fn: () => T): T {
  const saved = scopes.splice(0, scopes.length);
  try {
    return fn();
  } finally {
    scopes.push(...saved);
  }
}

function collectTensors(value: unknown, into: Set<Tensor>): void {
  if (value instanceof Tensor) into.add(value);
  else if (Array.isArray(value)) for (const v of value) collectTensors(v, into);
  else if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    for (const v of Object.values(value)) collectTensors(v, into);
  }
}

// ---- factories -------------------------------------------------------------------------------------------

export function zeros(shape: Shape, dtype: DType = 'f32'): Tensor {
  const t = new Tensor(shape, dtype);
  if (dtype === 'f32') kernels().fillZero(t.data, t.size);
  else t.ints.fill(0);
  return t;
}

export function full(shape: Shape, value: number): Tensor {
  const t = new Tensor(shape);
  t.data.fill(value);
  return t;
}

/** A float tensor holding a copy of `values`. */
export function tensor(values: ArrayLike<number>, shape: Shape = [values.length]): Tensor {
  const t = new Tensor(shape);
  if (values.length !== t.size) throw new RangeError(`${values.length} values do not fill shape [${shape.join(', ')}]`);
  t.data.set(values);
  return t;
}

/** An int32 tensor (token ids, targets) holding a copy of `values`. */
export function intTensor(values: ArrayLike<number>, shape: Shape = [values.length]): Tensor {
  const t = new Tensor(shape, 'i32');
  if (values.length !== t.size) throw new RangeError(`${values.length} values do not fill shape [${shape.join(', ')}]`);
  t.ints.set(values);
  return t;
}

/** Normal(0, std^2) values from a seeded generator. */
export function randn(shape: Shape, rng: Rng, std = 1): Tensor {
  const t = new Tensor(shape);
  const d = t.data;
  for (let i = 0; i < d.length; i++) d[i] = rng.normal() * std;
  return t;
}

/** Uniform values in [low, high) from a seeded generator. */
export function rand(shape: Shape, rng: Rng, low = 0, high = 1): Tensor {
  const t = new Tensor(shape);
  const d = t.data;
  for (let i = 0; i < d.length; i++) d[i] = low + (high - low) * rng.uniform();
  return t;
}

/** A leaf tensor that collects a gradient: a model weight. Lives outside every scope. */
export function parameter(init: () => Tensor): Tensor {
  return untracked(() => {
    const t = init();
    t.requiresGrad = true;
    return t;
  });
}
