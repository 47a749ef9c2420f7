import { gradToWrite, needsGrad, record } from '../autograd.js';
import { kernels } from '../backend.js';
import { Tensor } from '../tensor.js';
import { lastDim, leadingSize } from './shapes.js';

/**
 * RMS norm over the last dimension, without a gain: x / sqrt(mean(x^2) + eps), PyTorch's F.rms_norm(x, (C,))
 * (modded-nanogpt's block norm). eps defaults to float32's machine epsilon, as F.rms_norm's does.
 */
export function rmsNorm(x: Tensor, eps = RMS_NORM_EPS): Tensor {
  const C = lastDim(x.shape),
    N = leadingSize(x.shape);
  const out = new Tensor(x.shape);
  const rstd = new Tensor([N]);
  const k = kernels();
  k.rmsnormForward(out.data, rstd.data, x.data, N, 1, C, C, eps);
  if (needsGrad(x)) {
    record('rmsNorm', out, [x], () => {
      const dx = gradToWrite(x)!;
      k.rmsnormBackward(dx.data, out.grad!.data, x.data, rstd.data, N, 1, C, C, !dx.overwrite);
      rstd.dispose();
    });
  }
  return out;
}

/** float32's machine epsilon, torch.finfo(torch.float32).eps: F.rms_norm's eps when none is given. */
export const RMS_NORM_EPS = 2 ** -23;
