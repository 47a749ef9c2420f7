/**
 * Byte-pair merging of one piece: start from one token per byte, and while some adjacent pair has a merge, merge
 * the pair whose merged id is lowest (the earliest merge learnt), the leftmost one among equals. That rule is
 * both tiktoken's (a pair's rank is the id of the token its bytes make) and minbpe's (a pair's rank is the order
 * it was learnt in, and its id is 256 plus that order), so one procedure serves GPT-2 and trained tokenizers.
 *
 * A piece of n tokens needs up to n - 1 merges. For the short pieces of ordinary text, rescanning the pairs
 * after each merge is fastest; a long piece (a run of spaces, a line of symbols, a whole text under no split
 * pattern) would make that quadratic, so it goes through a heap of candidate pairs instead: O(n log n).
 */
import { NO_MERGE, type PairTable } from './pair_table.js';

/** At or below this many tokens, a piece is merged by rescanning; above it, by the heap. */
const SHORT_PIECE = 64;

/** Ranks are ids, below 2^21; a heap key packs the rank above the position (below 2^32): exact in a double. */
const POSITION_RANGE = 2 ** 32;

export class PieceMerger {
  private ranks = new Int32Array(SHORT_PIECE);
  private next = new Int32Array(0);
  private prev = new Int32Array(0);
  private heap = new Float64Array(0);

  constructor(private readonly table: PairTable) {}

  /** Merges the `n` ids at the start of `ids` in place; returns how many are left. */
  merge(ids: Int32Array, n: number): number {
    return n <= SHORT_PIECE ? this.mergeByRescanning(ids, n) : this.mergeByHeap(ids, n);
  }

  private mergeByRescanning(ids: Int32Array, n: number): number {
    const table = this.table;
    const ranks = this.ranks;
    const none = 0x7fffffff;
    for (let i = 0; i < n - 1; i++) {
      const r = table.get(ids[i]!, ids[i + 1]!);
      ranks[i] = r === NO_MERGE ? none : r;
    }
    let len = n;
    while (len > 1) {
      let best = none;
      let at = -1;
      for (let i = 0; i < len - 1; i++) {
        const r = ranks[i]!;
        if (r < best) {
          best = r;
          at = i;
        }
      }
      if (at < 0) break;
      ids[at] = best;
      len--;
      for (let k = at + 1; k < len; k++) ids[k] = ids[k + 1]!;
      for (let k = at; k < len - 1; k++) ranks[k] = ranks[k + 1]!;
      if (at < len - 1) {
        const r = table.get(best, ids[at + 1]!);
        ranks[at] = r === NO_MERGE ? none : r;
      }
      if (at > 0) {
        const r = table.get(ids[at - 1]!, best);
        ranks[at - 1] = r === NO_MERGE ? none : r;
      }
    }
    return len;
  }

  /**
   * The same merges in the same order: the parts form a linked list over their first byte's position, and every
   * pair that could merge sits in a min-heap keyed by (rank, position). A merge changes two neighbouring pairs;
   * their new forms are pushed, and the old entries are recognised as stale when they come out (the pair at that
   * position no longer merges into that rank) and dropped.
   */
  private mergeByHeap(ids: Int32Array, n: number): number {
    const table = this.table;
    if (this.next.length < n) {
      this.next = new Int32Array(n);
      this.prev = new Int32Array(n);
    }
    // Every pair is pushed once at the start, and each merge pushes at most two.
    if (this.heap.length < 3 * n) this.heap = new Float64Array(3 * n);
    const { next, prev, heap } = this;
    let size = 0;
    const push = (key: number): void => {
      let i = size++;
      while (i > 0) {
        const parent = (i - 1) >> 1;
        if (heap[parent]! <= key) break;
        heap[i] = heap[parent]!;
        i = parent;
      }
      heap[i] = key;
    };
    const pop = (): number => {
      const top = heap[0]!;
      const last = heap[--size]!;
      let i = 0;
      for (;;) {
        let child = 2 * i + 1;
        if (child >= size) break;
        if (child + 1 < size && heap[child + 1]! < heap[child]!) child++;
        if (heap[child]! >= last) break;
        heap[i] = heap[child]!;
        i = child;
      }
      heap[i] = last;
      return top;
    };

    for (let i = 0; i < n; i++) {
      next[i] = i + 1 < n ? i + 1 : -1;
      prev[i] = i - 1;
      if (i + 1 < n) {
        const r = table.get(ids[i]!, ids[i + 1]!);
        if (r !== NO_MERGE) push(r * POSITION_RANGE + i);
      }
    }
    while (size > 0) {
      const key = pop();
      const rank = Math.floor(key / POSITION_RANGE);
      const at = key - rank * POSITION_RANGE;
      const right = next[at]!;
      // A removed position has no successor (set below), so this also drops entries of merged-away parts.
      if (right < 0 || table.get(ids[at]!, ids[right]!) !== rank) continue;
      ids[at] = rank;
      const after = next[right]!;
      next[at] = after;
      next[right] = -1;
      if (after >= 0) {
        prev[after] = at;
        const r = table.get(rank, ids[after]!);
        if (r !== NO_MERGE) push(r * POSITION_RANGE + at);
      }
      const before = prev[at]!;
      if (before >= 0) {
        const r = table.get(ids[before]!, rank);
        if (r !== NO_MERGE) push(r * POSITION_RANGE + before);
      }
    }
    // Position 0 is never merged away (only right-hand parts are), so the list starts there.
    let len = 0;
    for (let i = 0; i >= 0; i = next[i]!) ids[len++] = ids[i]!;
    return len;
  }
}
