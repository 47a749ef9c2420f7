/**
 * The tape. While gradients are enabled, every op whose inputs include a tensor that requires a gradient
 * appends a node holding the closure that computes its inputs' gradients from its output's. The tape is in
 * the order ops ran, which is already a topological order, so backward is one loop over it in reverse
 * (micrograd's backward, without the sort).
 */
import { kernels } from './backend.js';
import { sameShape } from './ops/shapes.js';
import { Tensor, untracked, zeros } from './tensor.js';

export interface TapeNode {
  /** The op's name, for error messages and debugging. */
  readonly op: string;
  readonly output: Tensor;
  /** The tensors the op read; null stands for an absent optional input (a bias). */
  readonly inputs: readonly (Tensor | null)[];
  /**
   * Reads output.grad and accumulates into the inputs' gradients (via gradIfNeeded). Allocating can grow the
   * arena's memory, which detaches every typed-array view taken before it, so the gradient buffers of all
   * inputs are made before it runs, and it takes views afresh for each kernel call (a kernel may take
   * scratch memory).
   */
  readonly backward: () => void;
}

let tape: TapeNode[] = [];
let gradEnabled = true;

export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Runs fn with recording off: evaluation and sampling, where no backward follows. */
export function noGrad<T>(fn: () => T): T {
  const saved = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = saved;
  }
}

/** Whether an op with these inputs must record itself. */
export function needsGrad(...inputs: (Tensor | null | undefined)[]): boolean {
  if (!gradEnabled) return false;
  for (const t of inputs) if (t?.requiresGrad) return true;
  return false;
}

/** Records an op that read `inputs` and produced `output`; marks the output as needing a gradient. */
export function record(op: string, output: Tensor, inputs: readonly (Tensor | null)[], backward: () => void): void {
  output.requiresGrad = true;
  const node: TapeNode = { op, output, inputs, backward };
  output.node = node;
  tape.push(node);
}

/**
 * Gradient buffers of intermediates that nothing has written yet. They are made without clearing: the first
 * op to reach one either overwrites all of it (gradToWrite: a product writes instead of adding) or has it
 * zeroed first (gradIfNeeded). Zeroing every activation's gradient cost about 5% of a training step.
 */
const unwritten = new WeakSet<Tensor>();

/**
 * The gradient buffer of t, made on first use. A leaf's gradient (a parameter's) is made zeroed and lives
 * outside every scope so it survives the step; an intermediate's is released with the step's tidy, and
 * starts unwritten (see above): read it through gradIfNeeded or gradToWrite.
 */
export function gradOf(t: Tensor): Tensor {
  if (t.grad === null) {
    if (t.node === null) t.grad = untracked(() => zeros(t.shape));
    else unwritten.add((t.grad = new Tensor(t.shape)));
  }
  return t.grad;
}

/** The gradient of t, to accumulate into, if backward needs one, else null: lets an op skip inputs that need none. */
export function gradIfNeeded(t: Tensor | null): Float32Array | null {
  if (t === null || !t.requiresGrad) return null;
  const g = gradOf(t);
  if (unwritten.delete(g)) kernels().fillZero(g.data, g.size);
  return g.data;
}

/**
 * The gradient of t for an op that computes its whole contribution in one kernel call which can either
 * write or add: `overwrite` is true when nothing is there yet (then every element must be written).
 * Null when backward needs no gradient for t.
 */
export function gradToWrite(t: Tensor | null): { data: Float32Array; overwrite: boolean } | null {
  if (t === null || !t.requiresGrad) return null;
  const g = gradOf(t);
  return { data: g.data, overwrite: unwritten.delete(g) };
}

/**
 * Makes `from`'s gradient buffer the gradient of `to` instead of adding it there, when `to` is an intermediate
 * of the same shape whose gradient nothing has written yet: a gradient that passes through unchanged (a
 * residual connection's) then costs no pass over memory. `from` is left without a gradient. Returns whether
 * it did; if not, nothing changed.
 */
export function handOverGrad(from: Tensor, to: Tensor): boolean {
  const g = from.grad,
    fresh = to.grad;
  if (g === null || fresh === null || to.node === null || !unwritten.has(fresh)) return false;
  if (!sameShape(g.shape, to.shape)) return false;
  unwritten.delete(fresh);
  fresh.dispose();
  to.grad = g;
  from.grad = null;
  return true;
}

export function tapeLength(): number {
  return tape.length;
}

/** Drops nodes recorded from `start` on, except those producing a tensor in `keepOutputs`. */
export function truncateTape(start: number, keepOutputs?: Set<Tensor>): void {
  if (start >= tape.length) return;
  const dropped = tape.slice(start);
  tape.length = start;
  for (const node of dropped) {
    if (keepOutputs?.has(node.output)) tape.push(node);
    else node.output.node = null;
  }
}

let backwardPasses = 0;

/**
 * How many backward passes have started so far: a trainer that leaves the gradients at zero after its update
 * (AdamW's zeroGrads) checks it to know whether anything added to them since.
 */
export function backwardPassCount(): number {
  return backwardPasses;
}

export function runBackward(root: Tensor, seed: number | Tensor): void {
  if (root.node === null) throw new Error('backward() from a tensor that no recorded op produced');
  backwardPasses++;
  if (typeof seed === 'number') {
    if (root.size !== 1) throw new RangeError(`backward() without a gradient needs a scalar, got shape [${root.shape.join(', ')}]`);
    gradOf(root).data[0] = seed;
  } else {
    if (seed.size !== root.size) throw new RangeError(`backward(): gradient [${seed.shape}] does not match [${root.shape}]`);
    gradOf(root).data.set(seed.data);
  }
  unwritten.delete(root.grad!); // the seed filled it
  const nodes = tape;
  tape = [];
  for (let i = nodes.length - 1; i >= 0; i--) {
    const node = nodes[i]!;
    if (node.output.grad !== null && !node.output.disposed) {
      for (const t of node.inputs) if (t?.requiresGrad) gradOf(t);
      // A gradient no consumer wrote (made, then not reached) reads as zeros.
      if (unwritten.delete(node.output.grad)) kernels().fillZero(node.output.grad.data, node.output.grad.size);
      node.backward();
      // Every consumer of this output ran before it (the tape is in topological order), so its gradient is
      // complete and now spent: release it, as PyTorch does not retain non-leaf gradients. This keeps the
      // backward pass's peak memory near one layer's gradients instead of the whole network's. (The op may
      // have handed the buffer over to an input: handOverGrad.)
      node.output.grad?.dispose();
      node.output.grad = null;
    }
    node.output.node = null;
  }
}
