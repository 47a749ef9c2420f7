/**
 * A passage's vector from a tsgpt model: the model reads the passage (its last blockSize tokens, cropped as
 * sampling crops a context) and the vector is its hidden state at the last position, at the point asked for
 * (by default the last block's feed-forward input, kNN-LM's key). Passages whose windows are of one length go
 * through the decoder together, a batch at a time; a passage's state is the same bits whatever it is read with. Browser-safe.
 */
import type { HiddenPoint } from '../models/decoder.js';
import type { LanguageModel } from '../models/language_model.js';
import type { Tokenizer } from '../tokenizers/tokenizer.js';
import type { VectorTable } from '../io/vector_table.js';

/** Windows read together: enough to keep the kernels' rows busy, few enough that short groups waste little. */
const BATCH = 16;

export function passageStates(
  model: LanguageModel,
  tokenizer: Tokenizer,
  passages: readonly string[],
  point: HiddenPoint,
  onProgress?: (done: number, total: number) => void,
): VectorTable {
  if (passages.length === 0) throw new RangeError('passageStates: no passages');
  const windows = passages.map((p, i) => {
    const ids = tokenizer.encode(p, { label: `passage ${i}` });
    if (ids.length === 0) throw new RangeError(`passageStates: passage ${i} is empty`);
    return ids.subarray(Math.max(0, ids.length - model.blockSize));
  });
  const byLength = new Map<number, number[]>();
  windows.forEach((w, i) => {
    const group = byLength.get(w.length);
    if (group === undefined) byLength.set(w.length, [i]);
    else group.push(i);
  });
  // One decoder for every group: a group's last batch is filled up with copies of its first window, whose
  // states are computed and dropped (a decoder per batch size would copy the weights once per size).
  const batch = Math.min(BATCH, passages.length);
  const decoder = model.decoder(batch, { hidden: point, cache: false });
  const width = decoder.hiddenSize;
  const data = new Float32Array(passages.length * width);
  let done = 0;
  try {
    for (const length of [...byLength.keys()].sort((a, b) => a - b)) {
      const group = byLength.get(length)!;
      for (let start = 0; start < group.length; start += batch) {
        const members = group.slice(start, start + batch);
        decoder.step(Array.from({ length: batch }, (_, b) => windows[members[b] ?? members[0]!]!));
        const hidden = decoder.hidden();
        members.forEach((i, b) => data.set(hidden.subarray(b * width, (b + 1) * width), i * width));
        done += members.length;
        onProgress?.(done, passages.length);
      }
    }
  } finally {
    decoder.dispose();
  }
  return { rows: passages.length, width, data };
}
