/**
 * The lecture's building blocks, thin wrappers over engine ops. Weights come from a seeded Rng, initialised
 * one of two ways (LayerNorm is always weight one, bias zero):
 *  - 'gpt': normal with std 0.02 (or as given), biases zero: nanoGPT's and the final gpt.py's _init_weights;
 *  - 'torch': PyTorch's module defaults, which the lecture's earlier chapters run with: Linear weights and
 *    biases uniform in +-1/sqrt(in_features), Embedding rows N(0, 1).
 */
import { geluErf, geluTanh, relu, relu2 } from '../engine/ops/activations.js';
import { dropout } from '../engine/ops/dropout.js';
import { embedding } from '../engine/ops/embedding.js';
import { layerNorm } from '../engine/ops/layernorm.js';
import { RMS_NORM_EPS, rmsNorm } from '../engine/ops/rms_norm.js';
import { linear } from '../engine/ops/linear.js';
import type { Rng } from '../engine/random.js';
import { full, parameter, rand, randn, zeros, type Tensor } from '../engine/tensor.js';
import { Module } from './module.js';

export type Init = 'gpt' | 'torch';

export class Linear extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;

  /** weight [out, in] as in PyTorch. */
  constructor(inFeatures: number, outFeatures: number, rng: Rng, opts: { bias?: boolean; std?: number; init?: Init } = {}) {
    super();
    const torch = opts.init === 'torch',
      bound = 1 / Math.sqrt(inFeatures);
    this.weight = this.registerParameter(
      'weight',
      parameter(() =>
        torch ? rand([outFeatures, inFeatures], rng, -bound, bound) : randn([outFeatures, inFeatures], rng, opts.std ?? 0.02),
      ),
    );
    this.bias =
      (opts.bias ?? true)
        ? this.registerParameter(
            'bias',
            parameter(() => (torch ? rand([outFeatures], rng, -bound, bound) : zeros([outFeatures]))),
          )
        : null;
  }

  forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias);
  }
}

export class Embedding extends Module {
  readonly weight: Tensor;

  /** std 0.02 as the GPTs initialise it; PyTorch's default ('torch', and the bigram model) is std 1. */
  constructor(numEmbeddings: number, embeddingDim: number, rng: Rng, opts: { std?: number; init?: Init } = {}) {
    super();
    const std = opts.std ?? (opts.init === 'torch' ? 1 : 0.02);
    this.weight = this.registerParameter(
      'weight',
      parameter(() => randn([numEmbeddings, embeddingDim], rng, std)),
    );
  }

  /** ids: an i32 tensor of any shape; returns [...ids.shape, embeddingDim]. */
  forward(ids: Tensor): Tensor {
    return embedding(this.weight, ids);
  }
}

export class LayerNorm extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;

  constructor(dim: number, opts: { bias?: boolean; eps?: number } = {}) {
    super();
    this.eps = opts.eps ?? 1e-5;
    this.weight = this.registerParameter(
      'weight',
      parameter(() => full([dim], 1)),
    );
    this.bias =
      (opts.bias ?? true)
        ? this.registerParameter(
            'bias',
            parameter(() => zeros([dim])),
          )
        : null;
  }

  readonly eps: number;

  forward(x: Tensor): Tensor {
    return layerNorm(x, this.weight, this.bias, this.eps);
  }
}

/**
 * RMSNorm without a gain, x / sqrt(mean(x^2) + eps): modded-nanogpt's block norm, F.rms_norm(x, (C,)), with its
 * eps, float32's machine epsilon. It has no parameters, so a model that uses it has no ln_1, ln_2 or ln_f
 * entries in its state dict. (torch.nn.RMSNorm would add a gain; the speedrun's records leave it out, and the
 * matrix after each norm can learn any per-channel scale a gain would give.)
 */
export class RMSNorm extends Module {
  constructor(readonly eps = RMS_NORM_EPS) {
    super();
  }

  forward(x: Tensor): Tensor {
    return rmsNorm(x, this.eps);
  }
}

/** A block's or the final norm: nanoGPT's LayerNorm, or RMSNorm (ModernOptions.norm). */
export type Norm = LayerNorm | RMSNorm;

/** The norm a GPT's config names: RMSNorm for 'rmsnorm', else LayerNorm with or without its bias. */
export function normModule(kind: 'rmsnorm' | undefined, dim: number, bias: boolean): Norm {
  return kind === 'rmsnorm' ? new RMSNorm() : new LayerNorm(dim, { bias });
}

export class Dropout extends Module {
  constructor(
    readonly p: number,
    private readonly rng: Rng,
  ) {
    super();
  }

  forward(x: Tensor): Tensor {
    return dropout(x, this.p, this.rng, this.training);
  }
}

export class ReLU extends Module {
  forward(x: Tensor): Tensor {
    return relu(x);
  }
}

/** GELU as PyTorch's nn.GELU: exact (approximate 'none', the default) or GPT-2's tanh form ('tanh'). */
export class GELU extends Module {
  constructor(readonly approximate: 'none' | 'tanh' = 'none') {
    super();
  }

  forward(x: Tensor): Tensor {
    return this.approximate === 'tanh' ? geluTanh(x) : geluErf(x);
  }
}

/** ReLU squared, max(0, x)^2 (Primer; modded-nanogpt's MLP). */
export class ReLU2 extends Module {
  forward(x: Tensor): Tensor {
    return relu2(x);
  }
}

/**
 * A feed-forward non-linearity, named as Hugging Face's GPT-2 config and nanoGPT's code would: 'relu' (the
 * lecture's), 'gelu' (exact, x Phi(x): nn.GELU(), nanoGPT's model.py since 2023), 'gelu_tanh' (the tanh
 * approximation GPT-2 was trained with, Hugging Face's "gelu_new") and 'relu2' (ReLU squared, modded-nanogpt's).
 */
export type Activation = 'relu' | 'gelu' | 'gelu_tanh' | 'relu2';
export const ACTIVATIONS: readonly Activation[] = ['relu', 'gelu', 'gelu_tanh', 'relu2'];

/** The module for an activation's name. */
export function activationModule(activation: Activation): ReLU | GELU | ReLU2 {
  if (activation === 'relu') return new ReLU();
  if (activation === 'relu2') return new ReLU2();
  return new GELU(activation === 'gelu_tanh' ? 'tanh' : 'none');
}

/** A module with a forward from one tensor to one tensor. */
export interface Layer extends Module {
  forward(x: Tensor): Tensor;
}

/** Layers applied in order, registered as "0", "1", ... like torch.nn.Sequential. */
export class Sequential extends Module {
  readonly layers: readonly Layer[];

  constructor(...layers: Layer[]) {
    super();
    this.layers = layers;
    layers.forEach((layer, i) => this.registerModule(String(i), layer));
  }

  forward(x: Tensor): Tensor {
    for (const layer of this.layers) x = layer.forward(x);
    return x;
  }
}

/** Sub-modules registered as "0", "1", ... like torch.nn.ModuleList. */
export class ModuleList<M extends Module> extends Module {
  readonly items: readonly M[];

  constructor(items: M[]) {
    super();
    this.items = items;
    items.forEach((m, i) => this.registerModule(String(i), m));
  }
}
