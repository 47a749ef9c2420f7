import { gradToWrite, needsGrad, record } from '../autograd.js';
import { kernels } from '../backend.js';
import { Tensor } from '../tensor.js';
import { RMS_NORM_EPS } from './rms_norm.js';

/** The angles of rotary position embeddings for positions 0 .. T - 1 and up: cos and sin [positions, headSize / 2]. */
export interface RotaryAngles {
  cos: Tensor;
  sin: Tensor;
  /** The base they were made with: rotaryAngleRow(t, headSize, base, ...) gives row t of these tables, and rows past them. */
  base: number;
}

/** RoFormer's base: theta_i = ROTARY_BASE^(-2i / headSize). */
export const ROTARY_BASE = 10000;

/**
 * The angle tables for `positions` positions of heads of `headSize` floats: row t, column i holds cos and sin of
 * t theta_i, theta_i = base^(-2i / headSize), each computed in float64 and rounded once to float32 (so the
 * tables do not depend on how many positions are asked for: row t is the same in every table).
 */
export function rotaryAngles(positions: number, headSize: number, base = ROTARY_BASE): RotaryAngles {
  if (!Number.isInteger(positions) || positions < 1)
    throw new RangeError(`rotaryAngles: positions must be a positive integer, got ${positions}`);
  if (!Number.isInteger(headSize) || headSize < 2 || headSize % 2 !== 0) {
    throw new RangeError(`rotaryAngles: rotary embeddings need an even head size, got ${headSize}`);
  }
  const h = headSize / 2;
  const cos = new Tensor([positions, h]),
    sin = new Tensor([positions, h]);
  for (let t = 0; t < positions; t++) rotaryAngleRow(t, headSize, base, cos.data, sin.data, t * h);
  return { cos, sin, base };
}

/**
 * Row t of rotaryAngles' tables (headSize / 2 cos and sin, written at `at`), by the same arithmetic, so row t
 * is the same bits whether it comes from a table or from here: a decoder that rolls past the block size
 * computes the angles of later positions with it. t theta_i is one float64 product, off by at most t theta_i
 * 2^-53, which stays far below float32's resolution of the cos and sin for any t below 2^24.
 */
export function rotaryAngleRow(t: number, headSize: number, base: number, cos: Float32Array, sin: Float32Array, at = 0): void {
  const h = headSize / 2;
  for (let i = 0; i < h; i++) {
    const angle = t * base ** ((-2 * i) / headSize);
    cos[at + i] = Math.cos(angle);
    sin[at + i] = Math.sin(angle);
  }
}

export interface QKTransform {
  /** QK-norm: each head's query and key divided by its RMS (no gain), as modded-nanogpt's F.rms_norm(q), F.rms_norm(k). */
  norm: boolean;
  /** Rotary position embeddings: each head's query and key turned by its position's angles (rows 0 .. T - 1 of these). */
  rotary: RotaryAngles | null;
}

/**
 * A fused projection's qkv [B, T, 3C] with its queries and keys made ready to score: normalised per head
 * (QK-norm), then rotated by their positions (rotary embeddings); either or both. Returns a new [B, T, 3C]
 * whose values are qkv's, so attentionQKV reads it as it reads a projection's output. The norm keeps each
 * vector's length at sqrt(hs) whatever the rotation, so the order of the two does not matter in exact
 * arithmetic; this is modded-nanogpt's (norm first).
 */
export function transformQK(qkv: Tensor, nHead: number, t: QKTransform): Tensor {
  if (qkv.shape.length !== 3 || qkv.shape[2]! % 3 !== 0) throw new RangeError(`transformQK: qkv [${qkv.shape}] must be [B, T, 3C]`);
  const [B, T, C3] = qkv.shape as [number, number, number];
  const C = C3 / 3,
    hs = C / nHead;
  if (!Number.isInteger(hs) || (t.rotary !== null && hs % 2 !== 0)) {
    throw new RangeError(`transformQK: width ${C} over ${nHead} heads gives heads of ${hs}; rotary embeddings need an even head size`);
  }
  if (t.rotary !== null && t.rotary.cos.shape[0]! < T)
    throw new RangeError(`transformQK: rotary angles for ${t.rotary.cos.shape[0]} positions, not ${T}`);
  const rows = B * T;
  const out = new Tensor(qkv.shape);
  const rstd = t.norm ? new Tensor([rows * 2 * nHead]) : null;
  const k = kernels();
  // Queries and keys side by side in each row are 2 nh groups of hs floats; the values pass through.
  if (rstd !== null) k.rmsnormForward(out.data, rstd.data, qkv.data, rows, 2 * nHead, hs, C3, RMS_NORM_EPS);
  else k.copyStrided(out.data, C3, qkv.data, C3, rows, 2 * C, false);
  if (t.rotary !== null) k.rotary(out.data, out.data, t.rotary.cos.data, t.rotary.sin.data, B, T, 2 * nHead, hs, C3, false);
  k.copyStrided(out.data.subarray(2 * C), C3, qkv.data.subarray(2 * C), C3, rows, C, false);
  if (needsGrad(qkv)) {
    record('transformQK', out, [qkv], () => {
      const dqkv = gradToWrite(qkv)!;
      const accumulate = !dqkv.overwrite;
      const dout = out.grad!.data;
      k.copyStrided(dqkv.data.subarray(2 * C), C3, dout.subarray(2 * C), C3, rows, C, accumulate);
      // The rotation's backward is the inverse rotation, done in place: this gradient is read by no one else.
      if (t.rotary !== null) k.rotary(dout, dout, t.rotary.cos.data, t.rotary.sin.data, B, T, 2 * nHead, hs, C3, true);
      if (rstd !== null) k.rmsnormBackward(dqkv.data, dout, qkv.data, rstd.data, rows, 2 * nHead, hs, C3, accumulate);
      else k.copyStrided(dqkv.data, C3, dout, C3, rows, 2 * C, accumulate);
      rstd?.dispose();
    });
  }
  return out;
}
