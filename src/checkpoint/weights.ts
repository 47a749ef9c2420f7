/**
 * A model's weights to and from safetensors bytes, under their state-dict names. Pure: no files here, so a
 * browser can save and load models too. Loading checks that the file holds exactly the model's parameters,
 * with the model's shapes: a checkpoint of another model is refused by name, not loaded half-way.
 */
import { TsgptError } from '../errors.js';
import { quote } from '../validate.js';
import { decodeSafetensors, encodeSafetensors, type NamedTensor, type SafetensorsTensor } from '../io/safetensors.js';
import type { Module } from '../nn/module.js';

export function encodeWeights(model: Module, metadata: Record<string, string> = {}): Uint8Array {
  const tensors: NamedTensor[] = model.namedParameters().map(([name, t]) => ({
    name,
    dtype: 'F32',
    shape: [...t.shape],
    data: t.data,
  }));
  return encodeSafetensors(tensors, { format: 'pt', ...metadata });
}

/** Copies every parameter's values from safetensors bytes into the model, after checking them all. */
export function loadWeights(model: Module, bytes: Uint8Array, label: string): Record<string, string> {
  const { metadata, tensors } = decodeSafetensors(bytes, label);
  const params = model.namedParameters();
  const checked = checkTensors(
    tensors,
    params.map(([name, t]) => [name, t.shape]),
    label,
    'parameter(s) of the model',
  );
  params.forEach(([, t], i) => t.data.set(checked[i]!));
  return metadata;
}

/**
 * Checks that `tensors` holds exactly the `expected` names, each F32 with the expected shape and only finite
 * values, and returns their data in the order of `expected`. Nothing a training run writes is NaN or infinite
 * (the trainer stops first), so such a value means a damaged or doctored file, refused before it can turn
 * every later computation into NaN. `what` names the expected set in the message about missing names.
 */
export function checkTensors(
  tensors: Map<string, SafetensorsTensor>,
  expected: readonly (readonly [string, readonly number[]])[],
  label: string,
  what: string,
): Float32Array[] {
  const names = new Set(expected.map(([name]) => name));
  const missing = expected.filter(([name]) => !tensors.has(name)).map(([name]) => name);
  if (missing.length > 0) throw new TsgptError(`${label}: missing ${missing.length} ${what}: ${listNames(missing)}`);
  const extra = [...tensors.keys()].filter((name) => !names.has(name));
  if (extra.length > 0) throw new TsgptError(`${label}: tensors the model does not have: ${listNames(extra)}`);
  return expected.map(([name, shape]) => {
    const stored = tensors.get(name)!;
    if (stored.dtype !== 'F32') throw new TsgptError(`${label}: ${name} is ${stored.dtype}, expected F32`);
    if (stored.shape.length !== shape.length || stored.shape.some((d, i) => d !== shape[i])) {
      throw new TsgptError(`${label}: ${name} has shape [${stored.shape}], the model expects [${shape}]`);
    }
    const data = stored.data as Float32Array;
    const bad = firstNonFiniteIndex(data);
    if (bad >= 0) throw new TsgptError(`${label}: ${name} holds ${data[bad]} at index ${bad}; weights must be finite numbers`);
    return data;
  });
}

/** The index of the first NaN or infinity in `data`, or -1 when every value is finite. */
export function firstNonFiniteIndex(data: ArrayLike<number>): number {
  for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i]!)) return i;
  return -1;
}

/** The first tensor holding a NaN or an infinity, where and what it holds; null when all are finite. */
export function firstNonFiniteTensor(
  tensors: Iterable<readonly [string, ArrayLike<number>]>,
): { name: string; index: number; value: number } | null {
  for (const [name, data] of tensors) {
    const index = firstNonFiniteIndex(data);
    if (index >= 0) return { name, index, value: data[index]! };
  }
  return null;
}

function listNames(names: string[]): string {
  const shown = names.slice(0, 4).map((n) => (/^[\w.]+$/.test(n) ? n : quote(n)));
  return names.length <= 4 ? shown.join(', ') : `${shown.join(', ')} and ${names.length - 4} more`;
}
