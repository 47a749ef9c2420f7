/**
 * AdamW's moments to and from safetensors bytes: for each parameter "name", its first moment as "m.name" and
 * its second as "v.name", F32, the parameter's shape. Pure (no files), like weights.ts. Resuming needs them
 * exactly: restarting the moments from zero would give a different (and, for a while, jumpier) run.
 */
import { TsgptError } from '../errors.js';
import { decodeSafetensors, encodeSafetensors, type NamedTensor } from '../io/safetensors.js';
import type { AdamW } from '../train/adamw.js';
import { checkTensors } from './weights.js';

export function encodeOptimizer(optimizer: AdamW): Uint8Array {
  const tensors: NamedTensor[] = [];
  for (const s of optimizer.states) {
    tensors.push({ name: `m.${s.name}`, dtype: 'F32', shape: [...s.m.shape], data: s.m.data });
    tensors.push({ name: `v.${s.name}`, dtype: 'F32', shape: [...s.v.shape], data: s.v.data });
  }
  return encodeSafetensors(tensors, { format: 'tsgpt-adamw' });
}

/** Copies the moments into the optimizer after checking every name, shape and value. */
export function loadOptimizer(optimizer: AdamW, bytes: Uint8Array, label: string): void {
  const { tensors } = decodeSafetensors(bytes, label);
  const expected: [string, number[]][] = [];
  for (const s of optimizer.states) expected.push([`m.${s.name}`, [...s.m.shape]], [`v.${s.name}`, [...s.v.shape]]);
  const data = checkTensors(tensors, expected, label, 'optimizer moment(s)');
  optimizer.states.forEach((s, i) => {
    const v = data[2 * i + 1]!;
    // v is a running mean of squares: a negative value would make AdamW's square root NaN.
    const negative = v.findIndex((x) => x < 0);
    if (negative >= 0)
      throw new TsgptError(`${label}: v.${s.name} holds ${v[negative]} at index ${negative}; second moments cannot be negative`);
  });
  optimizer.states.forEach((s, i) => {
    s.m.data.set(data[2 * i]!);
    s.v.data.set(data[2 * i + 1]!);
  });
}
