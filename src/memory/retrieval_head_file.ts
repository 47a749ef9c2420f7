/**
 * A trained retrieval head as a safetensors file another system can apply without tsgpt:
 *
 *   W_q          F32 [r, d]
 *   W_k          F32 [r, d]
 *   temperature  F32 [1]
 *   score(q, k) = (W_q q) . (W_k k) / (sqrt(r) * temperature)
 *
 * with string metadata: the format tag and version, the formula, the widths, where the vectors came from and
 * how they were prepared, the training settings, and the held-out metrics before and after. Reading one back
 * checks it as hostile input (one clear error). Browser-safe.
 */
import { Rng } from '../engine/random.js';
import { TsgptError } from '../errors.js';
import { decodeSafetensors, encodeSafetensors } from '../io/safetensors.js';
import { RetrievalHead } from './retrieval_head.js';

export const HEAD_FORMAT = 'tsgpt-retrieval-head';
export const HEAD_FORMAT_VERSION = '1';
export const HEAD_SCORE = '(W_q q) . (W_k k) / (sqrt(r) * temperature)';

/** The file's tensors and the metadata tsgpt writes first; `extra` adds the caller's (source, metrics, ...). */
export function encodeRetrievalHead(head: RetrievalHead, extra: Record<string, string> = {}): Uint8Array {
  const { rank: r, width: d } = head;
  return encodeSafetensors(
    [
      { name: 'W_q', dtype: 'F32', shape: [r, d], data: Float32Array.from(head.query.weight.data) },
      { name: 'W_k', dtype: 'F32', shape: [r, d], data: Float32Array.from(head.key.weight.data) },
      { name: 'temperature', dtype: 'F32', shape: [1], data: Float32Array.of(head.temperature) },
    ],
    {
      format: HEAD_FORMAT,
      version: HEAD_FORMAT_VERSION,
      score: HEAD_SCORE,
      width: String(d),
      rank: String(r),
      temperature_learned: String(head.learnsTemperature),
      ...extra,
    },
  );
}

export interface RetrievalHeadFile {
  head: RetrievalHead;
  metadata: Record<string, string>;
}

/** A head file's head (its temperature fixed, for scoring) and metadata. */
export function decodeRetrievalHead(bytes: Uint8Array, label: string): RetrievalHeadFile {
  const { metadata, tensors } = decodeSafetensors(bytes, label);
  if (metadata.format !== HEAD_FORMAT) throw new TsgptError(`${label}: not a tsgpt retrieval head (its format is not "${HEAD_FORMAT}")`);
  if (metadata.version !== HEAD_FORMAT_VERSION) {
    throw new TsgptError(
      `${label}: retrieval head version ${JSON.stringify(metadata.version ?? null)} is not supported (this tsgpt reads ${HEAD_FORMAT_VERSION})`,
    );
  }
  const wq = tensors.get('W_q'),
    wk = tensors.get('W_k'),
    t = tensors.get('temperature');
  if (wq === undefined || wk === undefined || t === undefined)
    throw new TsgptError(`${label}: a retrieval head needs W_q, W_k and temperature`);
  if (wq.dtype !== 'F32' || wq.shape.length !== 2 || wq.shape[0]! < 1 || wq.shape[1]! < wq.shape[0]!) {
    throw new TsgptError(`${label}: W_q is ${wq.dtype} [${wq.shape.join(', ')}], not F32 [r, d] with 1 <= r <= d`);
  }
  const [r, d] = wq.shape as [number, number];
  if (wk.dtype !== 'F32' || wk.shape.length !== 2 || wk.shape[0] !== r || wk.shape[1] !== d) {
    throw new TsgptError(`${label}: W_k is ${wk.dtype} [${wk.shape.join(', ')}], not F32 [${r}, ${d}] as W_q`);
  }
  const temperature = t.data[0];
  if (t.dtype !== 'F32' || t.data.length !== 1 || !(temperature! > 0 && Number.isFinite(temperature))) {
    throw new TsgptError(`${label}: temperature must be one positive F32 number`);
  }
  for (const [name, w] of [
    ['W_q', wq],
    ['W_k', wk],
  ] as const) {
    if (!w.data.every(Number.isFinite)) throw new TsgptError(`${label}: ${name} holds values that are not finite`);
  }
  const weights = { query: wq.data as Float32Array, key: wk.data as Float32Array };
  const head = new RetrievalHead(d, new Rng(0), { rank: r, temperature: temperature!, learnTemperature: false, weights });
  return { head, metadata };
}
