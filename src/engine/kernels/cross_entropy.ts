/**
 * Cross-entropy fused with log-softmax, over N rows of V logits: the mean over rows whose target is not -1
 * (nanoGPT's ignore_index) of logsumexp(row) - row[target]. Fusing the two never forms the probabilities in
 * the forward and keeps the loss exact for very negative log-probabilities. Saves lse[N] for the backward.
 * Returns the summed loss of the rows counted; the op counts them and divides.
 */
export function crossEntropyForward(lse: Float32Array, logits: Float32Array, targets: Int32Array, N: number, V: number): number {
  let total = 0;
  for (let i = 0; i < N; i++) {
    const o = i * V;
    let max = -Infinity;
    for (let j = 0; j < V; j++) if (logits[o + j]! > max) max = logits[o + j]!;
    let sum = 0;
    for (let j = 0; j < V; j++) sum += Math.exp(logits[o + j]! - max);
    const l = max + Math.log(sum);
    lse[i] = l;
    const t = targets[i]!;
    if (t < 0) continue;
    total += l - logits[o + t]!;
  }
  return total;
}

/** dlogits[i, j] += dloss (softmax(row)[j] - [j == target]) / count, for the rows counted. */
export function crossEntropyBackward(
  dlogits: Float32Array,
  logits: Float32Array,
  lse: Float32Array,
  targets: Int32Array,
  N: number,
  V: number,
  count: number,
  dloss: number,
): void {
  if (count === 0) return;
  const s = dloss / count;
  for (let i = 0; i < N; i++) {
    const t = targets[i]!;
    if (t < 0) continue;
    const o = i * V,
      l = lse[i]!;
    for (let j = 0; j < V; j++) dlogits[o + j] += s * Math.exp(logits[o + j]! - l);
    dlogits[o + t] -= s;
  }
}
