import { gradIfNeeded, needsGrad, record } from '../autograd.js';
import { Tensor } from '../tensor.js';
import { lastDim, leadingSize, sameShape } from './shapes.js';

/**
 * Splits the last dimension into pieces of the given widths (nanoGPT's qkv.split(n_embd, dim=2)).
 * Pure data movement: no kernel, nothing for a backend to speed up beyond a copy.
 */
export function split(x: Tensor, widths: readonly number[]): Tensor[] {
  const C = lastDim(x.shape),
    N = leadingSize(x.shape);
  if (widths.reduce((a, b) => a + b, 0) !== C) throw new RangeError(`split: widths ${widths} do not sum to ${C}`);
  const parts: Tensor[] = [];
  let offset = 0;
  for (const w of widths) {
    const part = new Tensor([...x.shape.slice(0, -1), w]);
    copyColumns(part.data, 0, w, x.data, offset, C, N, w, false);
    const start = offset;
    if (needsGrad(x)) {
      record('split', part, [x], () => copyColumns(gradIfNeeded(x)!, start, C, part.grad!.data, 0, w, N, w, true));
    }
    parts.push(part);
    offset += w;
  }
  return parts;
}

/** Joins tensors along the last dimension (the lecture's torch.cat of the heads' outputs). */
export function concat(xs: readonly Tensor[]): Tensor {
  if (xs.length === 0) throw new RangeError('concat: nothing to join');
  const lead = xs[0]!.shape.slice(0, -1),
    N = leadingSize(xs[0]!.shape);
  const widths = xs.map((x) => lastDim(x.shape));
  const C = widths.reduce((a, b) => a + b, 0);
  for (const x of xs) {
    if (!sameShape(x.shape.slice(0, -1), lead)) throw new RangeError(`concat: [${x.shape}] does not match [${xs[0]!.shape}]`);
  }
  const out = new Tensor([...lead, C]);
  let offset = 0;
  const offsets: number[] = [];
  for (let i = 0; i < xs.length; i++) {
    offsets.push(offset);
    copyColumns(out.data, offset, C, xs[i]!.data, 0, widths[i]!, N, widths[i]!, false);
    offset += widths[i]!;
  }
  if (needsGrad(...xs)) {
    record('concat', out, xs, () => {
      for (let i = 0; i < xs.length; i++) {
        const dx = gradIfNeeded(xs[i]!);
        if (dx !== null) copyColumns(dx, 0, widths[i]!, out.grad!.data, offsets[i]!, C, N, widths[i]!, true);
      }
    });
  }
  return out;
}

/** dst[r, dstCol + c] (+)= src[r, srcCol + c] for N rows and `width` columns, given each side's row length. */
function copyColumns(
  dst: Float32Array,
  dstCol: number,
  dstRow: number,
  src: Float32Array,
  srcCol: number,
  srcRow: number,
  N: number,
  width: number,
  accumulate: boolean,
): void {
  for (let r = 0; r < N; r++) {
    const d = r * dstRow + dstCol,
      s = r * srcRow + srcCol;
    if (accumulate) for (let c = 0; c < width; c++) dst[d + c] += src[s + c]!;
    else dst.set(src.subarray(s, s + width), d);
  }
}
