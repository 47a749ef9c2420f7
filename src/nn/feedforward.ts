/**
 * The position-wise feed-forward network, 4x wider inside, in both forms:
 *  - the lecture's FeedForward: net = Sequential(Linear, ReLU, Linear, Dropout) (names net.0, net.2); the
 *    lecture first introduces it as just Sequential(Linear(C, C), ReLU) (kind 'linear', for its ladder);
 *  - nanoGPT's MLP: c_fc, GELU (or ReLU squared, or ReLU), c_proj, dropout.
 * Either takes any activation (layers.ts's Activation); the lecture's is ReLU, nanoGPT's model.py's the exact
 * GELU, GPT-2's the tanh GELU.
 */
import { dropout } from '../engine/ops/dropout.js';
import type { Rng } from '../engine/random.js';
import type { Tensor } from '../engine/tensor.js';
import { type Activation, activationModule, Dropout, type GELU, Linear, type ReLU, type ReLU2, Sequential, type Init } from './layers.js';
import { Module } from './module.js';

export class FeedForward extends Module {
  readonly net: Sequential;

  constructor(
    nEmbd: number,
    dropoutP: number,
    rng: Rng,
    opts: { bias?: boolean; init?: Init; kind?: 'mlp' | 'linear'; activation?: Activation } = {},
  ) {
    super();
    const { bias = true, init, activation = 'relu' } = opts;
    this.net = this.registerModule(
      'net',
      opts.kind === 'linear'
        ? new Sequential(new Linear(nEmbd, nEmbd, rng, { bias, init }), activationModule(activation))
        : new Sequential(
            new Linear(nEmbd, 4 * nEmbd, rng, { bias, init }),
            activationModule(activation),
            new Linear(4 * nEmbd, nEmbd, rng, { bias, init }),
            new Dropout(dropoutP, rng),
          ),
    );
  }

  forward(x: Tensor): Tensor {
    return this.net.forward(x);
  }
}

export class MLP extends Module {
  readonly c_fc: Linear;
  readonly c_proj: Linear;
  /** A module without parameters, so the state dict is nanoGPT's whichever it is. */
  readonly activation: ReLU | GELU | ReLU2;

  constructor(
    nEmbd: number,
    readonly dropoutP: number,
    private readonly rng: Rng,
    opts: { bias: boolean; projStd: number; activation: Activation },
  ) {
    super();
    this.c_fc = this.registerModule('c_fc', new Linear(nEmbd, 4 * nEmbd, rng, { bias: opts.bias }));
    this.activation = activationModule(opts.activation);
    this.c_proj = this.registerModule('c_proj', new Linear(4 * nEmbd, nEmbd, rng, { bias: opts.bias, std: opts.projStd }));
  }

  forward(x: Tensor): Tensor {
    return dropout(this.c_proj.forward(this.activation.forward(this.c_fc.forward(x))), this.dropoutP, this.rng, this.training);
  }
}
