/**
 * The exact-context half of the memory's retrieval: which stored positions were reached by the same recent
 * text as the query. A model's hidden state mostly reflects the last few tokens, so two places whose last
 * three characters agree can look alike to it even when their last thirty differ; to recall a fact stated
 * once ("The secret name is Zorblax"), the memory must also see how much of the recent text agrees exactly.
 *
 * Positions are sorted by their context read backwards (the token at the position, the one before it, and so
 * on, MAX_MATCH tokens deep), as a suffix array of the reversed text is. The query's context, read backwards,
 * then falls at one place in that order, and the positions whose contexts agree with it longest sit around
 * that place, agreement shrinking outwards: a binary search and a walk find them, however long the memory.
 */

/** How deep contexts are compared: agreement beyond this many tokens counts as this many. */
export const MAX_MATCH = 64;

/** The token `back` steps before position p of `tokens` (0: p itself), or -1 before the start. */
function before(tokens: Int32Array, p: number, back: number): number {
  return p >= back ? tokens[p - back]! : -1;
}

/** Orders positions p and q by their contexts read backwards, then by position. */
export function compareContexts(tokens: Int32Array, p: number, q: number): number {
  for (let i = 0; i < MAX_MATCH; i++) {
    const a = before(tokens, p, i),
      b = before(tokens, q, i);
    if (a !== b) return a - b;
    if (a === -1) break;
  }
  return p - q;
}

/** Positions 0 .. count - 1 of `tokens`, sorted by their contexts read backwards (see the top of the file). */
export function contextOrder(tokens: Int32Array, count: number): Int32Array {
  const order = Int32Array.from({ length: count }, (_, i) => i);
  return order.sort((p, q) => compareContexts(tokens, p, q));
}

/** How many tokens the context ending at position p of `tokens` shares with the end of `context` (at most MAX_MATCH). */
export function matchLength(tokens: Int32Array, p: number, context: ArrayLike<number>): number {
  const n = Math.min(MAX_MATCH, p + 1, context.length);
  let m = 0;
  while (m < n && tokens[p - m] === context[context.length - 1 - m]) m++;
  return m;
}

/** Orders the query's context (read backwards) against position p's: negative when the query sorts first. */
function compareQuery(tokens: Int32Array, context: ArrayLike<number>, p: number): number {
  for (let i = 0; i < MAX_MATCH; i++) {
    const a = i < context.length ? context[context.length - 1 - i]! : -1,
      b = before(tokens, p, i);
    if (a !== b) return a - b;
    if (a === -1) return -1;
  }
  return -1;
}

/**
 * The positions (at most `limit`) whose contexts agree with the end of `context` for at least `minLength`
 * tokens, with those lengths: longest agreement first, and among equal ones in the order the walk meets them.
 */
export function longestMatches(
  order: Int32Array,
  tokens: Int32Array,
  context: ArrayLike<number>,
  minLength: number,
  limit: number,
): { positions: number[]; lengths: number[] } {
  // The first place in the order whose context sorts after the query's.
  let lo = 0,
    hi = order.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareQuery(tokens, context, order[mid]!) > 0) lo = mid + 1;
    else hi = mid;
  }
  const positions: number[] = [],
    lengths: number[] = [];
  let left = lo - 1,
    right = lo;
  let leftLength = left >= 0 ? matchLength(tokens, order[left]!, context) : -1;
  let rightLength = right < order.length ? matchLength(tokens, order[right]!, context) : -1;
  while (positions.length < limit) {
    const takeLeft = leftLength > rightLength || (leftLength === rightLength && leftLength >= 0 && order[left]! < order[right]!);
    const length = takeLeft ? leftLength : rightLength;
    if (length < minLength) break;
    if (takeLeft) {
      positions.push(order[left]!);
      left--;
      leftLength = left >= 0 ? matchLength(tokens, order[left]!, context) : -1;
    } else {
      positions.push(order[right]!);
      right++;
      rightLength = right < order.length ? matchLength(tokens, order[right]!, context) : -1;
    }
    lengths.push(length);
  }
  return { positions, lengths };
}
