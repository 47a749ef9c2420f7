/**
 * A file of vectors, one a row, in any of three formats told apart by the file's extension:
 *   .npy                   NumPy, float32 or float64, 2-D, C order (see npy.ts)
 *   .jsonl, .ndjson        JSON Lines: a bare array a line, or an object with the vectors' field (see vector_jsonl.ts)
 *   .safetensors           one F32 tensor [rows, width]: the file's only tensor, or the one named
 * `field` names the tensor (safetensors) or the JSON field (JSONL). Bytes in, a table out, one clear error per
 * bad file: browser-safe (src/node/vector_file.ts reads the bytes from disk).
 */
import { TsgptError } from '../errors.js';
import { oneLine } from '../validate.js';
import { decodeNpy } from './npy.js';
import { decodeSafetensors } from './safetensors.js';
import { decodeVectorJsonl } from './vector_jsonl.js';
import type { VectorTable } from './vector_table.js';

export type VectorFormat = 'npy' | 'jsonl' | 'safetensors';

const EXTENSIONS: Record<string, VectorFormat> = { '.npy': 'npy', '.jsonl': 'jsonl', '.ndjson': 'jsonl', '.safetensors': 'safetensors' };

/** The format a file name's extension names, or null. */
export function vectorFormatOf(name: string): VectorFormat | null {
  const dot = name.lastIndexOf('.');
  return dot < 0 ? null : (EXTENSIONS[name.slice(dot).toLowerCase()] ?? null);
}

export const VECTOR_EXTENSIONS = Object.keys(EXTENSIONS);

export function decodeVectorFile(bytes: Uint8Array, format: VectorFormat, label: string, field?: string): VectorTable {
  switch (format) {
    case 'npy':
      if (field !== undefined) throw new TsgptError(`${label}: a .npy file holds one array; there is no field ${quoteName(field)} to pick`);
      return decodeNpy(bytes, label);
    case 'jsonl': {
      let text = '';
      try {
        text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
      } catch {
        throw new TsgptError(`${label} is not valid UTF-8 text`);
      }
      return decodeVectorJsonl(text, label, field);
    }
    case 'safetensors':
      return safetensorsVectors(bytes, label, field);
  }
}

function safetensorsVectors(bytes: Uint8Array, label: string, field: string | undefined): VectorTable {
  const { tensors } = decodeSafetensors(bytes, label);
  const names = [...tensors.keys()];
  let name = field;
  if (name === undefined) {
    if (names.length !== 1) {
      throw new TsgptError(
        names.length === 0
          ? `${label} holds no tensors`
          : `${label} holds ${names.length} tensors (${names.slice(0, 5).map(quoteName).join(', ')}${names.length > 5 ? ', …' : ''}); name the one with the vectors`,
      );
    }
    name = names[0]!;
  }
  const t = tensors.get(name);
  if (t === undefined) throw new TsgptError(`${label} has no tensor ${quoteName(name)}`);
  if (t.dtype !== 'F32') throw new TsgptError(`${label}: tensor ${quoteName(name)} is ${t.dtype}, not F32 vectors`);
  if (t.shape.length !== 2)
    throw new TsgptError(`${label}: tensor ${quoteName(name)} has shape [${t.shape.join(', ')}], not [rows, width]`);
  const [rows, width] = t.shape as [number, number];
  if (width === 0) throw new TsgptError(`${label}: tensor ${quoteName(name)} holds vectors of width 0`);
  const data = t.data as Float32Array;
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i]!)) throw new TsgptError(`${label}: row ${Math.floor(i / width)} of ${quoteName(name)} holds ${data[i]}`);
  }
  return { rows, width, data };
}

/** A name from a file or a flag, short and on one line, for a message. */
function quoteName(s: string): string {
  return oneLine(JSON.stringify(s.length > 60 ? `${s.slice(0, 60)}…` : s));
}
