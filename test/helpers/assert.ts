import assert from 'node:assert/strict';

/**
 * Largest absolute difference divided by the largest magnitude in the expected values: the error relative to
 * the tensor's scale, so values near zero do not make a tiny absolute error look large.
 */
export function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  assert.equal(actual.length, expected.length, 'length');
  let maxDiff = 0,
    scale = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!,
      e = expected[i]!;
    if (!Number.isFinite(a)) return Infinity;
    maxDiff = Math.max(maxDiff, Math.abs(a - e));
    scale = Math.max(scale, Math.abs(e));
  }
  return scale === 0 ? maxDiff : maxDiff / scale;
}

export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance: number, what: string): void {
  const err = relativeError(actual, expected);
  assert.ok(err <= tolerance, `${what}: relative error ${err.toExponential(2)} exceeds ${tolerance.toExponential(0)}`);
}
