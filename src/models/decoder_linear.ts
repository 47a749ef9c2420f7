/**
 * A Linear layer's forward as a decoder runs it: y[M, N] = x[M, K] W^T + b on the decoder's buffers, with no
 * tensors made and nothing recorded. A product of one to three rows (a token at a time) reads a copy of the
 * weight packed into panels of columns (packPanels), which it streams front to back; the weight as stored has
 * a row's products walk across rows of it instead. The result is linear()'s, bit for bit: the kernels sum
 * every output in the same order in both layouts (the sampling tests check the logits).
 */
import { kernels } from '../engine/backend.js';
import { matmulNT, panelFloats } from '../engine/matmul_layouts.js';
import { Tensor, untracked } from '../engine/tensor.js';

/** Below this many rows the packed copy serves (at four and more, matmul's own packing pays for itself). */
const FEW_ROWS = 4;

export class DecoderLinear {
  readonly outFeatures: number;
  readonly inFeatures: number;
  /** W^T in panels (panelFloats), or null when the decoder never multiplies fewer than FEW_ROWS rows. */
  private readonly panels: Tensor | null;

  /**
   * weight [N, K] as in PyTorch, bias [N] or null. `fewRows`: whether products of fewer than FEW_ROWS rows
   * will come (a batch of one to three sequences), so the copy is worth making. The copy is of the weight
   * as it is now: a later change to the weight is not seen by it.
   */
  constructor(
    readonly weight: Tensor,
    readonly bias: Tensor | null,
    fewRows: boolean,
  ) {
    [this.outFeatures, this.inFeatures] = weight.shape as [number, number];
    this.panels = fewRows ? untracked(() => new Tensor([panelFloats(this.outFeatures, this.inFeatures)])) : null;
    if (this.panels !== null) kernels().packPanels(this.panels.data, weight.data, this.outFeatures, this.inFeatures);
  }

  /** y = x W^T + b over the first M rows of x into y. Views are taken per call: a kernel may grow the arena. */
  forward(y: Tensor, x: Tensor, M: number): void {
    const k = kernels(),
      N = this.outFeatures,
      K = this.inFeatures;
    if (M < FEW_ROWS && this.panels !== null) k.rowsTimesPanels(y.data, N, x.data, this.panels.data, M, N, K);
    else matmulNT(k, y.data, x.data, this.weight.data, M, N, K, false);
    if (this.bias !== null) k.biasForward(y.data, this.bias.data, M, N);
  }

  dispose(): void {
    this.panels?.dispose();
  }
}

/** Whether a decoder of `batch` sequences multiplies fewer than FEW_ROWS rows at a time (one token each). */
export function fewRows(batch: number): boolean {
  return batch < FEW_ROWS;
}
