/** Softmax over the last dimension C of N rows, shifted by the row maximum so exp cannot overflow. */
export function softmaxForward(out: Float32Array, x: Float32Array, N: number, C: number): void {
  for (let i = 0; i < N; i++) {
    const o = i * C;
    let max = -Infinity;
    for (let c = 0; c < C; c++) if (x[o + c]! > max) max = x[o + c]!;
    let sum = 0;
    for (let c = 0; c < C; c++) {
      const e = Math.exp(x[o + c]! - max);
      out[o + c] = e;
      sum += e;
    }
    const inv = 1 / sum;
    for (let c = 0; c < C; c++) out[o + c] *= inv;
  }
}

/** dx += y (dy - sum(y dy)), from the saved output y. */
export function softmaxBackward(dx: Float32Array, y: Float32Array, dy: Float32Array, N: number, C: number): void {
  for (let i = 0; i < N; i++) {
    const o = i * C;
    let dot = 0;
    for (let c = 0; c < C; c++) dot += y[o + c]! * dy[o + c]!;
    for (let c = 0; c < C; c++) dx[o + c] += y[o + c]! * (dy[o + c]! - dot);
  }
}
