/**
 * Which token two adjacent tokens merge into: a hash table from a pair of ids to the merged id, with open
 * addressing over one typed array. Looking a pair up is the innermost step of byte-pair encoding, and a
 * JavaScript Map would need the pair packed into one key past the small-integer range (boxed numbers) or into a
 * string. A slot's three numbers (left, right, merged) sit side by side, so a probe touches one cache line.
 */
export const NO_MERGE = -1;

/** Numbers per slot: left id (-1 when empty), right id, merged id. */
const SLOT = 3;

export class PairTable {
  private slots: Int32Array;
  private mask: number;
  private count = 0;

  constructor(expected = 1024) {
    let capacity = 16;
    while (capacity < expected * 2) capacity *= 2;
    this.slots = new Int32Array(capacity * SLOT).fill(-1);
    this.mask = capacity - 1;
  }

  get size(): number {
    return this.count;
  }

  /** The id `left` and `right` merge into, or NO_MERGE. */
  get(left: number, right: number): number {
    const slots = this.slots;
    const mask = this.mask;
    for (let s = hash(left, right) & mask; ; s = (s + 1) & mask) {
      const at = s * SLOT;
      const l = slots[at]!;
      if (l === left && slots[at + 1] === right) return slots[at + 2]!;
      if (l === -1) return NO_MERGE;
    }
  }

  /** Records the merge; returns false (and changes nothing) if the pair already has one. */
  add(left: number, right: number, into: number): boolean {
    if ((this.count + 1) * 2 > this.mask + 1) this.grow();
    const slots = this.slots;
    const mask = this.mask;
    for (let s = hash(left, right) & mask; ; s = (s + 1) & mask) {
      const at = s * SLOT;
      const l = slots[at]!;
      if (l === left && slots[at + 1] === right) return false;
      if (l === -1) {
        slots[at] = left;
        slots[at + 1] = right;
        slots[at + 2] = into;
        this.count++;
        return true;
      }
    }
  }

  private grow(): void {
    const old = this.slots;
    this.slots = new Int32Array(old.length * 2).fill(-1);
    this.mask = this.mask * 2 + 1;
    this.count = 0;
    for (let at = 0; at < old.length; at += SLOT) if (old[at] !== -1) this.add(old[at]!, old[at + 1]!, old[at + 2]!);
  }
}

/** Ids are non-negative and below 2^21: the pair is mixed into one word and scrambled (MurmurHash3's finaliser). */
function hash(left: number, right: number): number {
  let h = Math.imul(left, 0x9e3779b1) + right;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return h ^ (h >>> 16);
}
