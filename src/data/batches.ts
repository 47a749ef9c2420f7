/**
 * Training windows: B random offsets into a token stream, each giving T inputs and the T tokens that follow
 * (the targets), as the lecture's get_batch does. Offsets come from the run's seeded generator.
 */
import type { Rng } from '../engine/random.js';
import { Tensor } from '../engine/tensor.js';

export function getBatch(tokens: Int32Array, batchSize: number, blockSize: number, rng: Rng): { x: Tensor; y: Tensor } {
  if (tokens.length <= blockSize) {
    throw new RangeError(`a split of ${tokens.length} tokens is too short for windows of ${blockSize} + 1`);
  }
  const x = new Tensor([batchSize, blockSize], 'i32'),
    y = new Tensor([batchSize, blockSize], 'i32');
  const xs = x.ints,
    ys = y.ints;
  for (let b = 0; b < batchSize; b++) {
    const start = rng.int(tokens.length - blockSize);
    xs.set(tokens.subarray(start, start + blockSize), b * blockSize);
    ys.set(tokens.subarray(start + 1, start + blockSize + 1), b * blockSize);
  }
  return { x, y };
}
