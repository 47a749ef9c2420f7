/** The dropout multiplier, drawn from the engine's generator (src/engine/random.ts). */
import { xoshiroNext } from '../random.js';

/**
 * A dropout multiplier of n floats drawn from xoshiro128** state words (advanced in place): 0 where the next
 * uniform u32 / 2^32 is below p, else 1/(1-p). The numbers Rng.uniform() would give, one per element.
 */
export function dropoutMask(out: Float32Array, n: number, p: number, state: Uint32Array): void {
  const keep = 1 / (1 - p),
    threshold = p * 4294967296;
  for (let i = 0; i < n; i++) out[i] = xoshiroNext(state) < threshold ? 0 : keep;
}
