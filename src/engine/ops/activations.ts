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

/** max(0, x)^2: ReLU squared (So et al. 2021, "Primer"), modded-nanogpt's MLP non-linearity. */
export function relu2(x: Tensor): Tensor {
  const out = new Tensor(x.shape);
  const k = kernels();
  k.relu2Forward(out.data, x.data, x.size);
  if (needsGrad(x)) {
    record('relu2', out, [x], () => {
      const dx = gradToWrite(x)!;
      k.relu2Backward(dx.data, x.data, out.grad!.data, x.size, !dx.overwrite);
    });
  }
  return out;
}

/**
 * cap tanh(x / cap): the logit soft-cap (Gemma 2, modded-nanogpt), which keeps every logit within +-cap and
 * leaves small ones nearly as they are. Its backward reads the output, which it keeps.
 */
export function softcap(x: Tensor, cap: number): Tensor {
  if (!(cap > 0)) throw new RangeError(`softcap: the cap must be positive, got ${cap}`);
  const out = new Tensor(x.shape);
  const k = kernels();
  k.softcapForward(out.data, x.data, x.size, cap);
  if (needsGrad(x)) {
    record('softcap', out, [x], () => {
      const dx = gradToWrite(x)!;
      k.softcapBackward(dx.data, out.data, out.grad!.data, x.size, cap, !dx.overwrite);
    });
  }
  return out;
}
