/**
 * The optimizers' state to and from safetensors bytes (a snapshot's optimizer.safetensors), F32, each tensor the
 * shape of its parameter:
 *   m.<name>, v.<name>   AdamW's first and second moments, for every parameter AdamW updates;
 *   muon.<name>          Muon's momentum buffer, for every parameter Muon updates (runs with --optimizer muon).
 * A parameter has either AdamW's two or Muon's one. The header's format says which optimizers the file is for:
 * "tsgpt-adamw" (every run before Muon, byte for byte as they were written) or "tsgpt-adamw-muon". Pure (no
 * files), like weights.ts. Resuming needs them exactly: restarting the moments from zero would give a different
 * (and, for a while, jumpier) run.
 */
import { TsgptError } from '../errors.js';
import { decodeSafetensors, encodeSafetensors, type NamedTensor } from '../io/safetensors.js';
import type { AdamW } from '../train/adamw.js';
import type { Muon } from '../train/muon.js';
import { checkTensors } from './weights.js';

/** The prefix of Muon's momentum buffers' names. */
export const MUON_PREFIX = 'muon.';

export function encodeOptimizer(optimizer: AdamW, muon: Muon | null = null): Uint8Array {
  const tensors: NamedTensor[] = [];
  for (const s of optimizer.states) {
    tensors.push({ name: `m.${s.name}`, dtype: 'F32', shape: [...s.m.shape], data: s.m.data });
    tensors.push({ name: `v.${s.name}`, dtype: 'F32', shape: [...s.v.shape], data: s.v.data });
  }
  for (const s of muon?.states ?? []) {
    tensors.push({ name: `${MUON_PREFIX}${s.name}`, dtype: 'F32', shape: [...s.buf.shape], data: s.buf.data });
  }
  return encodeSafetensors(tensors, { format: muon === null ? 'tsgpt-adamw' : 'tsgpt-adamw-muon' });
}

/**
 * Copies the moments (and Muon's buffers) into the optimizers after checking every name, shape and value. A file
 * written for the other choice of optimizer is refused in one line that says so.
 */
export function loadOptimizer(optimizer: AdamW, bytes: Uint8Array, label: string, muon: Muon | null = null): void {
  const { tensors } = decodeSafetensors(bytes, label);
  const hasMuon = [...tensors.keys()].some((name) => name.startsWith(MUON_PREFIX));
  if (muon !== null && !hasMuon) {
    throw new TsgptError(`${label} holds no Muon momentum buffers (${MUON_PREFIX}<name>), but the run's optimizer is muon`);
  }
  if (muon === null && hasMuon) {
    throw new TsgptError(`${label} holds Muon momentum buffers (${MUON_PREFIX}<name>), but the run's optimizer is adamw`);
  }
  const expected: [string, number[]][] = [];
  for (const s of optimizer.states) expected.push([`m.${s.name}`, [...s.m.shape]], [`v.${s.name}`, [...s.v.shape]]);
  for (const s of muon?.states ?? []) expected.push([`${MUON_PREFIX}${s.name}`, [...s.buf.shape]]);
  const data = checkTensors(tensors, expected, label, 'optimizer state tensor(s)');
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
  const offset = 2 * optimizer.states.length;
  muon?.states.forEach((s, i) => s.buf.data.set(data[offset + i]!));
}
