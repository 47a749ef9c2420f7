import { gradIfNeeded, gradToWrite, needsGrad, record } from '../autograd.js';
import { kernels } from '../backend.js';
import { Tensor } from '../tensor.js';

/** max(0, x), the lecture's non-linearity. */
export function relu(x: Tensor): Tensor {
  const out = new Tensor(x.shape);
  const k = kernels();
  k.reluForward(out.data, x.data, x.size);
  if (needsGrad(x)) record('relu', out, [x], () => k.reluBackward(gradIfNeeded(x)!, x.data, out.grad!.data, x.size));
  return out;
}

/**
 * GELU, tanh approximation: GPT-2's ("gelu_new" in Hugging Face's code). When a backward will follow, the forward
 * keeps exp(-2u) for it, which spares the backward its exponentials (most of its time); the backward then frees it.
 */
export function geluTanh(x: Tensor): Tensor {
  const out = new Tensor(x.shape);
  const k = kernels();
  const saved = needsGrad(x) ? new Tensor(x.shape) : null;
  k.geluForward(out.data, x.data, saved?.data ?? null, x.size);
  if (saved !== null) {
    record('gelu_tanh', out, [x], () => {
      const dx = gradToWrite(x)!;
      k.geluBackward(dx.data, x.data, out.grad!.data, saved.data, x.size, !dx.overwrite);
      saved.dispose();
    });
  }
  return out;
}

/** GELU, exact: x Phi(x), PyTorch's nn.GELU() and so nanoGPT's model.py's (since 2023). */
export function geluErf(x: Tensor): Tensor {
  const out = new Tensor(x.shape);
  const k = kernels();
  k.geluErfForward(out.data, x.data, x.size);
  if (needsGrad(x)) {
    record('gelu', out, [x], () => {
      const dx = gradToWrite(x)!;
      k.geluErfBackward(dx.data, x.data, out.grad!.data, x.size, !dx.overwrite);
    });
  }
  return out;
}
