/**
 * The kernel interface: the closed list of compute routines the ops call. Each works on float32 views of the
 * arena with explicit shapes, allocates nothing, and backward routines accumulate into gradient buffers.
 * A backend (the reference TypeScript here; WebAssembly SIMD and GPU later) implements this list and nothing
 * else: ops, modules and models never call a kernel except through `kernels()`.
 */
import { adamwStep, sumOfSquares } from './kernels/adamw.js';
import { attentionBackward, attentionCachedForward, attentionForward } from './kernels/attention.js';
import { crossEntropyBackward, crossEntropyForward } from './kernels/cross_entropy.js';
import {
  addBackward,
  addForward,
  biasBackward,
  biasForward,
  copy,
  dropoutMask,
  fillZero,
  mulBackward,
  mulForward,
  transpose,
} from './kernels/elementwise.js';
import { embeddingBackward, embeddingForward } from './kernels/embedding.js';
import { geluBackward, geluForward, reluBackward, reluForward } from './kernels/activations.js';
import { layernormBackward, layernormForward } from './kernels/layernorm.js';
import { matmulNN, matmulNT, matmulTN } from './kernels/matmul.js';
import { softmaxBackward, softmaxForward } from './kernels/softmax.js';

export interface Kernels {
  readonly name: string;
  /** Threads the kernels compute on, the calling one included. */
  readonly threads: number;
  /** Stops any helper threads (a backend without them need not have this). */
  dispose?(): void;
  matmulNT: typeof matmulNT;
  matmulNN: typeof matmulNN;
  matmulTN: typeof matmulTN;
  fillZero: typeof fillZero;
  copy: typeof copy;
  dropoutMask: typeof dropoutMask;
  transpose: typeof transpose;
  biasForward: typeof biasForward;
  biasBackward: typeof biasBackward;
  addForward: typeof addForward;
  addBackward: typeof addBackward;
  mulForward: typeof mulForward;
  mulBackward: typeof mulBackward;
  embeddingForward: typeof embeddingForward;
  embeddingBackward: typeof embeddingBackward;
  layernormForward: typeof layernormForward;
  layernormBackward: typeof layernormBackward;
  reluForward: typeof reluForward;
  reluBackward: typeof reluBackward;
  geluForward: typeof geluForward;
  geluBackward: typeof geluBackward;
  softmaxForward: typeof softmaxForward;
  softmaxBackward: typeof softmaxBackward;
  attentionForward: typeof attentionForward;
  attentionBackward: typeof attentionBackward;
  attentionCachedForward: typeof attentionCachedForward;
  crossEntropyForward: typeof crossEntropyForward;
  crossEntropyBackward: typeof crossEntropyBackward;
  adamwStep: typeof adamwStep;
  sumOfSquares: typeof sumOfSquares;
}

/** Plain TypeScript kernels: the reference every faster backend is tested against. */
export const referenceKernels: Kernels = {
  name: 'reference',
  threads: 1,
  matmulNT,
  matmulNN,
  matmulTN,
  fillZero,
  copy,
  dropoutMask,
  transpose,
  biasForward,
  biasBackward,
  addForward,
  addBackward,
  mulForward,
  mulBackward,
  embeddingForward,
  embeddingBackward,
  layernormForward,
  layernormBackward,
  reluForward,
  reluBackward,
  geluForward,
  geluBackward,
  softmaxForward,
  softmaxBackward,
  attentionForward,
  attentionBackward,
  attentionCachedForward,
  crossEntropyForward,
  crossEntropyBackward,
  adamwStep,
  sumOfSquares,
};

let active: Kernels = referenceKernels;

/** The kernels every op uses now. */
export function kernels(): Kernels {
  return active;
}

/** Switches every op to another backend (tests compare backends op by op through this). */
export function setKernels(k: Kernels): void {
  active = k;
}
