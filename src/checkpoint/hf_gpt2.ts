/**
 * GPT-2's released weights as Hugging Face lays them out (openai-community/gpt2 and its larger siblings): a
 * config.json with GPT-2's field names and a model.safetensors whose names lack nanoGPT's "transformer."
 * prefix ("h.0.attn.c_attn.weight"), whose four products per block are stored as GPT-2's Conv1D keeps them,
 * [in, out], where nanoGPT (and tsgpt) hold a Linear's [out, in], and which carries each block's causal mask
 * as a buffer (attn.bias, attn.masked_bias), not a parameter. The head is tied to wte and not stored (a file
 * that stores lm_head.weight must store wte's values there).
 *
 * nanoGPT's GPT.from_pretrained reads the same names and transposes the same four weights
 * (attn.c_attn, attn.c_proj, mlp.c_fc, mlp.c_proj). Pure: no files here; the Node edge (src/node/hf_folder.ts)
 * hands over a TensorSource, and a browser could too.
 */
import { TsgptError } from '../errors.js';
import type { GPT, GPTConfig } from '../models/gpt.js';
import type { Activation } from '../nn/layers.js';
import { fromHalfBits } from '../io/float16.js';
import { parseSafetensorsHeader, safetensorsHeaderLength, type TensorEntry } from '../io/safetensors.js';
import { describe, quote } from '../validate.js';
import { parameterUpperBound } from './model_size.js';
import { firstNonFiniteIndex } from './weights.js';

/**
 * GPT-2's activation_function values and what they compute. GPT-2 was trained with the tanh approximation,
 * which its config calls "gelu_new" (Hugging Face's NewGELUActivation): its checkpoints must run with it.
 * nanoGPT's from_pretrained loads them into its own model, whose nn.GELU() is the exact form, without a word;
 * the logits then differ a little from GPT-2's own. tsgpt follows the config, as Hugging Face does.
 */
const HF_ACTIVATIONS: Record<string, Activation> = {
  gelu_new: 'gelu_tanh',
  gelu_pytorch_tanh: 'gelu_tanh',
  gelu: 'gelu',
  relu: 'relu',
};

/** Every weight tsgpt's GPT takes from the file: the file's name, the parameter's, and whether it is transposed. */
interface PlannedTensor {
  hfName: string;
  paramName: string;
  /** The shape stored in the file. */
  shape: number[];
  transposed: boolean;
}

/** The weights stored [in, out] (GPT-2's Conv1D), as from_pretrained's `transposed` list names them. */
const CONV1D = ['attn.c_attn.weight', 'attn.c_proj.weight', 'mlp.c_fc.weight', 'mlp.c_proj.weight'];
/** Buffers, not parameters: the causal mask (and an old version's -1e4 scalar). */
const BUFFERS = ['.attn.bias', '.attn.masked_bias'];
/** The dtypes GPT-2's files come in that tsgpt reads into float32. */
const WEIGHT_DTYPES = ['F32', 'F16', 'BF16'];

const MAX_CONFIG_SIZE = { n_layer: 256, n_head: 1024, n_embd: 65536, n_positions: 65536, vocab_size: 0x110000 };

/** A Hugging Face GPT-2 config.json to tsgpt's GPTConfig, refusing what tsgpt's GPT does not compute. */
export function parseHfGpt2Config(text: string, label: string): GPTConfig {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new TsgptError(`${label}: not valid JSON`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new TsgptError(`${label}: expected a JSON object`);
  const c = json as Record<string, unknown>;
  if (c.model_type !== undefined && c.model_type !== 'gpt2') {
    throw new TsgptError(`${label}: model_type is ${describe(c.model_type)}; tsgpt reads GPT-2's ("gpt2")`);
  }
  const int = (key: keyof typeof MAX_CONFIG_SIZE, value = c[key]) => {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1 || value > MAX_CONFIG_SIZE[key]) {
      throw new TsgptError(`${label}: ${key} must be an integer from 1 to ${MAX_CONFIG_SIZE[key]}, got ${describe(value)}`);
    }
    return value;
  };
  const activationName = c.activation_function ?? 'gelu_new';
  const activation =
    typeof activationName === 'string' && Object.hasOwn(HF_ACTIVATIONS, activationName) ? HF_ACTIVATIONS[activationName] : undefined;
  if (activation === undefined) {
    throw new TsgptError(
      `${label}: activation_function ${describe(activationName)} is not one tsgpt computes (${Object.keys(HF_ACTIVATIONS).join(', ')})`,
    );
  }
  const eps = c.layer_norm_epsilon ?? 1e-5;
  if (eps !== 1e-5) throw new TsgptError(`${label}: layer_norm_epsilon is ${describe(eps)}; tsgpt's LayerNorm uses GPT-2's 1e-5`);
  for (const key of ['scale_attn_by_inverse_layer_idx', 'add_cross_attention'] as const) {
    if (c[key] === true) throw new TsgptError(`${label}: ${key} is true, which GPT-2 does not use and tsgpt does not compute`);
  }
  if (c.scale_attn_weights === false) throw new TsgptError(`${label}: scale_attn_weights is false; GPT-2 scales by 1/sqrt(head size)`);
  const nEmbd = int('n_embd');
  const nHead = int('n_head');
  if (nEmbd % nHead !== 0) throw new TsgptError(`${label}: n_embd (${nEmbd}) must be divisible by n_head (${nHead})`);
  return {
    kind: 'gpt',
    style: 'nanogpt',
    activation,
    vocabSize: int('vocab_size'),
    blockSize: int('n_positions', c.n_positions ?? c.n_ctx),
    nLayer: int('n_layer'),
    nHead,
    nEmbd,
    dropout: 0,
    bias: true,
  };
}

/** The file names, parameter names, stored shapes and transposes of a GPT-2 of this config. */
function plan(config: GPTConfig): PlannedTensor[] {
  const { vocabSize: V, blockSize: T, nEmbd: C, nLayer } = config;
  const out: PlannedTensor[] = [];
  const add = (name: string, shape: number[]) => {
    const transposed = CONV1D.some((w) => name.endsWith(w));
    out.push({ hfName: name, paramName: `transformer.${name}`, shape, transposed });
  };
  add('wte.weight', [V, C]);
  add('wpe.weight', [T, C]);
  for (let i = 0; i < nLayer; i++) {
    const p = `h.${i}.`;
    add(`${p}ln_1.weight`, [C]);
    add(`${p}ln_1.bias`, [C]);
    add(`${p}attn.c_attn.weight`, [C, 3 * C]);
    add(`${p}attn.c_attn.bias`, [3 * C]);
    add(`${p}attn.c_proj.weight`, [C, C]);
    add(`${p}attn.c_proj.bias`, [C]);
    add(`${p}ln_2.weight`, [C]);
    add(`${p}ln_2.bias`, [C]);
    add(`${p}mlp.c_fc.weight`, [C, 4 * C]);
    add(`${p}mlp.c_fc.bias`, [4 * C]);
    add(`${p}mlp.c_proj.weight`, [4 * C, C]);
    add(`${p}mlp.c_proj.bias`, [C]);
  }
  add('ln_f.weight', [C]);
  add('ln_f.bias', [C]);
  return out;
}

/** Random access to a file's bytes: the Node edge reads a file descriptor, a browser an ArrayBuffer. */
export interface TensorSource {
  readonly byteLength: number;
  /** Fills `into` with the bytes from `offset` on. */
  read(offset: number, into: Uint8Array): void;
}

/** A checked model.safetensors: the tensors to load, found and matched with the config before anything is built. */
export interface HfGpt2Weights {
  config: GPTConfig;
  tensors: { plan: PlannedTensor; entry: TensorEntry }[];
  /** lm_head.weight when the file stores it (it must equal wte). */
  head: TensorEntry | null;
  dataStart: number;
}

/**
 * Reads and checks model.safetensors' header against the config: every weight of the config present (a
 * "transformer." prefix on every name is accepted too), with its shape and a float dtype, and nothing else but
 * the mask buffers and a tied lm_head. A file of another model is one line naming the first disagreement.
 */
export function readHfGpt2Header(source: TensorSource, config: GPTConfig, label: string): HfGpt2Weights {
  const start = new Uint8Array(Math.min(8, source.byteLength));
  source.read(0, start);
  const dataStart = safetensorsHeaderLength(start, source.byteLength, label);
  const headerBytes = new Uint8Array(dataStart - 8);
  source.read(8, headerBytes);
  const { entries } = parseSafetensorsHeader(headerBytes, source.byteLength - dataStart, label);
  const prefixed = entries.length > 0 && entries.every((e) => e.name.startsWith('transformer.') || e.name === 'lm_head.weight');
  const byName = new Map(entries.map((e) => [prefixed && e.name !== 'lm_head.weight' ? e.name.slice('transformer.'.length) : e.name, e]));
  const wanted = plan(config);
  const tensors = wanted.map((p) => {
    const entry = byName.get(p.hfName);
    if (entry === undefined) {
      throw new TsgptError(`${label}: no tensor ${p.hfName}, which a GPT-2 of ${config.nLayer} layers and width ${config.nEmbd} has`);
    }
    if (!WEIGHT_DTYPES.includes(entry.dtype)) {
      throw new TsgptError(`${label}: ${entry.name} is ${entry.dtype}; tsgpt reads GPT-2's weights as ${WEIGHT_DTYPES.join(', ')}`);
    }
    if (entry.shape.length !== p.shape.length || entry.shape.some((d, i) => d !== p.shape[i])) {
      throw new TsgptError(
        `${label}: ${entry.name} has shape [${entry.shape}], but config.json describes [${p.shape}] ` +
          '(the config and the weights are of different models)',
      );
    }
    return { plan: p, entry };
  });
  const known = new Set(wanted.map((p) => p.hfName));
  const head = byName.get('lm_head.weight') ?? null;
  for (const name of byName.keys()) {
    if (known.has(name) || name === 'lm_head.weight' || BUFFERS.some((b) => name.endsWith(b))) continue;
    throw new TsgptError(`${label}: ${quote(name)} is not a weight of GPT-2 (the file holds another model)`);
  }
  if (head !== null) {
    const wte = tensors[0]!.entry;
    if (head.dtype !== wte.dtype || head.shape.join() !== wte.shape.join()) {
      throw new TsgptError(`${label}: lm_head.weight is not shaped as wte.weight, to which GPT-2 ties it`);
    }
  }
  return { config, tensors, head, dataStart };
}

/** Float32 values of a tensor's bytes, widened from F16 or BF16. */
function floats(entry: TensorEntry, bytes: Uint8Array): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = bytes.length / (entry.dtype === 'F32' ? 4 : 2);
  const out = new Float32Array(n);
  if (entry.dtype === 'F32') for (let i = 0; i < n; i++) out[i] = view.getFloat32(4 * i, true);
  else if (entry.dtype === 'F16') for (let i = 0; i < n; i++) out[i] = fromHalfBits(view.getUint16(2 * i, true));
  else {
    // bfloat16 is float32's top half.
    const wide = new DataView(new ArrayBuffer(4));
    for (let i = 0; i < n; i++) {
      wide.setUint32(0, view.getUint16(2 * i, true) << 16);
      out[i] = wide.getFloat32(0);
    }
  }
  return out;
}

/**
 * Copies every weight into a GPT built from the same config (nanoGPT form), transposing GPT-2's Conv1D
 * weights to [out, in]; refuses a non-finite value, and a stored lm_head that is not wte.
 */
export function loadHfGpt2Weights(model: GPT, source: TensorSource, weights: HfGpt2Weights, label: string): void {
  const params = new Map(model.namedParameters());
  const read = (entry: TensorEntry) => {
    const bytes = new Uint8Array(entry.end - entry.begin);
    source.read(weights.dataStart + entry.begin, bytes);
    const values = floats(entry, bytes);
    const bad = firstNonFiniteIndex(values);
    if (bad >= 0) throw new TsgptError(`${label}: ${entry.name} holds ${values[bad]} at index ${bad}; weights must be finite numbers`);
    return values;
  };
  for (const { plan: p, entry } of weights.tensors) {
    const param = params.get(p.paramName);
    if (param === undefined) throw new Error(`GPT has no parameter ${p.paramName}`);
    const values = read(entry);
    if (!p.transposed) {
      param.data.set(values);
      continue;
    }
    // Stored [in, out]; the parameter is [out, in].
    const [rows, cols] = entry.shape as [number, number];
    const out = param.data;
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = values[r * cols + c]!;
  }
  if (weights.head !== null) {
    const head = read(weights.head);
    const wte = params.get('transformer.wte.weight')!.data;
    if (head.some((v, i) => v !== wte[i])) throw new TsgptError(`${label}: lm_head.weight differs from wte.weight, to which GPT-2 ties it`);
  }
}

/**
 * Bytes of tensor memory sampling a GPT of this config needs: its weights, and the decoder's copies packed into
 * panels of 32 columns (padding adds at most 31 rows a weight, well within the bound, which counts an untied head).
 */
export function samplingBytes(config: GPTConfig): number {
  return 2 * 4 * parameterUpperBound(config);
}
