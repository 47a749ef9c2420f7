/**
 * A model's weights to and from safetensors bytes, under their state-dict names. Pure: no files here, so a
 * browser can save and load models too. Loading checks that the file holds exactly the model's parameters,
 * with the model's shapes: a checkpoint of another model is refused by name, not loaded half-way.
 */
import { TsgptError } from '../errors.js';
import { decodeSafetensors, encodeSafetensors, type NamedTensor } from '../io/safetensors.js';
import type { Module } from '../nn/module.js';

export function encodeWeights(model: Module, metadata: Record<string, string> = {}): Uint8Array {
  const tensors: NamedTensor[] = model.namedParameters().map(([name, t]) => ({
    name, dtype: 'F32', shape: [...t.shape], data: t.data,
  }));
  return encodeSafetensors(tensors, { format: 'pt', ...metadata });
}

/** Copies every parameter's values from safetensors bytes into the model, after checking them all. */
export function loadWeights(model: Module, bytes: Uint8Array, label: string): Record<string, string> {
  const { metadata, tensors } = decodeSafetensors(bytes, label);
  const params = model.namedParameters();
  const expected = new Set(params.map(([name]) => name));
  const missing = params.filter(([name]) => !tensors.has(name)).map(([name]) => name);
  if (missing.length > 0) {
    throw new TsgptError(`${label}: missing ${missing.length} parameter(s) of the model: ${listNames(missing)}`);
  }
  const extra = [...tensors.keys()].filter((name) => !expected.has(name));
  if (extra.length > 0) throw new TsgptError(`${label}: tensors the model does not have: ${listNames(extra)}`);
  for (const [name, t] of params) {
    const stored = tensors.get(name)!;
    if (stored.dtype !== 'F32') throw new TsgptError(`${label}: ${name} is ${stored.dtype}, expected F32`);
    if (stored.shape.length !== t.shape.length || stored.shape.some((d, i) => d !== t.shape[i])) {
      throw new TsgptError(`${label}: ${name} has shape [${stored.shape}], the model expects [${t.shape}]`);
    }
  }
  for (const [name, t] of params) t.data.set(tensors.get(name)!.data as Float32Array);
  return metadata;
}

function listNames(names: string[]): string {
  return names.length <= 4 ? names.join(', ') : `${names.slice(0, 4).join(', ')} and ${names.length - 4} more`;
}
