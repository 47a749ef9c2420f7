/**
 * Scores divided by a temperature kept as its logarithm: y = x * scale / exp(logTemperature), with the gradient
 * reaching both the scores and the log-temperature:
 *
 *   dx      += dy * scale / T
 *   d(logT) += -sum(dy * y)        (since dy/d(logT) = -y)
 *
 * Not one of the engine's ops: it multiplies a [B, B] score matrix by one number, work no backend would speed
 * up, and only the retrieval head needs it. Its forward and backward sit together, as the engine's ops do.
 */
import { gradIfNeeded, needsGrad, record } from '../engine/autograd.js';
import { Tensor } from '../engine/tensor.js';

export function divideByTemperature(x: Tensor, logTemperature: Tensor, scale: number): Tensor {
  if (logTemperature.size !== 1) throw new RangeError(`divideByTemperature: the log-temperature has ${logTemperature.size} values, not 1`);
  const factor = scale / Math.exp(logTemperature.data[0]!);
  const y = new Tensor(x.shape);
  const xs = x.data,
    ys = y.data;
  for (let i = 0; i < ys.length; i++) ys[i] = xs[i]! * factor;
  if (needsGrad(x, logTemperature)) {
    record('divideByTemperature', y, [x, logTemperature], () => {
      const dx = gradIfNeeded(x);
      const dLogT = gradIfNeeded(logTemperature);
      const dy = y.grad!.data,
        out = y.data;
      if (dx !== null) for (let i = 0; i < dy.length; i++) dx[i]! += dy[i]! * factor;
      if (dLogT !== null) {
        // In float64: a sum over B^2 terms of both signs.
        let sum = 0;
        for (let i = 0; i < dy.length; i++) sum += dy[i]! * out[i]!;
        dLogT[0]! -= sum;
      }
    });
  }
  return y;
}
