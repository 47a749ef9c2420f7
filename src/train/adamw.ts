/**
 * AdamW with nanoGPT's parameter groups: weight decay on every parameter with two or more dimensions
 * (matmul weights and embeddings), none on biases and LayerNorm gains. Moments live outside every scope,
 * made once, so a step allocates nothing.
 */
import { kernels } from '../engine/backend.js';
import { untracked, zeros, type Tensor } from '../engine/tensor.js';

export interface AdamWConfig {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

export interface ParamState {
  name: string;
  param: Tensor;
  m: Tensor;
  v: Tensor;
  decay: boolean;
}

export class AdamW {
  readonly states: ParamState[];
  /** Number of updates taken: Adam's bias corrections use it. */
  step = 0;

  constructor(
    namedParams: readonly [string, Tensor][],
    readonly config: AdamWConfig,
  ) {
    this.states = untracked(() =>
      namedParams.map(([name, param]) => ({
        name,
        param,
        m: zeros(param.shape),
        v: zeros(param.shape),
        decay: param.shape.length >= 2,
      })),
    );
  }

  /** Numbers of parameters with and without decay, as nanoGPT prints them. */
  groupSizes(): { decayed: number; notDecayed: number; decayedTensors: number; notDecayedTensors: number } {
    const d = this.states.filter((s) => s.decay),
      n = this.states.filter((s) => !s.decay);
    const count = (xs: ParamState[]) => xs.reduce((a, s) => a + s.param.size, 0);
    return { decayed: count(d), notDecayed: count(n), decayedTensors: d.length, notDecayedTensors: n.length };
  }

  /**
   * One update with learning rate lr; every gradient is multiplied by gradScale first (clipping). With
   * zeroGrads, the gradients are left at zero, read and cleared in one pass: what the next step's zero_grad
   * would do (PyTorch keeps them; a trainer that zeroes them next anyway saves that pass).
   */
  update(lr: number, gradScale = 1, zeroGrads = false): void {
    this.step++;
    const k = kernels();
    const { beta1, beta2, eps, weightDecay } = this.config;
    // torch.optim.AdamW's bias corrections, for this update's step count.
    const bc1 = 1 - Math.pow(beta1, this.step),
      bc2Sqrt = Math.sqrt(1 - Math.pow(beta2, this.step));
    for (const s of this.states) {
      if (s.param.grad === null) continue; // never reached by backward: PyTorch skips it too
      k.adamwStep(
        s.param.data,
        s.param.grad.data,
        s.m.data,
        s.v.data,
        s.param.size,
        lr,
        beta1,
        beta2,
        eps,
        s.decay ? weightDecay : 0,
        bc1,
        bc2Sqrt,
        gradScale,
        zeroGrads,
      );
    }
  }

  dispose(): void {
    for (const s of this.states) {
      s.m.dispose();
      s.v.dispose();
    }
  }
}

/** The global L2 norm of all gradients, and the factor that brings it down to maxNorm (1 if already below). */
export function gradientNorm(params: readonly Tensor[], maxNorm: number): { norm: number; scale: number } {
  const k = kernels();
  let total = 0;
  for (const p of params) if (p.grad !== null) total += k.sumOfSquares(p.grad.data, p.size);
  const norm = Math.sqrt(total);
  // torch.nn.utils.clip_grad_norm_'s factor, with its 1e-6 guard.
  const scale = maxNorm > 0 && norm > maxNorm ? maxNorm / (norm + 1e-6) : 1;
  return { norm, scale };
}

/**
 * The first gradient value that is NaN or infinite, with its parameter's name; null when all are finite. Only
 * called once a step's gradient norm is not finite, to tell the user which tensor went bad.
 */
export function firstNonFinite(named: readonly [string, Tensor][]): { name: string; index: number; value: number } | null {
  for (const [name, p] of named) {
    if (p.grad === null) continue;
    const g = p.grad.data;
    for (let i = 0; i < p.size; i++) if (!Number.isFinite(g[i]!)) return { name, index: i, value: g[i]! };
  }
  return null;
}
