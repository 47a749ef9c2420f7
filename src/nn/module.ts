/**
 * Module: a named tree of parameters and sub-modules, as in PyTorch, so that parameter names come out as
 * state-dict keys ("transformer.h.0.attn.c_attn.weight", "blocks.0.sa.heads.0.key.weight") and loading the
 * other side's weights is a mapping of names.
 */
import { kernels } from '../engine/backend.js';
import type { Tensor } from '../engine/tensor.js';

export abstract class Module {
  /** Training mode turns dropout on; eval() turns it off. */
  training = true;
  private readonly ownParameters = new Map<string, Tensor>();
  private readonly children = new Map<string, Module>();

  protected registerParameter(name: string, t: Tensor): Tensor {
    this.ownParameters.set(name, t);
    return t;
  }

  protected registerModule<M extends Module>(name: string, m: M): M {
    this.children.set(name, m);
    return m;
  }

  /**
   * Every parameter with its dotted name, depth first in registration order. A tensor registered twice (tied
   * weights) appears once, under its first name, as in PyTorch's named_parameters().
   */
  namedParameters(): [string, Tensor][] {
    const seen = new Set<Tensor>();
    const out: [string, Tensor][] = [];
    const walk = (m: Module, prefix: string): void => {
      for (const [name, t] of m.ownParameters) {
        if (seen.has(t)) continue;
        seen.add(t);
        out.push([prefix + name, t]);
      }
      for (const [name, child] of m.children) walk(child, `${prefix}${name}.`);
    };
    walk(this, '');
    return out;
  }

  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }

  /** Total number of parameter values (tied weights counted once). */
  numParameters(): number {
    return this.parameters().reduce((n, t) => n + t.size, 0);
  }

  /** Sets training mode here and in every sub-module. */
  train(mode = true): this {
    this.training = mode;
    for (const child of this.children.values()) child.train(mode);
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /** Zeroes every parameter's gradient in place (keeps the buffers: the step allocates nothing for them). */
  zeroGrad(): void {
    const k = kernels();
    for (const t of this.parameters()) if (t.grad !== null) k.fillZero(t.grad.data, t.size);
  }

  /** Releases every parameter (and gradient) back to the arena. */
  dispose(): void {
    for (const t of this.parameters()) t.dispose();
  }
}
