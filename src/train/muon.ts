/**
 * Muon (Jordan et al. 2024; modded-nanogpt's train_gpt.py): SGD with momentum whose update, for a 2-D weight,
 * is replaced by the nearest semi-orthogonal matrix, found by five Newton-Schulz iterations. For each weight
 * W [rows, cols] with gradient G:
 *   buf = momentum buf + G;   U = G + momentum buf (Nesterov) or buf
 *   X = U / (||U||_F + 1e-7), transposed to [min, max] if rows > cols; five times:
 *     A = X X^T;   B = b A + c A A;   X = a X + B X        (a, b, c) = (3.4445, -4.7750, 2.0315)
 *   W -= lr sqrt(max(1, rows / cols)) X   (transposed back)
 * It is meant for the hidden matrices only (attention and MLP weights); embeddings, the head and gains stay
 * with AdamW, as in the speedrun. Every product runs on the matmul kernel and every combination on axpby; the
 * Frobenius norm is summed in float64 in a fixed order, so the numbers do not depend on the thread count.
 * Differences from the speedrun's: float32 throughout (it runs Newton-Schulz in bfloat16 on a GPU), and the
 * gradient may be scaled first (clipping), as AdamW's update takes it.
 */
import { kernels } from '../engine/backend.js';
import { matmulNN, matmulNT } from '../engine/matmul_layouts.js';
import { untracked, zeros, type Tensor } from '../engine/tensor.js';

export interface MuonConfig {
  momentum: number;
  nesterov: boolean;
  /** Newton-Schulz iterations (5 in the speedrun). */
  nsSteps: number;
}

/** The quintic iteration's coefficients, as modded-nanogpt's zeropower_via_newtonschulz5. */
const NS_A = 3.4445,
  NS_B = -4.775,
  NS_C = 2.0315;
const NORM_EPS = 1e-7;

interface MuonState {
  name: string;
  param: Tensor;
  rows: number;
  cols: number;
  buf: Tensor;
}

export class Muon {
  readonly states: MuonState[];
  step = 0;
  /** Scratch for the update U and X (both orientations), A, A A, B and B X, sized for the largest weight. */
  private readonly scratch: { u: Tensor; x: Tensor; a: Tensor; aa: Tensor; b: Tensor; bx: Tensor };

  constructor(
    namedParams: readonly [string, Tensor][],
    readonly config: MuonConfig,
  ) {
    for (const [name, p] of namedParams) {
      if (p.shape.length !== 2) throw new RangeError(`Muon: ${name} is [${p.shape}]; Muon takes 2-D weights only`);
    }
    const n = Math.max(1, ...namedParams.map(([, p]) => p.size));
    const r = Math.max(1, ...namedParams.map(([, p]) => Math.min(p.shape[0]!, p.shape[1]!)));
    this.states = untracked(() =>
      namedParams.map(([name, param]) => ({ name, param, rows: param.shape[0]!, cols: param.shape[1]!, buf: zeros(param.shape) })),
    );
    this.scratch = untracked(() => ({
      u: zeros([n]),
      x: zeros([n]),
      a: zeros([r * r]),
      aa: zeros([r * r]),
      b: zeros([r * r]),
      bx: zeros([n]),
    }));
  }

  /** One update with learning rate lr, each gradient multiplied by gradScale first; zeroGrads clears them after. */
  update(lr: number, gradScale = 1, zeroGrads = false): void {
    this.step++;
    const k = kernels();
    const { momentum, nesterov } = this.config;
    const s = this.scratch;
    for (const st of this.states) {
      const g = st.param.grad;
      if (g === null) continue;
      const n = st.param.size;
      k.axpby(st.buf.data, st.buf.data, g.data, n, momentum, gradScale);
      if (nesterov) k.axpby(s.u.data, g.data, st.buf.data, n, gradScale, momentum);
      else k.copy(s.u.data, st.buf.data, n);
      if (zeroGrads) k.fillZero(g.data, n);
      const x = this.orthogonalise(st.rows, st.cols);
      k.axpby(st.param.data, st.param.data, x, n, 1, -lr * Math.sqrt(Math.max(1, st.rows / st.cols)));
    }
  }

  /** Newton-Schulz on scratch.u [rows, cols]; returns the result, [rows, cols], in a scratch array. */
  private orthogonalise(rows: number, cols: number): Float32Array {
    const k = kernels();
    const s = this.scratch;
    const n = rows * cols;
    const u = s.u.data.subarray(0, n);
    let ss = 0;
    for (let i = 0; i < n; i++) ss += u[i]! * u[i]!;
    const inv = 1 / (Math.sqrt(ss) + NORM_EPS);
    const tall = rows > cols;
    const [r, c] = tall ? [cols, rows] : [rows, cols];
    let x = s.x.data.subarray(0, n);
    if (tall) k.transpose(x, u, rows, cols, cols, rows);
    else k.copy(x, u, n);
    k.axpby(x, x, x, n, inv, 0);
    const a = s.a.data.subarray(0, r * r),
      aa = s.aa.data.subarray(0, r * r),
      b = s.b.data.subarray(0, r * r),
      bx = s.bx.data.subarray(0, n);
    for (let i = 0; i < this.config.nsSteps; i++) {
      matmulNT(k, a, x, x, r, r, c, false); // A = X X^T
      matmulNN(k, aa, a, a, r, r, r, false); // A A
      k.axpby(b, a, aa, r * r, NS_B, NS_C); // B = b A + c A A
      matmulNN(k, bx, b, x, r, c, r, false); // B X
      k.axpby(x, x, bx, n, NS_A, 1); // X = a X + B X
    }
    if (!tall) return x;
    // Back to [rows, cols], through u (no longer needed).
    k.transpose(u, x, r, c, c, r);
    x = u;
    return x;
  }

  dispose(): void {
    for (const st of this.states) st.buf.dispose();
    for (const t of Object.values(this.scratch)) t.dispose();
  }
}
