import { gradIfNeeded, gradToWrite, needsGrad, record } from '../autograd.js';
import { kernels } from '../backend.js';
import { Tensor } from '../tensor.js';
import { lastDim, leadingSize } from './shapes.js';

/** LayerNorm over the last dimension with weight [C] and optional bias [C]; saves mean and rstd per row. */
export function layerNorm(x: Tensor, weight: Tensor, bias: Tensor | null, eps = 1e-5): Tensor {
  const C = lastDim(x.shape),
    N = leadingSize(x.shape);
  if (weight.shape.length !== 1 || weight.size !== C || (bias !== null && (bias.shape.length !== 1 || bias.size !== C))) {
    throw new RangeError(`layerNorm: input [${x.shape}] does not match weight [${weight.shape}]`);
  }
  const out = new Tensor(x.shape);
  const mean = new Tensor([N]),
    rstd = new Tensor([N]);
  const k = kernels();
  k.layernormForward(out.data, mean.data, rstd.data, x.data, weight.data, bias?.data ?? null, N, C, eps);
  if (needsGrad(x, weight, bias)) {
    record('layerNorm', out, [x, weight, bias], () => {
      // Each call reads its views just before it runs: making a gradient buffer can grow the arena.
      const dweight = gradIfNeeded(weight),
        dbias = gradIfNeeded(bias);
      if (dweight !== null || dbias !== null) {
        k.layernormBackwardParams(dweight, dbias, out.grad!.data, x.data, mean.data, rstd.data, N, C, C);
      }
      const dx = gradToWrite(x);
      if (dx !== null) {
        k.layernormBackwardInput(dx.data, out.grad!.data, x.data, mean.data, rstd.data, weight.data, N, C, !dx.overwrite);
      }
      mean.dispose();
      rstd.dispose();
    });
  }
  return out;
}
