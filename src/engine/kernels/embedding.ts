/** Embedding lookup: out[n, :] = weight[idx[n], :] for N ids, rows of width C. Ids are checked by the op. */
export function embeddingForward(out: Float32Array, weight: Float32Array, idx: Int32Array, N: number, C: number): void {
  for (let n = 0; n < N; n++) {
    const src = idx[n]! * C,
      dst = n * C;
    for (let c = 0; c < C; c++) out[dst + c] = weight[src + c]!;
  }
}

/** dweight[idx[n], :] += dout[n, :]; a repeated id collects the gradient of every position that used it. */
export function embeddingBackward(dweight: Float32Array, dout: Float32Array, idx: Int32Array, N: number, C: number): void {
  for (let n = 0; n < N; n++) {
    const dst = idx[n]! * C,
      src = n * C;
    for (let c = 0; c < C; c++) dweight[dst + c] += dout[src + c]!;
  }
}
