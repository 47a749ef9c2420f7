import { gradIfNeeded, gradToWrite, handOverGrad, needsGrad, record } from '../autograd.js';
import { kernels } from '../backend.js';
import { Tensor } from '../tensor.js';
import { sameShape } from './shapes.js';

/**
 * a + b with broadcasting of a trailing shape: b's shape (leading 1s ignored) equal to a's or to a suffix of
 * it, such as token embeddings [B, T, C] plus position embeddings [T, C]. Backward sums b's gradient over the
 * repeats. The operands may come in either order.
 */
export function add(a: Tensor, b: Tensor): Tensor {
  // The output takes the larger operand's shape (and, between equal sizes, the one with more dimensions).
  if (b.size > a.size || (b.size === a.size && b.shape.length > a.shape.length)) [a, b] = [b, a];
  const bShape = stripLeadingOnes(b.shape);
  const aSuffix = a.shape.slice(a.shape.length - bShape.length);
  if (bShape.length > a.shape.length || !sameShape(aSuffix, bShape)) {
    throw new RangeError(`add: shapes [${a.shape}] and [${b.shape}] do not broadcast`);
  }
  const n = a.size,
    period = Math.max(b.size, 1);
  const out = new Tensor(a.shape);
  const k = kernels();
  if (n > 0 && period === n) k.add(out.data, a.data, b.data, n);
  else if (n > 0) k.addBroadcast(out.data, a.data, b.data, n, period);
  if (needsGrad(a, b)) {
    record('add', out, [a, b], () => {
      // A residual connection: out's gradient becomes a's as it is, and b's is a copy unless b has one already.
      if (period === n && handOverGrad(out, a)) {
        const db = gradToWrite(b),
          dout = a.grad!.data;
        if (db?.overwrite) k.copy(db.data, dout, n);
        else if (db !== null) k.add(db.data, db.data, dout, n);
        return;
      }
      const da = gradIfNeeded(a),
        db = gradIfNeeded(b),
        dout = out.grad!.data;
      if (period !== n) k.addBroadcastBackward(da, db, dout, n, period);
      else {
        if (da !== null) k.add(da, da, dout, n);
        if (db !== null) k.add(db, db, dout, n);
      }
    });
  }
  return out;
}

function stripLeadingOnes(shape: readonly number[]): readonly number[] {
  let i = 0;
  while (i < shape.length - 1 && shape[i] === 1) i++;
  return shape.slice(i);
}
