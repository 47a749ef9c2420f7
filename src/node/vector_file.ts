/**
 * Reading a file of vectors from disk (the Node edge of src/io/vector_file.ts): the format from the file's
 * extension, the size checked before a byte is read, one clear error per bad file.
 */
import { TsgptError } from '../errors.js';
import { decodeVectorFile, VECTOR_EXTENSIONS, vectorFormatOf } from '../io/vector_file.js';
import type { VectorTable } from '../io/vector_table.js';
import { readFileBounded } from './read_bounded.js';

/** 1 GiB: a quarter of a billion float32 values, more than the engine's 4 GB arena holds beside a copy. */
export const MAX_VECTOR_FILE_BYTES = 1 << 30;

/** `label` names the file in messages ("queries file q.npy"); `field` picks a safetensors tensor or JSON field. */
export function readVectorFile(path: string, label: string, field?: string): VectorTable {
  const format = vectorFormatOf(path);
  if (format === null) {
    throw new TsgptError(`${label}: tsgpt tells vector files by their extension, one of ${VECTOR_EXTENSIONS.join(', ')}`);
  }
  return decodeVectorFile(readFileBounded(path, MAX_VECTOR_FILE_BYTES, label), format, label, field);
}
