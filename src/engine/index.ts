/**
 * The engine: tensors in one WebAssembly.Memory arena, a tape autograd, and the closed list of ops a GPT
 * needs. Every op runs its forward through the active kernels and records its backward beside it.
 *
 *   embedding   linear   add   layerNorm   rmsNorm   relu   relu2   gelu   softcap   softmax   dropout
 *   attention   transformQK (QK-norm, rotary embeddings)   crossEntropy   split   concat (data movement)
 */
export { Arena, defaultArena } from './arena.js';
export { noGrad, isGradEnabled } from './autograd.js';
export { kernels, setKernels, referenceKernels, type Kernels } from './backend.js';
export { Rng, type RngState } from './random.js';
export {
  Tensor,
  tidy,
  keep,
  untracked,
  zeros,
  full,
  tensor,
  intTensor,
  randn,
  rand,
  parameter,
  type DType,
  type Shape,
} from './tensor.js';
export { add } from './ops/add.js';
export { relu, geluErf, geluTanh, relu2, softcap } from './ops/activations.js';
export { attention, attentionQKV, type AttentionOptions } from './ops/attention.js';
export { crossEntropy } from './ops/cross_entropy.js';
export { dropout } from './ops/dropout.js';
export { embedding } from './ops/embedding.js';
export { layerNorm } from './ops/layernorm.js';
export { rmsNorm } from './ops/rms_norm.js';
export { transformQK, rotaryAngles, ROTARY_BASE, type QKTransform, type RotaryAngles } from './ops/qk_transform.js';
export { linear } from './ops/linear.js';
export { softmax } from './ops/softmax.js';
export { split, concat } from './ops/split_concat.js';
