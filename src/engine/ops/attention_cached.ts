/**
 * Ops for sampling with a key/value cache (no gradients): keys and values of earlier positions are kept, so
 * each new token costs one row of work per layer instead of the whole context again.
 */
import { isGradEnabled } from '../autograd.js';
import { kernels } from '../backend.js';
import { Tensor } from '../tensor.js';

/** Copies x [B, n, C] into rows offset .. offset + n - 1 of a cache [B, Tmax, C]. */
export function writeCacheRows(cache: Tensor, x: Tensor, offset: number): void {
  const [B, Tmax, C] = cache.shape as [number, number, number];
  const n = x.shape[1]!;
  if (x.shape[0] !== B || x.shape[2] !== C || offset + n > Tmax) {
    throw new RangeError(`writeCacheRows: [${x.shape}] at ${offset} does not fit a cache of [${cache.shape}]`);
  }
  const dst = cache.data,
    src = x.data;
  for (let b = 0; b < B; b++) dst.set(src.subarray(b * n * C, (b + 1) * n * C), (b * Tmax + offset) * C);
}

/**
 * Causal attention of q [B, Tq, C] (positions offset .. offset + Tq - 1) over the cached keys and values
 * [B, Tmax, C] of positions 0 .. offset + Tq - 1. Same result, bit for bit, as attention() over the whole
 * sequence at those rows.
 */
export function attentionCached(q: Tensor, kCache: Tensor, vCache: Tensor, offset: number, nHead: number): Tensor {
  if (isGradEnabled() && q.requiresGrad) throw new Error('attentionCached is for sampling: run it under noGrad()');
  const [B, Tq, C] = q.shape as [number, number, number];
  const Tmax = kCache.shape[1]!;
  if (offset + Tq > Tmax) throw new RangeError(`attentionCached: position ${offset + Tq} beyond the cache's ${Tmax}`);
  const hs = C / nHead;
  const out = new Tensor([B, Tq, C]);
  kernels().attentionCachedForward(out.data, q.data, kCache.data, vCache.data, B, Tq, Tmax, offset, nHead, hs, 1 / Math.sqrt(hs));
  return out;
}
