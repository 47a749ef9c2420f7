/**
 * The ids of pieces already encoded, looked up by the piece's characters where they stand in the text. Ordinary
 * text repeats its words, so most pieces are found here and never merged again. A JavaScript Map would need
 * each piece cut out of the text as a new string first, and that copy and its garbage cost more than the rest of
 * encoding; this table hashes and compares the characters in place, and keeps every piece's characters and ids
 * in two growing typed arrays.
 */

/** The table starts over when it holds this many pieces, so encoding an endless variety cannot exhaust memory. */
const MAX_ENTRIES = 1 << 17;
/** Likewise for the characters kept (8 MB). */
const MAX_CHARS = 1 << 22;

export class PieceCache {
  /** Slot -> entry index + 1; 0 is an empty slot. Kept at most half full. */
  private slots = new Int32Array(1 << 12);
  private hashes = new Int32Array(1 << 11);
  private charStarts = new Int32Array(1 << 11);
  private charLengths = new Int32Array(1 << 11);
  private idStarts = new Int32Array(1 << 11);
  private idCounts = new Int32Array(1 << 11);
  private chars = new Uint16Array(1 << 14);
  private charsUsed = 0;
  /** Every entry's ids, one after the other; `idsOf` reads an entry's share of it. */
  ids = new Int32Array(1 << 14);
  private idsUsed = 0;
  private entries = 0;

  /** The hash of text[start, end), to pass to `find` and `add`. */
  static hash(text: string, start: number, end: number): number {
    let h = 0x811c9dc5 ^ (end - start);
    for (let i = start; i < end; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
    return h ^ (h >>> 16);
  }

  /** The entry holding text[start, end), or -1. */
  find(text: string, start: number, end: number, hash: number): number {
    const slots = this.slots;
    const mask = slots.length - 1;
    const length = end - start;
    for (let s = hash & mask; ; s = (s + 1) & mask) {
      const e = slots[s]! - 1;
      if (e < 0) return -1;
      if (this.hashes[e] !== hash || this.charLengths[e] !== length) continue;
      const chars = this.chars;
      let k = this.charStarts[e]!;
      let i = start;
      while (i < end && chars[k] === text.charCodeAt(i)) {
        i++;
        k++;
      }
      if (i === end) return e;
    }
  }

  /** Where entry `e`'s ids start in `ids`, and how many there are. */
  idStart(e: number): number {
    return this.idStarts[e]!;
  }

  idCount(e: number): number {
    return this.idCounts[e]!;
  }

  /** Keeps `ids[0, count)` as the encoding of text[start, end), which `find` did not hold. */
  add(text: string, start: number, end: number, hash: number, ids: Int32Array, count: number): void {
    const length = end - start;
    if (this.entries >= MAX_ENTRIES || this.charsUsed + length > MAX_CHARS) this.clear();
    if (this.entries + 1 > this.hashes.length) this.growEntries();
    if ((this.entries + 1) * 2 > this.slots.length) this.rehash(this.slots.length * 2);
    if (this.charsUsed + length > this.chars.length) this.chars = grown(this.chars, this.charsUsed + length);
    if (this.idsUsed + count > this.ids.length) this.ids = grown(this.ids, this.idsUsed + count);

    const e = this.entries++;
    this.hashes[e] = hash;
    this.charStarts[e] = this.charsUsed;
    this.charLengths[e] = length;
    this.idStarts[e] = this.idsUsed;
    this.idCounts[e] = count;
    for (let i = start; i < end; i++) this.chars[this.charsUsed++] = text.charCodeAt(i);
    this.ids.set(ids.subarray(0, count), this.idsUsed);
    this.idsUsed += count;
    this.place(e);
  }

  clear(): void {
    this.slots.fill(0);
    this.entries = 0;
    this.charsUsed = 0;
    this.idsUsed = 0;
  }

  private place(e: number): void {
    const mask = this.slots.length - 1;
    let s = this.hashes[e]! & mask;
    while (this.slots[s] !== 0) s = (s + 1) & mask;
    this.slots[s] = e + 1;
  }

  private rehash(capacity: number): void {
    this.slots = new Int32Array(capacity);
    for (let e = 0; e < this.entries; e++) this.place(e);
  }

  private growEntries(): void {
    const n = this.hashes.length * 2;
    this.hashes = grown(this.hashes, n);
    this.charStarts = grown(this.charStarts, n);
    this.charLengths = grown(this.charLengths, n);
    this.idStarts = grown(this.idStarts, n);
    this.idCounts = grown(this.idCounts, n);
  }
}

/** A copy of `a` at least `need` long (doubling, so that growing costs O(1) per element over time). */
function grown<T extends Int32Array | Uint16Array>(a: T, need: number): T {
  let n = a.length * 2;
  while (n < need) n *= 2;
  const b = new (a.constructor as new (n: number) => T)(n);
  b.set(a);
  return b;
}
