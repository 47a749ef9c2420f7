/**
 * A small seeded generator (xoshiro128**): fast, good enough for initialisation, dropout and batch sampling,
 * and its whole state is four 32-bit words, so a run can save it and resume bit for bit.
 */
export class Rng {
  private readonly s = new Uint32Array(4);
  /** Box-Muller makes normals in pairs; the second is kept for the next call. */
  private spareNormal: number | null = null;

  constructor(seed: number) {
    this.seed(seed);
  }

  seed(seed: number): void {
    // SplitMix32 spreads any seed, including 0, over the state: xoshiro must not start from all zeros.
    let x = seed >>> 0;
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      this.s[i] = (z ^ (z >>> 16)) >>> 0;
    }
    this.spareNormal = null;
  }

  /** A uniform 32-bit unsigned integer. */
  nextU32(): number {
    return xoshiroNext(this.s);
  }

  /**
   * The live state words, for a kernel that draws many numbers in a row (a dropout mask) and leaves the
   * state where nextU32 would have left it.
   */
  stateWords(): Uint32Array {
    return this.s;
  }

  /** Uniform in [0, 1) with 32 random bits. */
  uniform(): number {
    return this.nextU32() / 4294967296;
  }

  /** Uniform integer in [0, n), unbiased (rejection sampling). */
  int(n: number): number {
    if (!(n > 0 && n <= 4294967296)) throw new RangeError(`Rng.int needs 0 < n <= 2^32, got ${n}`);
    const limit = 4294967296 - (4294967296 % n);
    let x: number;
    do x = this.nextU32();
    while (x >= limit);
    return x % n;
  }

  /** Standard normal (Box-Muller). */
  normal(): number {
    if (this.spareNormal !== null) {
      const z = this.spareNormal;
      this.spareNormal = null;
      return z;
    }
    let u = 0;
    while (u === 0) u = this.uniform();
    const v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spareNormal = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** The generator's full state, to save with a checkpoint. */
  getState(): RngState {
    return { s: [...this.s], spareNormal: this.spareNormal };
  }

  setState(state: RngState): void {
    if (state.s.length !== 4) throw new RangeError('Rng state has 4 words');
    for (let i = 0; i < 4; i++) this.s[i] = state.s[i]! >>> 0;
    this.spareNormal = state.spareNormal;
  }
}

/** What a checkpoint stores to restore an Rng exactly (plain JSON). */
export interface RngState {
  s: number[];
  spareNormal: number | null;
}

/** One step of xoshiro128** on the state s (4 words): returns the next 32-bit output. */
export function xoshiroNext(s: Uint32Array): number {
  const result = Math.imul(rotl(Math.imul(s[1]!, 5), 7), 9) >>> 0;
  const t = s[1]! << 9;
  s[2]! ^= s[0]!;
  s[3]! ^= s[1]!;
  s[1]! ^= s[2]!;
  s[0]! ^= s[3]!;
  s[2]! ^= t;
  s[3] = rotl(s[3]!, 11);
  return result;
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
