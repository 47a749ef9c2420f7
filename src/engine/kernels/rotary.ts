/**
 * Rotary position embeddings (RoFormer, Su et al. 2021): each head's vector of `size` floats is cut into pairs,
 * and pair i of the vector at position t is turned by the angle t theta_i, theta_i = base^(-2i / size). A query
 * at t and a key at s then score q . k through their rotations, which depend on t - s only: attention sees
 * relative positions. The pairs are (i, i + size/2), the halves GPT-NeoX and modded-nanogpt pair, so each half
 * is a contiguous run of floats:
 *   out[i] = x[i] cos - x[i + h] sin,   out[i + h] = x[i] sin + x[i + h] cos        (h = size / 2)
 * cos and sin are tables [T, h] for the positions of the T rows of each of B sequences (rows `ld` floats apart,
 * `groups` heads side by side in each, from the first float of the row); `inverse` turns by -t theta_i instead,
 * which is the transpose of the rotation and so its backward. out may be x.
 */
export function rotary(
  out: Float32Array,
  x: Float32Array,
  cos: Float32Array,
  sin: Float32Array,
  B: number,
  T: number,
  groups: number,
  size: number,
  ld: number,
  inverse: boolean,
): void {
  const h = size >> 1;
  const sign = inverse ? -1 : 1;
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const row = (b * T + t) * ld;
      for (let g = 0; g < groups; g++) {
        const o = row + g * size;
        for (let i = 0; i < h; i++) {
          const c = cos[t * h + i]!,
            s = sign * sin[t * h + i]!;
          const x1 = x[o + i]!,
            x2 = x[o + h + i]!;
          out[o + i] = x1 * c - x2 * s;
          out[o + h + i] = x1 * s + x2 * c;
        }
      }
    }
  }
}
