/**
 * A rotary GPT written out in float64, plain loops over the model's weights, with the rolling decoder's
 * semantics stated directly: every layer of token t attends to tokens t - window + 1 .. t, each turned by its
 * absolute position's angles (computed here in float64, not read from the model's tables). Nothing here uses
 * the engine's kernels, ops or decoders: it is what the rolling cache must come to, to within float32's
 * rounding. With crop: true, token t instead sees the window t - window + 1 .. t encoded afresh from position
 * 0 (nanoGPT's crop), to show the two differ.
 */
import { normalCdf } from '../../src/engine/normal_cdf.js';
import { RMS_NORM_EPS } from '../../src/engine/ops/rms_norm.js';
import { ROTARY_BASE } from '../../src/engine/ops/qk_transform.js';
import type { Tensor } from '../../src/engine/tensor.js';
import { CausalSelfAttention } from '../../src/nn/attention.js';
import { MLP } from '../../src/nn/feedforward.js';
import { GELU, LayerNorm, type Linear, type Norm, ReLU, ReLU2 } from '../../src/nn/layers.js';
import type { GPT } from '../../src/models/gpt.js';

type Row = Float64Array<ArrayBuffer>;

/** The next-token logits after each of the tokens, [tokens.length][vocabSize], rolling (or, crop: true, cropping). */
export function slidingWindowLogits(model: GPT, tokens: readonly number[], opts: { crop?: boolean } = {}): Row[] {
  if (!opts.crop) return rolling(model, tokens);
  const W = model.config.blockSize;
  return tokens.map((_, t) => {
    const window = tokens.slice(Math.max(0, t - W + 1), t + 1);
    return rolling(model, window)[window.length - 1]!;
  });
}

function rolling(model: GPT, tokens: readonly number[]): Row[] {
  const { nEmbd: C, nHead: nh, blockSize: W } = model.config;
  const hs = C / nh;
  if (model.rotary === null) throw new Error('slidingWindowLogits: a rotary GPT only');
  const wte = model.tokenEmbedding.weight.data;
  let x = tokens.map((id) => Float64Array.from(wte.subarray(id * C, (id + 1) * C)));
  for (const block of model.blocks.items) {
    const attn = block.attn,
      mlp = block.mlp;
    if (!(attn instanceof CausalSelfAttention) || !(mlp instanceof MLP)) throw new Error('slidingWindowLogits: the nanoGPT form only');
    const qkv = x.map((r) => linear(layerNorm(r, block.ln1!), attn.c_attn));
    const heads = (part: number, t: number, h: number) => {
      const v = qkv[t]!.slice(part * C + h * hs, part * C + (h + 1) * hs);
      if (part === 2) return v;
      if (attn.qkNorm) rmsNorm(v);
      rotate(v, t);
      return v;
    };
    const y = x.map((_, t) => {
      const out = new Float64Array(C);
      for (let h = 0; h < nh; h++) {
        const q = heads(0, t, h);
        const from = Math.max(0, t - W + 1);
        const scores: number[] = [];
        for (let s = from; s <= t; s++) scores.push(dot(q, heads(1, s, h)) / Math.sqrt(hs));
        const max = Math.max(...scores);
        const e = scores.map((z) => Math.exp(z - max));
        const sum = e.reduce((a, b) => a + b, 0);
        for (let s = from; s <= t; s++) {
          const v = heads(2, s, h),
            w = e[s - from]! / sum;
          for (let d = 0; d < hs; d++) out[h * hs + d]! += w * v[d]!;
        }
      }
      return linear(out, attn.c_proj);
    });
    x = x.map((r, t) => add(r, y[t]!));
    x = x.map((r) => add(r, linear(activate(linear(layerNorm(r, block.ln2!), mlp.c_fc), mlp.activation), mlp.c_proj)));
  }
  const cap = model.config.logitSoftcap ?? 0;
  return x.map((r) => {
    const h = layerNorm(r, model.lnF!);
    const logits = model.lmHead !== null ? linear(h, model.lmHead) : product(h, model.tokenEmbedding.weight, null);
    return cap > 0 ? logits.map((z) => cap * Math.tanh(z / cap)) : logits;
  });
  /** Rotary embeddings at position t, in float64: pairs (i, i + hs/2) turned by t base^(-2i/hs). */
  function rotate(v: Row, t: number): void {
    const half = hs / 2;
    for (let i = 0; i < half; i++) {
      const angle = t * ROTARY_BASE ** ((-2 * i) / hs),
        c = Math.cos(angle),
        s = Math.sin(angle);
      const a = v[i]!,
        b = v[i + half]!;
      v[i] = a * c - b * s;
      v[i + half] = a * s + b * c;
    }
  }
}

function dot(a: Row, b: Row): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

function add(a: Row, b: Row): Row {
  return a.map((v, i) => v + b[i]!);
}

/** x W^T + b, W [out, in] as PyTorch keeps it. */
function product(x: Row, weight: Tensor, bias: Tensor | null): Row {
  const [out, inF] = weight.shape as [number, number];
  const y = new Float64Array(out);
  for (let o = 0; o < out; o++) {
    let s = bias === null ? 0 : bias.data[o]!;
    for (let i = 0; i < inF; i++) s += x[i]! * weight.data[o * inF + i]!;
    y[o] = s;
  }
  return y;
}

function linear(x: Row, m: Linear): Row {
  return product(x, m.weight, m.bias);
}

/** The block's norm in float64: LayerNorm with its gain and bias, or RMSNorm without a gain. */
function layerNorm(x: Row, ln: Norm): Row {
  if (!(ln instanceof LayerNorm)) {
    const y = Float64Array.from(x);
    rmsNorm(y);
    return y;
  }
  const n = x.length,
    mean = x.reduce((a, b) => a + b, 0) / n;
  const variance = x.reduce((a, b) => a + (b - mean) ** 2, 0) / n;
  const rstd = 1 / Math.sqrt(variance + ln.eps);
  return x.map((v, i) => (v - mean) * rstd * ln.weight.data[i]! + (ln.bias?.data[i] ?? 0));
}

/** F.rms_norm without a gain, in place. */
function rmsNorm(v: Row): void {
  const ms = dot(v, v) / v.length,
    r = 1 / Math.sqrt(ms + RMS_NORM_EPS);
  for (let i = 0; i < v.length; i++) v[i]! *= r;
}

function activate(x: Row, m: ReLU | GELU | ReLU2): Row {
  if (m instanceof ReLU) return x.map((v) => Math.max(0, v));
  if (m instanceof ReLU2) return x.map((v) => Math.max(0, v) ** 2);
  if (m instanceof GELU && m.approximate === 'tanh') {
    return x.map((v) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3))));
  }
  return x.map((v) => v * normalCdf(v));
}
