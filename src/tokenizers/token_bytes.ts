/**
 * Every token's bytes in one array: token i is pool[offsets[i], offsets[i + 1]). One allocation instead of one
 * small typed array per token (50,257 of them for GPT-2), which is what makes loading a vocabulary quick.
 */
export interface TokenBytes {
  readonly pool: Uint8Array;
  /** One more than there are tokens. */
  readonly offsets: Int32Array;
}

/**
 * The bytes of a byte-level BPE vocabulary: ids 0 to 255 are single bytes (`byteOfId` says which), merge i makes
 * token 256 + i out of the two ids merges[2i] and merges[2i + 1] (which must be below 256 + i), and the special
 * tokens follow, each standing for its UTF-8 text.
 */
export function tokenBytesFromMerges(byteOfId: readonly number[], merges: Int32Array, specials: ReadonlyMap<string, number>): TokenBytes {
  const ordinary = 256 + merges.length / 2;
  const count = ordinary + specials.size;
  const specialBytes = new Array<Uint8Array>(specials.size);
  const encoder = new TextEncoder();
  for (const [text, id] of specials) specialBytes[id - ordinary] = encoder.encode(text);

  const offsets = new Int32Array(count + 1);
  const length = (id: number) => offsets[id + 1]! - offsets[id]!;
  for (let id = 0; id < count; id++) {
    const n =
      id < 256
        ? 1
        : id < ordinary
          ? length(merges[2 * (id - 256)]!) + length(merges[2 * (id - 256) + 1]!)
          : specialBytes[id - ordinary]!.length;
    offsets[id + 1] = offsets[id]! + n;
  }
  const pool = new Uint8Array(offsets[count]!);
  for (let id = 0; id < 256; id++) pool[id] = byteOfId[id]!;
  for (let id = 256; id < ordinary; id++) {
    const left = merges[2 * (id - 256)]!;
    const right = merges[2 * (id - 256) + 1]!;
    const at = offsets[id]!;
    pool.copyWithin(at, offsets[left]!, offsets[left + 1]!);
    pool.copyWithin(at + length(left), offsets[right]!, offsets[right + 1]!);
  }
  specialBytes.forEach((bytes, k) => {
    pool.set(bytes, offsets[ordinary + k]!);
  });
  return { pool, offsets };
}
