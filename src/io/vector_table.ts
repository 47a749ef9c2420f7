/** A table of vectors as the readers of vector files (.npy, JSONL, safetensors) return it. */
export interface VectorTable {
  rows: number;
  width: number;
  /** [rows, width], row-major. */
  data: Float32Array;
}
