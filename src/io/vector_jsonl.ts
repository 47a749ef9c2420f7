/**
 * Vectors as JSON Lines, one vector a line, in either form (one form for the whole file):
 *
 *   [0.12, -0.5, 3]                                   a bare array of numbers
 *   {"id": "a", "embedding": [0.12, -0.5, 3]}         an object whose field holds the array
 *
 * The field is the one named (`field`), else "embedding", else "vector", whichever the first line has; every
 * line must have it; other fields are ignored. Every vector has the first one's width; numbers must be finite
 * once rounded to float32. Lines end with \n or \r\n; only the last may be empty (a final newline), since a
 * blank line in between would shift which row answers which. Each bad line is one error naming it.
 */
import { TsgptError } from '../errors.js';
import { describe, oneLine } from '../validate.js';
import type { VectorTable } from './vector_table.js';

/** The fields looked for when none is named, in this order. */
export const DEFAULT_VECTOR_FIELDS = ['embedding', 'vector'] as const;

export function decodeVectorJsonl(text: string, label: string, field?: string): VectorTable {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  if (lines.length === 0) throw new TsgptError(`${label} holds no vectors (it is empty)`);
  let width = -1;
  let chosen: string | null | undefined; // null: bare arrays; undefined: not known before the first line
  let data = new Float32Array(0);
  lines.forEach((raw, i) => {
    const where = `${label}: line ${i + 1}`;
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.trim() === '') throw new TsgptError(`${where} is empty; every line holds one vector`);
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch (e) {
      throw new TsgptError(`${where} is not valid JSON (${oneLine((e as Error).message)})`);
    }
    if (chosen === undefined) chosen = fieldOf(json, field, where);
    let vector: unknown = json;
    if (chosen !== null) {
      if (typeof json !== 'object' || json === null || Array.isArray(json)) {
        throw new TsgptError(`${where} is ${describe(json)}, not an object with a ${JSON.stringify(chosen)} field like the first line`);
      }
      if (!Object.hasOwn(json, chosen)) throw new TsgptError(`${where} has no ${JSON.stringify(chosen)} field`);
      vector = (json as Record<string, unknown>)[chosen];
    } else if (!Array.isArray(json)) {
      throw new TsgptError(`${where} is ${describe(json)}, not an array of numbers like the first line`);
    }
    if (!Array.isArray(vector)) throw new TsgptError(`${where}: the vector is ${describe(vector)}, not an array of numbers`);
    if (width < 0) {
      if (vector.length === 0) throw new TsgptError(`${where}: the vector is empty`);
      width = vector.length;
      data = new Float32Array(lines.length * width);
    } else if (vector.length !== width) {
      throw new TsgptError(`${where}: a vector of width ${vector.length}, but line 1's has width ${width}`);
    }
    for (let j = 0; j < width; j++) {
      const v: unknown = vector[j];
      const f = typeof v === 'number' ? Math.fround(v) : NaN;
      if (!Number.isFinite(f)) throw new TsgptError(`${where}: value ${j} is ${describe(v)}, not a finite float32 number`);
      data[i * width + j] = f;
    }
  });
  return { rows: lines.length, width, data };
}

/** Which field the file's vectors are in, from its first line; null for bare arrays. */
function fieldOf(json: unknown, field: string | undefined, where: string): string | null {
  if (Array.isArray(json)) {
    if (field !== undefined) throw new TsgptError(`${where} is a bare array, but the field ${JSON.stringify(field)} was asked for`);
    return null;
  }
  if (typeof json !== 'object' || json === null) {
    throw new TsgptError(`${where} is ${describe(json)}, not an array of numbers or an object holding one`);
  }
  const candidates = field !== undefined ? [field] : DEFAULT_VECTOR_FIELDS;
  const found = candidates.find((f) => Object.hasOwn(json, f));
  if (found === undefined) throw new TsgptError(`${where} has no ${candidates.map((f) => JSON.stringify(f)).join(' or ')} field`);
  return found;
}
