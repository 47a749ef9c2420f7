/**
 * kNN-LM's arithmetic (Khandelwal et al., ICLR 2020), which is attention over an external memory: a query is
 * scored against stored keys, the best k scores go through a softmax with a temperature, and the values (the
 * tokens that followed each key in the stored text) are read by those weights into a next-token distribution,
 * which is mixed with the model's own:
 *
 *   w_i   = softmax_i(s_i / temperature)          over the k best keys i
 *   p_mem = sum_i w_i onehot(value_i)
 *   p     = lambda p_mem + (1 - lambda) p_model
 *
 * Scores are the attention's scaled dot product q.k / sqrt(d) or kNN-LM's negative squared distance
 * -|q - k|^2. Pure arithmetic on arrays: no model, no search, no files.
 */

export type Score = 'dot' | 'l2';

/** How raw search scores (q.k, or -|q-k|^2) become the softmax's inputs: dot products get attention's 1/sqrt(d). */
export function scoreScale(score: Score, width: number): number {
  return score === 'dot' ? 1 / Math.sqrt(width) : 1;
}

/**
 * The memory's next-token distribution from one query's neighbours, written into `out` (length V, overwritten):
 * weights softmax(scale * score / temperature) over the neighbours whose index is not -1 (empty slots of a
 * search that found fewer than k keys), summed by value. All zeros when there are none. Returns the largest
 * weight (how peaked the memory is: a gate can read it).
 */
export function memoryDistribution(
  out: Float32Array,
  scores: ArrayLike<number>,
  indices: ArrayLike<number>,
  values: ArrayLike<number>,
  scale: number,
  temperature: number,
): number {
  out.fill(0);
  let max = -Infinity;
  for (let i = 0; i < scores.length; i++) if (indices[i]! >= 0 && scores[i]! > max) max = scores[i]!;
  if (max === -Infinity) return 0;
  const factor = scale / temperature;
  let sum = 0;
  for (let i = 0; i < scores.length; i++) if (indices[i]! >= 0) sum += Math.exp((scores[i]! - max) * factor);
  let best = 0;
  for (let i = 0; i < scores.length; i++) {
    if (indices[i]! < 0) continue;
    const w = Math.exp((scores[i]! - max) * factor) / sum;
    out[values[indices[i]!]!]! += w;
    if (w > best) best = w;
  }
  return best;
}

/** p = lambda p_mem + (1 - lambda) p_model, in place into `model`'s array; a memory that found nothing leaves p_model. */
export function mixDistributions(model: Float32Array | Float64Array, memory: Float32Array, lambda: number): void {
  let mass = 0;
  for (let v = 0; v < memory.length; v++) mass += memory[v]!;
  if (mass === 0) return;
  for (let v = 0; v < model.length; v++) model[v] = lambda * memory[v]! + (1 - lambda) * model[v]!;
}

/** softmax(logits) into `out`, in float64 (the losses compared here differ in the third decimal). */
export function softmaxInto(out: Float64Array, logits: ArrayLike<number>): void {
  let max = -Infinity;
  for (let v = 0; v < logits.length; v++) if (logits[v]! > max) max = logits[v]!;
  let sum = 0;
  for (let v = 0; v < logits.length; v++) sum += out[v] = Math.exp(logits[v]! - max);
  for (let v = 0; v < logits.length; v++) out[v]! /= sum;
}
