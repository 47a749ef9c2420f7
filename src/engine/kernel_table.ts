/**
 * The kernel table: every compute routine the ops call, declared once. A row gives a kernel's arguments in
 * order with their roles, what it returns, and how threads may split a call; everything else is derived:
 *  - the `Kernels` type every backend implements (a role says an argument's TypeScript type);
 *  - the reference backend: the function of the same name in src/engine/kernels/ (backend.ts);
 *  - the WebAssembly bridge: the export of the same name in assembly/, called with views turned into byte
 *    offsets (src/engine/wasm/wasm_kernels.ts), and its split across threads (src/engine/wasm/thread_team.ts).
 * A reference kernel and its AssemblyScript twin live in files of the same name (src/engine/kernels/X.ts and
 * assembly/X.ts; test/unit/kernel_table.test.ts checks it). Adding a kernel: the reference function, its
 * twin, one row here, tests. A GPU backend would map the same roles to buffers and uniforms, one file per
 * kernel.
 *
 * Kernels work on float32 views with explicit shapes (llm.c's manner), allocate nothing the caller sees, and
 * write only their `out` arguments. A backward kernel adds into its gradient buffers unless it has an
 * `accumulate` flag and is told to overwrite (nothing is there yet).
 */
import { PANEL } from './matmul_layouts.js';

/**
 * What an argument is:
 *   out    float32 view the kernel writes (overwrites or adds into);   out?  the same, or null (not needed)
 *   in     float32 view it only reads;                                  in?   the same, or null (absent)
 *   ids    int32 view it reads (token ids, targets)
 *   idsOut int32 view it writes (key indices found by a search)
 *   state  uint32 view it reads and writes back (a generator's state words)
 *   int, float, bool   plain values (shapes, strides, scales, flags)
 */
export type Role = 'out' | 'out?' | 'in' | 'in?' | 'ids' | 'idsOut' | 'state' | 'int' | 'float' | 'bool';

export type Arg = readonly [name: string, role: Role];

type Names<A extends readonly Arg[]> = A[number][0];
/** A call's arguments by name, as numbers (a view as its position in memory, null as 0, a flag as 0 or 1). */
export type NamedArgs<N extends string = string> = Readonly<Record<N, number>>;

/**
 * How far an argument moves per unit of a split, in its own elements: a constant, another argument's value,
 * or the product of several arguments' values. A view moves its start; a number (a first head, say) grows.
 */
export type Move<N extends string> = number | N | readonly N[];

/** One way to cut a call into chunks of whole outputs. */
export interface SplitWay<N extends string> {
  /** The argument counting the units cut along (rows, columns, elements, sequences); a chunk's count replaces it. */
  over: N;
  /** Chunks start on multiples of this many units (a kernel's vector width or tile). */
  align: number;
  /** How each argument moves per unit; the rest stay where they are. */
  moves: Partial<Record<N, Move<N>>>;
  /** Whether this way applies to a call (the first way that does is taken); absent: always. */
  when?: (a: NamedArgs<N>) => boolean;
}

/**
 * How threads may split a call: cut along one of `ways` into chunks of whole outputs, so every output value is
 * computed whole by one thread and results do not depend on the thread count. `worth` says whether a call is
 * big enough to pay for handing work over (a few microseconds).
 */
export interface Split<N extends string> {
  worth: (a: NamedArgs<N>) => boolean;
  ways: readonly SplitWay<N>[];
}

export interface KernelSpec<A extends readonly Arg[] = readonly Arg[]> {
  args: A;
  /** The kernel returns a number (a sum); otherwise nothing. */
  returns?: 'number';
  split?: Split<Names<A>>;
}

/** Declares a row; the generics keep argument names checked wherever the row names them, and the return type. */
function kernel<const A extends readonly Arg[], const R extends 'number' | undefined = undefined>(
  spec: KernelSpec<A> & { returns?: R },
): KernelSpec<A> & { returns?: R } {
  return spec;
}

/** Products smaller than this many multiply-adds stay on one thread. */
export const PARALLEL_MIN_MACS = 1 << 17;
/** Element-wise and row-wise calls smaller than this many floats stay on one thread. */
export const PARALLEL_MIN_ELEMENTS = 1 << 14;

const bigProduct = (a: NamedArgs<'M' | 'N' | 'K'>) => a.M * a.N * a.K >= PARALLEL_MIN_MACS;
const manyElements = (a: NamedArgs<'n'>) => a.n >= PARALLEL_MIN_ELEMENTS;
const manyRowElements = (a: NamedArgs<'N' | 'C'>) => a.N * a.C >= PARALLEL_MIN_ELEMENTS;
/** Element-wise chunks start on multiples of 16 floats, so a vector loop covers the same elements as in one call. */
const ELEMENTS = 16;
/**
 * Keys per block of an exact search (searchBlocks): the search picks one by k (src/memory/exact_search.ts), never
 * by the thread count, so which keys compete within a block does not depend on the threads, which take whole
 * blocks. Each block costs a start-up of about 2 kb candidates before its threshold bites, so a large k wants
 * large blocks: 2^16 keys (16 blocks for a million keys, chunks enough for threads to even out) up to k = 256,
 * 2^18 above (k = 1024 over a million keys and 256 queries: 13% over k = 32's time, against 27% with 2^16).
 */
export const SEARCH_BLOCK_ROWS = [1 << 16, 1 << 18] as const;

export const KERNEL_TABLE = {
  // matmul.ts
  /**
   * out(i, j) (+)= sum over k of A(i, k) B(k, j), with A(i, k) = a[i ars + k acs], B(k, j) = b[k brs + j bcs]
   * and out(i, j) = out[i ldc + j]: any layout, and any block of rows or columns of one. Every output is
   * summed in k order whatever block it is in. Threads take blocks of whole 4-row or 8-column tiles.
   */
  matmul: kernel({
    args: [
      ['out', 'out'],
      ['ldc', 'int'],
      ['a', 'in'],
      ['ars', 'int'],
      ['acs', 'int'],
      ['b', 'in'],
      ['brs', 'int'],
      ['bcs', 'int'],
      ['M', 'int'],
      ['N', 'int'],
      ['K', 'int'],
      ['accumulate', 'bool'],
    ],
    split: {
      worth: bigProduct,
      ways: [
        { over: 'M', align: 4, moves: { out: 'ldc', a: 'ars' }, when: (a) => a.M >= a.N },
        { over: 'N', align: 8, moves: { out: 1, b: 'bcs' } },
      ],
    },
  }),
  /**
   * out[c ldo + r] = x[r ldx + c] for r < rows, c < cols: a matrix transposed (Muon orthogonalises a tall
   * weight as its transpose).
   */
  transpose: kernel({
    args: [
      ['out', 'out'],
      ['x', 'in'],
      ['rows', 'int'],
      ['cols', 'int'],
      ['ldx', 'int'],
      ['ldo', 'int'],
    ],
    split: {
      worth: (a) => a.rows * a.cols >= PARALLEL_MIN_ELEMENTS,
      ways: [{ over: 'rows', align: 4, moves: { out: 1, x: 'ldx' } }],
    },
  }),
  /**
   * A weight w [N, K] packed into panels of 32 columns of w^T (matmul_layouts.ts: PANEL, panelFloats), for
   * rowsTimesPanels. Threads take whole panels.
   */
  packPanels: kernel({
    args: [
      ['out', 'out'],
      ['w', 'in'],
      ['N', 'int'],
      ['K', 'int'],
    ],
    split: {
      worth: (a) => a.N * a.K >= PARALLEL_MIN_ELEMENTS,
      ways: [{ over: 'N', align: PANEL, moves: { out: 'K', w: 'K' } }],
    },
  }),
  /**
   * out[i ldo + j] = sum over k of x[i K + k] w[j K + k] (i < M, j < N), w read from its panels: a linear layer's
   * forward for the one to three rows of a sampling step, each output summed as matmul sums it, so with
   * matmul's bits. Threads take whole panels.
   */
  rowsTimesPanels: kernel({
    args: [
      ['out', 'out'],
      ['ldo', 'int'],
      ['x', 'in'],
      ['panels', 'in'],
      ['M', 'int'],
      ['N', 'int'],
      ['K', 'int'],
    ],
    split: {
      worth: bigProduct,
      ways: [{ over: 'N', align: PANEL, moves: { out: 1, panels: 'K' } }],
    },
  }),

  // attention.ts
  /**
   * Causal attention of heads h0 .. h0 + hn - 1 (of nh) over B sequences of T positions; q, k, v rows are ld
   * floats apart, out's nh hs; att (and the dropout multiplier keep) [B, nh, T, T]. A batch splits by
   * sequences; a single long one (sampling past the context) by heads.
   */
  attentionForward: kernel({
    args: [
      ['out', 'out'],
      ['att', 'out'],
      ['q', 'in'],
      ['k', 'in'],
      ['v', 'in'],
      ['keep', 'in?'],
      ['B', 'int'],
      ['T', 'int'],
      ['nh', 'int'],
      ['hs', 'int'],
      ['scale', 'float'],
      ['ld', 'int'],
      ['h0', 'int'],
      ['hn', 'int'],
    ],
    split: {
      worth: (a) => a.B > 1 || (a.nh > 1 && a.T * a.T * a.hs * a.nh >= PARALLEL_MIN_MACS),
      ways: [
        {
          over: 'B',
          align: 1,
          moves: { out: ['T', 'nh', 'hs'], att: ['nh', 'T', 'T'], keep: ['nh', 'T', 'T'], q: ['T', 'ld'], k: ['T', 'ld'], v: ['T', 'ld'] },
          when: (a) => a.B > 1,
        },
        { over: 'hn', align: 1, moves: { h0: 1 } },
      ],
    },
  }),
  /** The backward of attentionForward into dq, dk, dv (rows ld apart, like q, k, v); overwrites unless accumulate. */
  attentionBackward: kernel({
    args: [
      ['dq', 'out?'],
      ['dk', 'out?'],
      ['dv', 'out?'],
      ['dout', 'in'],
      ['q', 'in'],
      ['k', 'in'],
      ['v', 'in'],
      ['att', 'in'],
      ['keep', 'in?'],
      ['B', 'int'],
      ['T', 'int'],
      ['nh', 'int'],
      ['hs', 'int'],
      ['scale', 'float'],
      ['ld', 'int'],
      ['accumulate', 'bool'],
    ],
    split: {
      worth: (a) => a.B > 1,
      ways: [
        {
          over: 'B',
          align: 1,
          moves: {
            dq: ['T', 'ld'],
            dk: ['T', 'ld'],
            dv: ['T', 'ld'],
            q: ['T', 'ld'],
            k: ['T', 'ld'],
            v: ['T', 'ld'],
            dout: ['T', 'nh', 'hs'],
            att: ['nh', 'T', 'T'],
            keep: ['nh', 'T', 'T'],
          },
        },
      ],
    },
  }),
  /** Tq new queries at positions offset.. over a key/value cache [B, Tmax, nh hs] (sampling). */
  attentionCachedForward: kernel({
    args: [
      ['out', 'out'],
      ['q', 'in'],
      ['kCache', 'in'],
      ['vCache', 'in'],
      ['B', 'int'],
      ['Tq', 'int'],
      ['Tmax', 'int'],
      ['offset', 'int'],
      ['nh', 'int'],
      ['hs', 'int'],
      ['scale', 'float'],
    ],
  }),

  // elementwise.ts
  /** out[0..n) = 0 (fresh gradient buffers). */
  fillZero: kernel({
    args: [
      ['out', 'out'],
      ['n', 'int'],
    ],
    split: { worth: manyElements, ways: [{ over: 'n', align: ELEMENTS, moves: { out: 1 } }] },
  }),
  /** out[0..n) = x[0..n). */
  copy: kernel({
    args: [
      ['out', 'out'],
      ['x', 'in'],
      ['n', 'int'],
    ],
    split: { worth: manyElements, ways: [{ over: 'n', align: ELEMENTS, moves: { out: 1, x: 1 } }] },
  }),
  /** out = a + b over n floats; out may be a (the residual stream's gradient: da += dout). */
  add: kernel({
    args: [
      ['out', 'out'],
      ['a', 'in'],
      ['b', 'in'],
      ['n', 'int'],
    ],
    split: { worth: manyElements, ways: [{ over: 'n', align: ELEMENTS, moves: { out: 1, a: 1, b: 1 } }] },
  }),
  /** out = a + b where b repeats every `period` elements of a (position embeddings over the batch). */
  addBroadcast: kernel({
    args: [
      ['out', 'out'],
      ['a', 'in'],
      ['b', 'in'],
      ['n', 'int'],
      ['period', 'int'],
    ],
  }),
  /** da += dout; db += dout summed over b's repeats. */
  addBroadcastBackward: kernel({
    args: [
      ['da', 'out?'],
      ['db', 'out?'],
      ['dout', 'in'],
      ['n', 'int'],
      ['period', 'int'],
    ],
  }),
  /** out = x * mask. */
  mulForward: kernel({
    args: [
      ['out', 'out'],
      ['x', 'in'],
      ['mask', 'in'],
      ['n', 'int'],
    ],
  }),
  /** dx += dout * mask. */
  mulBackward: kernel({
    args: [
      ['dx', 'out'],
      ['dout', 'in'],
      ['mask', 'in'],
      ['n', 'int'],
    ],
  }),
  /** out[M, N] += bias[N] on every row. */
  biasForward: kernel({
    args: [
      ['out', 'out'],
      ['bias', 'in'],
      ['M', 'int'],
      ['N', 'int'],
    ],
  }),
  /** dbias[N] += dout[M, N] summed over rows. */
  biasBackward: kernel({
    args: [
      ['dbias', 'out'],
      ['dout', 'in'],
      ['M', 'int'],
      ['N', 'int'],
    ],
  }),
  /** out = alpha x + beta y over n floats; out may be x or y (Muon's momentum and Newton-Schulz steps). */
  axpby: kernel({
    args: [
      ['out', 'out'],
      ['x', 'in'],
      ['y', 'in'],
      ['n', 'int'],
      ['alpha', 'float'],
      ['beta', 'float'],
    ],
    split: { worth: manyElements, ways: [{ over: 'n', align: ELEMENTS, moves: { out: 1, x: 1, y: 1 } }] },
  }),
  /** out[r ldOut + c] (+)= x[r ldX + c] for r < rows, c < cols; overwrites unless accumulate. */
  copyStrided: kernel({
    args: [
      ['out', 'out'],
      ['ldOut', 'int'],
      ['x', 'in'],
      ['ldX', 'int'],
      ['rows', 'int'],
      ['cols', 'int'],
      ['accumulate', 'bool'],
    ],
    split: {
      worth: (a) => a.rows * a.cols >= PARALLEL_MIN_ELEMENTS,
      ways: [{ over: 'rows', align: 1, moves: { out: 'ldOut', x: 'ldX' } }],
    },
  }),

  // dropout.ts
  /** A dropout multiplier (0 with probability p, else 1/(1-p)) from xoshiro128** state, advanced in place. */
  dropoutMask: kernel({
    args: [
      ['out', 'out'],
      ['n', 'int'],
      ['p', 'float'],
      ['state', 'state'],
    ],
  }),

  // activations.ts
  reluForward: kernel({
    args: [
      ['out', 'out'],
      ['x', 'in'],
      ['n', 'int'],
    ],
  }),
  reluBackward: kernel({
    args: [
      ['dx', 'out'],
      ['x', 'in'],
      ['dout', 'in'],
      ['n', 'int'],
    ],
  }),
  /** out = max(0, x)^2 (ReLU squared). */
  relu2Forward: kernel({
    args: [
      ['out', 'out'],
      ['x', 'in'],
      ['n', 'int'],
    ],
    split: { worth: manyElements, ways: [{ over: 'n', align: ELEMENTS, moves: { out: 1, x: 1 } }] },
  }),
  /** dx (+)= 2 max(0, x) dout; overwrites unless accumulate. */
  relu2Backward: kernel({
    args: [
      ['dx', 'out'],
      ['x', 'in'],
      ['dout', 'in'],
      ['n', 'int'],
      ['accumulate', 'bool'],
    ],
    split: { worth: manyElements, ways: [{ over: 'n', align: ELEMENTS, moves: { dx: 1, x: 1, dout: 1 } }] },
  }),
  /** out = cap tanh(x / cap): the logit soft-cap. */
  softcapForward: kernel({
    args: [
      ['out', 'out'],
      ['x', 'in'],
      ['n', 'int'],
      ['cap', 'float'],
    ],
    split: { worth: manyElements, ways: [{ over: 'n', align: ELEMENTS, moves: { out: 1, x: 1 } }] },
  }),
  /** dx (+)= dout (1 - (out / cap)^2), from the forward's output; overwrites unless accumulate. */
  softcapBackward: kernel({
    args: [
      ['dx', 'out'],
      ['out', 'in'],
      ['dout', 'in'],
      ['n', 'int'],
      ['cap', 'float'],
      ['accumulate', 'bool'],
    ],
    split: { worth: manyElements, ways: [{ over: 'n', align: ELEMENTS, moves: { dx: 1, out: 1, dout: 1 } }] },
  }),
  /** out = gelu(x), GPT-2's tanh form; with `saved`, what the backward can reuse instead of computing it again. */
  geluForward: kernel({
    args: [
      ['out', 'out'],
      ['x', 'in'],
      ['saved', 'out?'],
      ['n', 'int'],
    ],
    split: { worth: manyElements, ways: [{ over: 'n', align: ELEMENTS, moves: { out: 1, x: 1, saved: 1 } }] },
  }),
  geluBackward: kernel({
    args: [
      ['dx', 'out'],
      ['x', 'in'],
      ['dout', 'in'],
      ['saved', 'in?'],
      ['n', 'int'],
      ['accumulate', 'bool'],
    ],
    split: { worth: manyElements, ways: [{ over: 'n', align: ELEMENTS, moves: { dx: 1, x: 1, dout: 1, saved: 1 } }] },
  }),
  /** out = x Phi(x): the exact GELU (PyTorch's nn.GELU(), nanoGPT's model.py), to float32 accuracy. */
  geluErfForward: kernel({
    args: [
      ['out', 'out'],
      ['x', 'in'],
      ['n', 'int'],
    ],
    split: { worth: manyElements, ways: [{ over: 'n', align: ELEMENTS, moves: { out: 1, x: 1 } }] },
  }),
  /** dx (+)= dout (Phi(x) + x phi(x)); overwrites unless accumulate. */
  geluErfBackward: kernel({
    args: [
      ['dx', 'out'],
      ['x', 'in'],
      ['dout', 'in'],
      ['n', 'int'],
      ['accumulate', 'bool'],
    ],
    split: { worth: manyElements, ways: [{ over: 'n', align: ELEMENTS, moves: { dx: 1, x: 1, dout: 1 } }] },
  }),

  // embedding.ts
  /** out[n, :] = weight[idx[n], :]. */
  embeddingForward: kernel({
    args: [
      ['out', 'out'],
      ['weight', 'in'],
      ['idx', 'ids'],
      ['N', 'int'],
      ['C', 'int'],
    ],
  }),
  /** dweight[idx[n], :] += dout[n, :]. */
  embeddingBackward: kernel({
    args: [
      ['dweight', 'out'],
      ['dout', 'in'],
      ['idx', 'ids'],
      ['N', 'int'],
      ['C', 'int'],
    ],
  }),

  // layernorm.ts
  /** LayerNorm of N rows of C; saves mean and rstd per row for the backward. */
  layernormForward: kernel({
    args: [
      ['out', 'out'],
      ['mean', 'out'],
      ['rstd', 'out'],
      ['x', 'in'],
      ['weight', 'in'],
      ['bias', 'in?'],
      ['N', 'int'],
      ['C', 'int'],
      ['eps', 'float'],
    ],
    split: { worth: manyRowElements, ways: [{ over: 'N', align: 1, moves: { out: 'C', mean: 1, rstd: 1, x: 'C' } }] },
  }),
  /** LayerNorm's input gradient, row by row (overwrites unless accumulate). */
  layernormBackwardInput: kernel({
    args: [
      ['dx', 'out'],
      ['dout', 'in'],
      ['x', 'in'],
      ['mean', 'in'],
      ['rstd', 'in'],
      ['weight', 'in'],
      ['N', 'int'],
      ['C', 'int'],
      ['accumulate', 'bool'],
    ],
    split: { worth: manyRowElements, ways: [{ over: 'N', align: 1, moves: { dx: 'C', dout: 'C', x: 'C', mean: 1, rstd: 1 } }] },
  }),
  /**
   * LayerNorm's weight and bias gradients (either may be null) for `cols` columns of rows `ld` floats apart,
   * column by column, each summing its N rows in order.
   */
  layernormBackwardParams: kernel({
    args: [
      ['dweight', 'out?'],
      ['dbias', 'out?'],
      ['dout', 'in'],
      ['x', 'in'],
      ['mean', 'in'],
      ['rstd', 'in'],
      ['N', 'int'],
      ['cols', 'int'],
      ['ld', 'int'],
    ],
    split: {
      worth: (a) => a.N * a.cols >= PARALLEL_MIN_ELEMENTS && a.cols >= 64,
      ways: [{ over: 'cols', align: 4, moves: { dweight: 1, dbias: 1, dout: 1, x: 1 } }],
    },
  }),

  // rmsnorm.ts
  /**
   * RMS norm without a gain of `groups` groups of `size` floats in each of N rows ld floats apart (out may be x);
   * saves rstd [N, groups] for the backward.
   */
  rmsnormForward: kernel({
    args: [
      ['out', 'out'],
      ['rstd', 'out'],
      ['x', 'in'],
      ['N', 'int'],
      ['groups', 'int'],
      ['size', 'int'],
      ['ld', 'int'],
      ['eps', 'float'],
    ],
    split: {
      worth: (a) => a.N * a.groups * a.size >= PARALLEL_MIN_ELEMENTS,
      ways: [{ over: 'N', align: 1, moves: { out: 'ld', rstd: 'groups', x: 'ld' } }],
    },
  }),
  /** Its input gradient, group by group (overwrites unless accumulate). */
  rmsnormBackward: kernel({
    args: [
      ['dx', 'out'],
      ['dout', 'in'],
      ['x', 'in'],
      ['rstd', 'in'],
      ['N', 'int'],
      ['groups', 'int'],
      ['size', 'int'],
      ['ld', 'int'],
      ['accumulate', 'bool'],
    ],
    split: {
      worth: (a) => a.N * a.groups * a.size >= PARALLEL_MIN_ELEMENTS,
      ways: [{ over: 'N', align: 1, moves: { dx: 'ld', dout: 'ld', x: 'ld', rstd: 'groups' } }],
    },
  }),

  // rotary.ts
  /**
   * Rotary position embeddings of `groups` heads of `size` floats in the T rows (ld apart) of each of B
   * sequences, turned by the angles of cos and sin [T, size / 2]; `inverse` turns back (the backward). out may be x.
   */
  rotary: kernel({
    args: [
      ['out', 'out'],
      ['x', 'in'],
      ['cos', 'in'],
      ['sin', 'in'],
      ['B', 'int'],
      ['T', 'int'],
      ['groups', 'int'],
      ['size', 'int'],
      ['ld', 'int'],
      ['inverse', 'bool'],
    ],
    split: {
      worth: (a) => a.B > 1 && a.B * a.T * a.groups * a.size >= PARALLEL_MIN_ELEMENTS,
      ways: [{ over: 'B', align: 1, moves: { out: ['T', 'ld'], x: ['T', 'ld'] } }],
    },
  }),

  // softmax.ts
  softmaxForward: kernel({
    args: [
      ['out', 'out'],
      ['x', 'in'],
      ['N', 'int'],
      ['C', 'int'],
    ],
  }),
  softmaxBackward: kernel({
    args: [
      ['dx', 'out'],
      ['y', 'in'],
      ['dy', 'in'],
      ['N', 'int'],
      ['C', 'int'],
    ],
  }),

  // cross_entropy.ts
  /** Writes logsumexp per row into lse; returns the summed loss over rows whose target is not -1. */
  crossEntropyForward: kernel({
    args: [
      ['lse', 'out'],
      ['logits', 'in'],
      ['targets', 'ids'],
      ['N', 'int'],
      ['V', 'int'],
    ],
    returns: 'number',
  }),
  /** dlogits += dloss (softmax - onehot) / count over rows whose target is not -1. */
  crossEntropyBackward: kernel({
    args: [
      ['dlogits', 'out'],
      ['logits', 'in'],
      ['lse', 'in'],
      ['targets', 'ids'],
      ['N', 'int'],
      ['V', 'int'],
      ['count', 'int'],
      ['dloss', 'float'],
    ],
  }),

  // adamw.ts
  /**
   * One AdamW update of n parameters in place; bc1 = 1 - beta1^t and bc2Sqrt = sqrt(1 - beta2^t) come from
   * the optimizer. The gradient is scaled by gradScale (clipping) and, with zeroGrad, zeroed as it is read.
   */
  adamwStep: kernel({
    args: [
      ['p', 'out'],
      ['g', 'out'],
      ['m', 'out'],
      ['v', 'out'],
      ['n', 'int'],
      ['lr', 'float'],
      ['beta1', 'float'],
      ['beta2', 'float'],
      ['eps', 'float'],
      ['weightDecay', 'float'],
      ['bc1', 'float'],
      ['bc2Sqrt', 'float'],
      ['gradScale', 'float'],
      ['zeroGrad', 'bool'],
    ],
    split: { worth: manyElements, ways: [{ over: 'n', align: ELEMENTS, moves: { p: 1, g: 1, m: 1, v: 1 } }] },
  }),
  /** Sum of squares of n values (the global gradient norm's square is their total). */
  sumOfSquares: kernel({
    args: [
      ['x', 'in'],
      ['n', 'int'],
    ],
    returns: 'number',
  }),

  // search.ts
  /** out[i] = ||x[i, :]||^2 for N rows of d: the keys' norms for the l2 score, once per memory. */
  squaredNorms: kernel({
    args: [
      ['out', 'out'],
      ['x', 'in'],
      ['N', 'int'],
      ['d', 'int'],
    ],
    split: { worth: (a) => a.N * a.d >= PARALLEL_MIN_ELEMENTS, ways: [{ over: 'N', align: 4, moves: { out: 1, x: 'd' } }] },
  }),
  /**
   * Exact search, first half: the kb best keys (by q.k, or with l2 by 2 q.k - ||k||^2 - ||q||^2) of each block of
   * blockRows keys for each of Q queries, into [Q, blocks, kb] slots (index -1 where a block has fewer). keys[0]
   * is key `start`; threads take whole blocks of one of SEARCH_BLOCK_ROWS, each chunk moving keys, keyNorms and
   * start (other block sizes stay on one thread).
   */
  searchBlocks: kernel({
    args: [
      ['scores', 'out'],
      ['indices', 'idsOut'],
      ['queries', 'in'],
      ['keys', 'in'],
      ['keyNorms', 'in?'],
      ['Q', 'int'],
      ['N', 'int'],
      ['d', 'int'],
      ['kb', 'int'],
      ['blocks', 'int'],
      ['blockRows', 'int'],
      ['start', 'int'],
      ['l2', 'bool'],
    ],
    split: {
      worth: (a) => a.N > a.blockRows,
      ways: [
        {
          over: 'N',
          align: SEARCH_BLOCK_ROWS[0],
          moves: { keys: 'd', keyNorms: 1, start: 1 },
          when: (a) => a.blockRows === SEARCH_BLOCK_ROWS[0],
        },
        {
          over: 'N',
          align: SEARCH_BLOCK_ROWS[1],
          moves: { keys: 'd', keyNorms: 1, start: 1 },
          when: (a) => a.blockRows === SEARCH_BLOCK_ROWS[1],
        },
      ],
    },
  }),
  /** Exact search, second half: the k best of each query's n candidates [Q, n], best first, into [Q, k]. */
  searchMerge: kernel({
    args: [
      ['scores', 'out'],
      ['indices', 'idsOut'],
      ['candidateScores', 'in'],
      ['candidateIndices', 'ids'],
      ['Q', 'int'],
      ['n', 'int'],
      ['k', 'int'],
    ],
    split: {
      worth: (a) => a.Q > 1 && a.Q * a.n >= PARALLEL_MIN_ELEMENTS,
      ways: [{ over: 'Q', align: 1, moves: { scores: 'k', indices: 'k', candidateScores: 'n', candidateIndices: 'n' } }],
    },
  }),
} as const;

export type KernelName = keyof typeof KERNEL_TABLE;
export const KERNEL_NAMES = Object.keys(KERNEL_TABLE) as KernelName[];

/** An argument's TypeScript type, from its role. */
type RoleType<R extends Role> = R extends 'out' | 'in'
  ? Float32Array
  : R extends 'out?' | 'in?'
    ? Float32Array | null
    : R extends 'ids' | 'idsOut'
      ? Int32Array
      : R extends 'state'
        ? Uint32Array
        : R extends 'bool'
          ? boolean
          : number;

type Params<A extends readonly Arg[]> = {
  -readonly [I in keyof A]: A[I] extends readonly [string, infer R extends Role] ? RoleType<R> : never;
};

/** A kernel's function type, from its row. */
export type KernelFunction<S> = S extends KernelSpec<infer A> & { returns?: infer R }
  ? (...args: Params<A>) => [NonNullable<R>] extends [never] ? void : number
  : never;

/** Every kernel of the table, typed from its row. */
export type KernelFunctions = { [K in KernelName]: KernelFunction<(typeof KERNEL_TABLE)[K]> };
