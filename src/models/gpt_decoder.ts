/**
 * GPT's decoder (see decoder.ts): the last position's logits of a window, computed on buffers it keeps,
 * calling the kernels forward() calls, with the same shapes and in the same order for every value it
 * computes, so the logits are forward()'s bit for bit (the sampling tests check it on every kernel set).
 *
 * What it leaves out is work the last position's logits do not need:
 *  - positions an earlier step has seen: their keys and values wait in a cache, one slot per attention
 *    (nanoGPT's fused attention one for all heads, each of the lecture's heads its own), and only the new
 *    positions are computed, against the cached ones; sampling within the block size, that is one position
 *    a token. Past the block size (see PastContext in decoder.ts), a cropping decoder's window shifts every
 *    position, nothing matches, and each step runs its whole window, as nanoGPT's generate does; a rolling
 *    one (rotary models) keeps the last blockSize positions' keys and values in a ring and goes on adding
 *    one position a token;
 *  - in the last block, all but the keys and values of the other positions: its query, projection and
 *    feed-forward, the final LayerNorm and the head run on each sequence's last position alone.
 * It computes in eval mode (dropout is the identity). It copies weights when it is made (packed into panels,
 * for the one-row products): make a new decoder after changing the weights.
 */
import { kernels } from '../engine/backend.js';
import { type RotaryAngles, rotaryAngleRow } from '../engine/ops/qk_transform.js';
import { RMS_NORM_EPS } from '../engine/ops/rms_norm.js';
import { Tensor, untracked } from '../engine/tensor.js';
import { LayerNorm, type Norm } from '../nn/layers.js';
import {
  choosePastContext,
  type Decoder,
  type DecoderOptions,
  type HiddenPoint,
  MAX_ROLLING_POSITIONS,
  noHiddenState,
  type PastContext,
  windowLength,
} from './decoder.js';
import { DecoderLinear, fewRows } from './decoder_linear.js';
import type { GPT } from './gpt.js';
import { type LayerPlan, layerPlans, planLinears } from './gpt_decoder_plan.js';

/**
 * Keys and values [B, rows, width] of one attention. Cropping, rows is the block size W and position t sits in
 * row t. Rolling, rows is 2W, a mirrored ring: position t sits in row t mod W and again in row t mod W + W,
 * so that the last W positions are always W consecutive rows, oldest first (from row (t - W + 1) mod W): the
 * attention kernel reads them as it reads a window, in the order forward() sums them.
 */
interface CacheSlot {
  k: Tensor;
  v: Tensor;
}

/** The positions one pass of a step computes: n new ones from `pos`, attending to keys from `windowStart`. */
interface Span {
  pos: number;
  n: number;
  windowStart: number;
}

export class GPTDecoder implements Decoder {
  readonly batch: number;
  readonly vocabSize: number;
  readonly hiddenSize: number;
  readonly pastContext: PastContext;
  readonly maxContext: number;
  private readonly blockSize: number;
  private readonly layers: LayerPlan[];
  private readonly slots: CacheSlot[][];
  /** Rows of each cache slot per sequence: the block size, or twice it for the rolling ring. */
  private readonly cacheRows: number;
  private readonly head: DecoderLinear;
  private readonly lnF: Norm | null;
  private readonly useCache: boolean;
  private readonly hiddenPoint: HiddenPoint | null;
  /**
   * The tokens [B, capacity] of positions 0 .. cached - 1, whose keys and values the cache holds (rolling:
   * the last W of them): the block size when cropping; the whole context, grown as needed, when rolling.
   */
  private tokens: Int32Array;
  private capacity: number;
  private cached = 0;
  private readonly buffers: StepBuffers;
  private readonly logits: Float32Array;
  private readonly hiddenRows: Float32Array | null;
  /** The most heads one attention call scores at once: forward-style attention's weights are [B, heads, T, T]. */
  private readonly maxHeads: number;
  /** Rolling: cos and sin of the one position a pass past the block size turns, made by rotaryAngleRow. */
  private readonly angles: RotaryAngles | null;
  private anglesAt = -1;

  constructor(
    private readonly model: GPT,
    batch: number,
    opts: DecoderOptions = {},
  ) {
    if (!Number.isSafeInteger(batch) || batch < 1) throw new RangeError(`decoder: batch must be a positive integer, got ${batch}`);
    const { blockSize, nEmbd: C, vocabSize: V } = model.config;
    this.batch = batch;
    this.vocabSize = V;
    this.hiddenSize = C;
    this.blockSize = blockSize;
    this.useCache = opts.cache ?? true;
    this.pastContext = choosePastContext(opts, model.pastContexts);
    const rolling = this.pastContext === 'roll';
    this.maxContext = rolling ? MAX_ROLLING_POSITIONS : blockSize;
    this.cacheRows = rolling ? 2 * blockSize : blockSize;
    this.hiddenPoint = opts.hidden ?? null;
    const few = fewRows(batch);
    this.layers = layerPlans(model.blocks.items, few);
    this.head =
      model.lmHead !== null
        ? new DecoderLinear(model.lmHead.weight, model.lmHead.bias, few)
        : new DecoderLinear(model.tokenEmbedding.weight, null, few);
    this.lnF = model.lnF;
    const rows = this.cacheRows;
    this.slots = this.layers.map((layer) => {
      const a = layer.attention;
      const widths = a.kind === 'fused' ? [C] : a.heads.map((h) => h.key.outFeatures);
      return widths.map((w) => untracked(() => ({ k: new Tensor([batch * rows * w]), v: new Tensor([batch * rows * w]) })));
    });
    this.capacity = blockSize;
    this.tokens = new Int32Array(batch * blockSize);
    const ffWidth = Math.max(C, ...this.layers.map((l) => l.feedForward?.fc.outFeatures ?? 0));
    this.buffers = new StepBuffers(batch, C, ffWidth, V);
    this.logits = new Float32Array(batch * V);
    this.hiddenRows = this.hiddenPoint === null ? null : new Float32Array(batch * C);
    this.maxHeads = Math.max(...this.layers.map((l) => (l.attention.kind === 'fused' ? l.attention.nHead : 1)));
    const table = model.rotary;
    this.angles =
      rolling && table !== null
        ? untracked(() => ({ cos: new Tensor([table.cos.shape[1]!]), sin: new Tensor([table.sin.shape[1]!]), base: table.base }))
        : null;
  }

  step(windows: readonly ArrayLike<number>[]): Float32Array {
    const W = this.blockSize;
    const T = windowLength(
      windows,
      this.batch,
      this.maxContext,
      this.vocabSize,
      this.pastContext === 'roll' ? 'the rolling limit' : undefined,
    );
    const offset = this.reusable(windows, T);
    // Keys and values go to the cache when this step reads them back (after cached positions, and in the
    // last block) or a later one may (a window that can still grow, or a rolling one).
    const keep = offset > 0 || (this.useCache && T < W) || this.pastContext === 'roll';
    this.cached = Math.min(this.cached, offset); // until this step has written more
    if (keep) this.remember(windows, offset, T);
    // Positions within the block size in one pass; past it (rolling), one position a pass, each attending to
    // the W positions up to it.
    if (offset < W) this.pass(windows, { pos: offset, n: Math.min(T, W) - offset, windowStart: 0 }, keep);
    for (let pos = Math.max(offset, W); pos < T; pos++) this.pass(windows, { pos, n: 1, windowStart: pos - W + 1 }, keep);
    return this.logits;
  }

  hidden(): Float32Array {
    return this.hiddenRows ?? noHiddenState();
  }

  reset(): void {
    this.cached = 0;
  }

  dispose(): void {
    for (const layer of this.layers) for (const l of planLinears(layer)) l.dispose();
    this.head.dispose();
    for (const layer of this.slots) for (const s of layer) for (const t of [s.k, s.v]) t.dispose();
    this.buffers.dispose();
    this.angles?.cos.dispose();
    this.angles?.sin.dispose();
  }

  /**
   * How many leading positions of the windows the cache holds (the same tokens in every sequence); the last is
   * always computed. Rolling, the keys of the W - 1 positions before the first one computed must still be in
   * the ring; when they are not (a context that changed further back than that), everything is computed again.
   */
  private reusable(windows: readonly ArrayLike<number>[], T: number): number {
    const limit = Math.min(this.cached, T - 1),
      cap = this.capacity;
    let same = limit;
    for (let t = 0; t < limit && same === limit; t++) {
      for (let b = 0; b < this.batch; b++) {
        if (this.tokens[b * cap + t] !== windows[b]![t]) {
          same = t;
          break;
        }
      }
    }
    const oldestKept = Math.max(0, this.cached - this.blockSize);
    return Math.max(0, same - this.blockSize + 1) < oldestKept ? 0 : same;
  }

  /** Records the tokens of positions offset .. T - 1 (growing the record when rolling past its capacity). */
  private remember(windows: readonly ArrayLike<number>[], offset: number, T: number): void {
    const B = this.batch;
    if (T > this.capacity) {
      const capacity = Math.min(this.maxContext, Math.max(T, 2 * this.capacity));
      const tokens = new Int32Array(B * capacity);
      for (let b = 0; b < B; b++) tokens.set(this.tokens.subarray(b * this.capacity, b * this.capacity + offset), b * capacity);
      this.tokens = tokens;
      this.capacity = capacity;
    }
    const cap = this.capacity;
    for (let b = 0; b < B; b++) for (let t = offset; t < T; t++) this.tokens[b * cap + t] = windows[b]![t]!;
  }

  /**
   * One pass through the model for the positions of `span`: their keys and values into the cache (when
   * `keep`), and the logits (and hidden state) of the last of them.
   */
  private pass(windows: readonly ArrayLike<number>[], span: Span, keep: boolean): void {
    const k = kernels();
    const { batch: B, hiddenSize: C, model, buffers: buf } = this;
    const { pos, n } = span,
      R = B * n;
    buf.fit(R, pos === 0 ? B * this.maxHeads * n * n : 0);

    // Token embeddings of the new positions plus the position embeddings of pos .. pos + n - 1 (a model with
    // learned positions never passes the block size).
    const ids = buf.ids.ints;
    for (let b = 0; b < B; b++) for (let i = 0; i < n; i++) ids[b * n + i] = windows[b]![pos + i]!;
    const wpe = model.positionEmbedding;
    k.embeddingForward(wpe === null ? buf.x.data : buf.h.data, model.tokenEmbedding.weight.data, buf.ids.ints, R, C);
    if (wpe !== null) k.addBroadcast(buf.x.data, buf.h.data, wpe.weight.data.subarray(pos * C, (pos + n) * C), R * C, n * C);

    let rows = R;
    this.layers.forEach((layer, l) => {
      const last = l === this.layers.length - 1;
      this.attend(layer, this.slots[l]!, this.norm(layer.ln1, buf.h, buf.x, R), span, last, keep || last);
      if (last) {
        lastRows(buf.x, buf.x, C, 0, B, n, 1, C);
        rows = B;
      }
      const a = layer.proj === null ? buf.att : buf.project(layer.proj, buf.att, rows);
      const x2 = layer.residual ? buf.add(buf.x2, buf.x, a, rows * C) : a;
      const ff = layer.feedForward;
      let out = x2;
      if (ff !== null || (last && this.hiddenPoint === 'ffn_input')) {
        const ffIn = this.norm(layer.ln2, buf.h, x2, rows);
        if (last && this.hiddenPoint === 'ffn_input') this.keepHidden(ffIn);
        if (ff !== null) {
          ff.fc.forward(buf.ff1, ffIn, rows);
          const width = rows * ff.fc.outFeatures;
          if (ff.activation === 'gelu') k.geluErfForward(buf.ff2.data, buf.ff1.data, width);
          else if (ff.activation === 'gelu_tanh') k.geluForward(buf.ff2.data, buf.ff1.data, null, width);
          else if (ff.activation === 'relu2') k.relu2Forward(buf.ff2.data, buf.ff1.data, width);
          else k.reluForward(buf.ff2.data, buf.ff1.data, width);
          const f = ff.proj === null ? buf.ff2 : buf.project(ff.proj, buf.ff2, rows, buf.ffOut);
          out = layer.residual ? buf.add(buf.x, x2, f, rows * C) : f;
        }
      }
      if (out !== buf.x) k.copy(buf.x.data, out.data, rows * C);
    });

    if (this.hiddenPoint === 'block_output') this.keepHidden(buf.x);
    const final = this.norm(this.lnF, buf.h, buf.x, B);
    if (this.hiddenPoint === 'head_input') this.keepHidden(final);
    this.head.forward(buf.logits, final, B);
    const cap = model.config.logitSoftcap ?? 0;
    if (cap > 0) k.softcapForward(buf.logits.data, buf.logits.data, B * this.vocabSize, cap);
    this.logits.set(buf.logits.data.subarray(0, B * this.vocabSize));
    if (keep) this.cached = pos + n;
  }

  /**
   * The norm (LayerNorm or RMSNorm, by forward()'s kernels) of `rows` rows of x into out; with none (the lecture's
   * ladder), x itself.
   */
  private norm(ln: Norm | null, out: Tensor, x: Tensor, rows: number): Tensor {
    if (ln === null) return x;
    const buf = this.buffers;
    if (!(ln instanceof LayerNorm)) {
      kernels().rmsnormForward(out.data, buf.rstd.data, x.data, rows, 1, this.hiddenSize, this.hiddenSize, ln.eps);
      return out;
    }
    kernels().layernormForward(
      out.data,
      buf.mean.data,
      buf.rstd.data,
      x.data,
      ln.weight.data,
      ln.bias?.data ?? null,
      rows,
      this.hiddenSize,
      ln.eps,
    );
    return out;
  }

  /**
   * One block's attention of the n new positions of each sequence (span.pos ..) into buffers.att: all n rows
   * of each, or (the last block) its last one only. h holds the n rows' LayerNorm output; `write` puts their
   * keys and values in the cache. The queries attend to the cached keys from span.windowStart on.
   */
  private attend(layer: LayerPlan, slots: CacheSlot[], h: Tensor, span: Span, last: boolean, write: boolean): void {
    const k = kernels();
    const { batch: B, hiddenSize: C, blockSize: W, cacheRows: S, buffers: buf } = this;
    const { pos, n, windowStart } = span,
      R = B * n;
    // Queries: every new position, or in the last block each sequence's last one, whose logits are wanted;
    // `at` is the first one's place in the window, whose keys start at row `from` of the cache.
    const Tq = last ? 1 : n;
    const at = pos + n - Tq - windowStart,
      from = windowStart % W;
    // Over the whole window (nothing cached before it) the other blocks attend as forward() does, reading
    // keys and values where they are made; otherwise from the cache.
    const asForward = !last && pos === 0;
    const a = layer.attention;
    if (a.kind === 'fused') {
      a.c_attn.forward(buf.qkv, h, R);
      const slot = slots[0]!,
        nh = a.nHead,
        hs = C / nh,
        scale = 1 / Math.sqrt(hs);
      // transformQK's kernels on the new rows, in place: the queries and keys of positions pos .. pos + n - 1.
      if (a.qkNorm) k.rmsnormForward(buf.qkv.data, buf.qkRstd.data, buf.qkv.data, R, 2 * nh, hs, 3 * C, RMS_NORM_EPS);
      if (a.rotary !== null) {
        const { cos, sin } = this.anglesOf(a.rotary, pos, n, hs);
        k.rotary(buf.qkv.data, buf.qkv.data, cos, sin, B, n, 2 * nh, hs, 3 * C, false);
      }
      if (write) {
        this.toCache(slot.k, buf.qkv, 3 * C, C, B, n, pos, C);
        this.toCache(slot.v, buf.qkv, 3 * C, 2 * C, B, n, pos, C);
      }
      if (asForward) {
        const qkv = buf.qkv.data;
        k.attentionForward(
          buf.att.data,
          buf.scores.data,
          qkv,
          qkv.subarray(C),
          qkv.subarray(2 * C),
          null,
          B,
          n,
          nh,
          hs,
          scale,
          3 * C,
          0,
          nh,
        );
      } else {
        lastRows(buf.q, buf.qkv, 3 * C, 0, B, n, Tq, C);
        const kc = slot.k.data.subarray(from * C),
          vc = slot.v.data.subarray(from * C);
        k.attentionCachedForward(buf.att.data, buf.q.data, kc, vc, B, Tq, S, at, nh, hs, scale);
      }
      return;
    }
    // The lecture's heads, one after another, each into its columns of att (concat's layout). They have
    // learned positions, so they never roll: windowStart is 0.
    let queriesOf = h;
    if (last) queriesOf = lastRows(buf.hLast, h, C, 0, B, n, 1, C);
    a.heads.forEach((head, i) => {
      const slot = slots[i]!,
        hs = head.key.outFeatures,
        scale = 1 / Math.sqrt(hs);
      head.key.forward(buf.headK, h, R);
      head.value.forward(buf.headV, h, R);
      if (write) {
        this.toCache(slot.k, buf.headK, hs, 0, B, n, pos, hs);
        this.toCache(slot.v, buf.headV, hs, 0, B, n, pos, hs);
      }
      head.query.forward(buf.q, queriesOf, B * Tq);
      if (asForward) {
        k.attentionForward(
          buf.headOut.data,
          buf.scores.data,
          buf.q.data,
          buf.headK.data,
          buf.headV.data,
          null,
          B,
          n,
          1,
          hs,
          scale,
          hs,
          0,
          1,
        );
      } else {
        k.attentionCachedForward(buf.headOut.data, buf.q.data, slot.k.data, slot.v.data, B, Tq, S, at, 1, hs, scale);
      }
      const out = buf.att.data,
        ho = buf.headOut.data;
      for (let r = 0; r < B * Tq; r++) out.set(ho.subarray(r * hs, (r + 1) * hs), r * C + i * hs);
    });
  }

  /**
   * The rotary angles of positions pos .. pos + n - 1: rows of the model's table within the block size; past
   * it (rolling, one position a pass), the position's row computed as the table's rows are (rotaryAngleRow).
   */
  private anglesOf(table: RotaryAngles, pos: number, n: number, hs: number): { cos: Float32Array; sin: Float32Array } {
    const h = hs / 2;
    if (pos + n <= this.blockSize) return { cos: table.cos.data.subarray(pos * h), sin: table.sin.data.subarray(pos * h) };
    const row = this.angles!;
    if (n !== 1) throw new Error('decoder: past the block size a pass computes one position');
    if (this.anglesAt !== pos) rotaryAngleRow(pos, hs, row.base, row.cos.data, row.sin.data);
    this.anglesAt = pos;
    return { cos: row.cos.data, sin: row.sin.data };
  }

  /**
   * Rows of src (n per sequence, `stride` apart, from column `col`) to the cache's rows of positions pos .. of
   * each sequence: rows pos .. when cropping; rows t mod W and t mod W + W of position t when rolling.
   */
  private toCache(cache: Tensor, src: Tensor, stride: number, col: number, B: number, n: number, pos: number, width: number): void {
    const dst = cache.data,
      s = src.data,
      W = this.blockSize,
      S = this.cacheRows,
      mirrored = S > W;
    for (let b = 0; b < B; b++) {
      for (let i = 0; i < n; i++) {
        const from = (b * n + i) * stride + col,
          row = s.subarray(from, from + width),
          slot = mirrored ? (pos + i) % W : pos + i;
        dst.set(row, (b * S + slot) * width);
        if (mirrored) dst.set(row, (b * S + slot + W) * width);
      }
    }
  }

  private keepHidden(t: Tensor): void {
    this.hiddenRows!.set(t.data.subarray(0, this.hiddenRows!.length));
  }
}

/** The last `count` of each sequence's n rows of src (`stride` apart, from column `col`), packed into dst; returns dst. */
function lastRows(dst: Tensor, src: Tensor, stride: number, col: number, B: number, n: number, count: number, width: number): Tensor {
  const d = dst.data,
    s = src.data;
  if (dst === src && count === n && stride === width) return dst;
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < count; i++) {
      const from = (b * n + n - count + i) * stride + col;
      d.set(s.subarray(from, from + width), (b * count + i) * width);
    }
  }
  return dst;
}

/**
 * A step's working arrays, for up to `capacity` rows (positions) at once, made again larger when a step
 * needs more: the first step (the prompt) sets the size, and one token a step then fits.
 */
class StepBuffers {
  capacity = 0;
  private scoreCapacity = 0;
  private readonly rowBuffers: Tensor[] = [];
  ids!: Tensor;
  /** The residual stream, the stream after the attention, LayerNorm outputs and their mean and 1/std. */
  x!: Tensor;
  x2!: Tensor;
  h!: Tensor;
  mean!: Tensor;
  rstd!: Tensor;
  /** The fused projection's q, k, v (QK-norm's 1/RMS of each head's, at most 2C a row); queries packed for the cached attention; the attention's output. */
  qkv!: Tensor;
  qkRstd!: Tensor;
  q!: Tensor;
  att!: Tensor;
  /** A lecture head's keys, values and output. */
  headK!: Tensor;
  headV!: Tensor;
  headOut!: Tensor;
  /** The attention's projection; the feed-forward's hidden layer before and after its activation, and its output. */
  proj!: Tensor;
  ff1!: Tensor;
  ff2!: Tensor;
  ffOut!: Tensor;
  /** forward()-style attention's weights [B, nh, T, T]. */
  scores!: Tensor;
  /** Each sequence's last LayerNorm output (the last block's queries) and the logits. */
  readonly hLast: Tensor;
  readonly logits: Tensor;

  constructor(
    batch: number,
    private readonly C: number,
    private readonly ffWidth: number,
    V: number,
  ) {
    [this.hLast, this.logits] = untracked(() => [new Tensor([batch * C]), new Tensor([batch * V])]);
  }

  fit(rows: number, scores: number): void {
    if (scores > this.scoreCapacity) {
      this.scores?.dispose();
      this.scores = untracked(() => new Tensor([scores]));
      this.scoreCapacity = scores;
    }
    if (rows <= this.capacity) return;
    for (const t of this.rowBuffers.splice(0)) t.dispose();
    const C = this.C,
      make = (size: number, dtype: 'f32' | 'i32' = 'f32') => {
        const t = untracked(() => new Tensor([rows * size], dtype));
        this.rowBuffers.push(t);
        return t;
      };
    this.ids = make(1, 'i32');
    [this.x, this.x2, this.h, this.q, this.att, this.headK, this.headV, this.headOut, this.proj, this.ffOut] = Array.from(
      { length: 10 },
      () => make(C),
    );
    [this.mean, this.rstd] = [make(1), make(1)];
    this.qkv = make(3 * C);
    this.qkRstd = make(2 * C);
    [this.ff1, this.ff2] = [make(this.ffWidth), make(this.ffWidth)];
    this.capacity = rows;
  }

  /** linear's output into `out` (the projection's buffer unless given); returns it. */
  project(linear: DecoderLinear, x: Tensor, rows: number, out: Tensor = this.proj): Tensor {
    linear.forward(out, x, rows);
    return out;
  }

  /** out = a + b over n floats (a residual connection); returns out. */
  add(out: Tensor, a: Tensor, b: Tensor, n: number): Tensor {
    kernels().add(out.data, a.data, b.data, n);
    return out;
  }

  dispose(): void {
    for (const t of this.rowBuffers.splice(0)) t.dispose();
    this.scores?.dispose();
    this.hLast.dispose();
    this.logits.dispose();
    this.capacity = 0;
  }
}
