/** Rotary position embeddings; the twin of src/engine/kernels/rotary.ts (see there for the layout). */

export function rotary(
  out: usize, x: usize, cos: usize, sin: usize, B: i32, T: i32, groups: i32, size: i32, ld: i32, inverse: bool,
): void {
  const h = size >> 1;
  const hb = (<usize>h) << 2, nv = (<usize>(h & ~3)) << 2, gb = (<usize>size) << 2, rb = (<usize>ld) << 2;
  // The backward turns the other way: sin negated (flipping its sign bit is exact).
  const flip = inverse ? i32x4.splat(0x80000000) : i32x4.splat(0);
  const flipLane: u32 = inverse ? 0x80000000 : 0;
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const row = (<usize>(b * T + t)) * rb;
      const cp = cos + (<usize>t) * hb, sp = sin + (<usize>t) * hb;
      for (let g = 0; g < groups; g++) {
        const xp = x + row + (<usize>g) * gb, op = out + row + (<usize>g) * gb;
        let o: usize = 0;
        for (; o < nv; o += 16) {
          const c = v128.load(cp + o), s = v128.xor(v128.load(sp + o), flip);
          const x1 = v128.load(xp + o), x2 = v128.load(xp + hb + o);
          v128.store(op + o, f32x4.sub(f32x4.mul(x1, c), f32x4.mul(x2, s)));
          v128.store(op + hb + o, f32x4.add(f32x4.mul(x1, s), f32x4.mul(x2, c)));
        }
        for (; o < hb; o += 4) {
          const c = load<f32>(cp + o), s = reinterpret<f32>(reinterpret<u32>(load<f32>(sp + o)) ^ flipLane);
          const x1 = load<f32>(xp + o), x2 = load<f32>(xp + hb + o);
          store<f32>(op + o, x1 * c - x2 * s);
          store<f32>(op + hb + o, x1 * s + x2 * c);
        }
      }
    }
  }
}
