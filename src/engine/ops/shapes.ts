import type { Shape } from '../tensor.js';

/** Product of every dimension but the last: the number of rows an op over the last dimension processes. */
export function leadingSize(shape: Shape): number {
  let n = 1;
  for (let i = 0; i < shape.length - 1; i++) n *= shape[i]!;
  return n;
}

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export function lastDim(shape: Shape): number {
  if (shape.length === 0) throw new RangeError('op needs at least one dimension');
  return shape[shape.length - 1]!;
}
