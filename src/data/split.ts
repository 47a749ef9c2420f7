import { check } from '../errors.js';

/** The first 90% (by default) trains and the rest validates, as in the lecture; views share the token buffer. */
export function splitTrainVal(tokens: Int32Array, trainFraction = 0.9): { train: Int32Array; val: Int32Array } {
  check(
    Number.isFinite(trainFraction) && trainFraction > 0 && trainFraction < 1,
    () => `train fraction must be strictly between 0 and 1, got ${trainFraction}`,
  );
  const n = Math.floor(tokens.length * trainFraction);
  check(n > 0 && n < tokens.length, () => `a corpus of ${tokens.length} tokens is too small to split into training and validation parts`);
  return { train: tokens.subarray(0, n), val: tokens.subarray(n) };
}
