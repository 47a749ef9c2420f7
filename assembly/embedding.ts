/** The embedding lookup and its backward; the twins of src/engine/kernels/embedding.ts. */
import { accN } from './simd';

export function embeddingForward(out: usize, weight: usize, idx: usize, N: i32, C: i32): void {
  const rb = (<usize>C) << 2;
  for (let n = 0; n < N; n++) {
    const id = load<i32>(idx + ((<usize>n) << 2));
    memory.copy(out + (<usize>n) * rb, weight + (<usize>id) * rb, rb);
  }
}

export function embeddingBackward(dweight: usize, dout: usize, idx: usize, N: i32, C: i32): void {
  const rb = (<usize>C) << 2;
  for (let n = 0; n < N; n++) {
    const id = load<i32>(idx + ((<usize>n) << 2));
    accN(dweight + (<usize>id) * rb, dout + (<usize>n) * rb, C);
  }
}
