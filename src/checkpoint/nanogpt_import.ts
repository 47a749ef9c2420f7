/**
 * A nanoGPT checkpoint (the ckpt.pt train.py saves) read into tsgpt's terms, in two stages:
 *
 *   parseNanoGptCheckpoint   the file's structure: model_args, the state dict (torch.compile's "_orig_mod."
 *                            prefixes stripped, the causal masks PyTorch before 2.0 keeps as attn.bias checked
 *                            and set aside, lm_head.weight checked to be tied to wte), AdamW's state and
 *                            groups, iter_num, best_val_loss and train.py's config;
 *   buildNanoGptRun          the tsgpt model (its nanoGPT form) with those weights, AdamW with those moments and
 *                            step, the run config and the trainer state a resumed run starts from.
 *
 * Between the two the caller picks the vocabulary (meta.pkl's, or GPT-2's when nanoGPT padded 50257 to 50304:
 * the padding rows are cut). Everything is checked before it is used, each problem one line naming the file,
 * and the model is built only once the file has shown it holds the floats its config claims. Browser-safe.
 */
import { Rng } from '../engine/random.js';
import { TsgptError } from '../errors.js';
import { decodeTorchFile, type TorchTensor } from '../io/torch_file.js';
import { PyTuple } from '../io/pickle.js';
import { createModel, type GPTConfig, type LanguageModel } from '../models/index.js';
import { AdamW } from '../train/adamw.js';
import type { RunConfig } from '../train/config.js';
import type { ResumeState } from '../train/trainer.js';
import { describe, quote } from '../validate.js';
import { parseRunConfig } from './hyperparameters.js';
import { MAX_PARAMETERS, parameterLowerBound, parameterUpperBound } from './model_size.js';
import { ADAMW_EPS, COMPILED_PREFIX, MODEL_ARGS, NANOGPT_CONFIG, NANOGPT_DEFAULTS } from './nanogpt_config.js';
import { checkTensors } from './weights.js';

/** Largest vocabulary a model config may have (one token per Unicode code point, as config.json allows). */
const MAX_VOCAB = 0x110000;
/** nanoGPT's best_val_loss before any evaluation. */
const NO_LOSS_YET = 1e9;

/** One parameter's AdamW state as torch.optim.AdamW keeps it. */
interface AdamWEntry {
  step: number;
  expAvg: TorchTensor;
  expAvgSq: TorchTensor;
}

export interface NanoGptCheckpoint {
  /** model_args in tsgpt's names. */
  modelArgs: { nLayer: number; nHead: number; nEmbd: number; blockSize: number; bias: boolean; vocabSize: number; dropout: number };
  /** The state dict without lm_head.weight (tied) and the causal masks. */
  weights: Map<string, TorchTensor>;
  /** AdamW's state by parameter id, and its two groups; null when the checkpoint holds no optimizer. */
  optimizer: { state: Map<number, AdamWEntry>; groups: AdamWGroup[] } | null;
  iterNum: number;
  /** The validation loss of these weights (null before any evaluation). */
  bestValLoss: number | null;
  /** train.py's globals as saved, or null in checkpoints older than that. */
  config: Map<string | number, unknown> | null;
  /** config['dataset']: where sample.py looks for meta.pkl (data/<dataset>/). */
  dataset: string | null;
  /** What was read and set aside, in words for the user. */
  notes: string[];
}

interface AdamWGroup {
  params: number[];
  weightDecay: number;
  betas: [number, number];
}

export function parseNanoGptCheckpoint(bytes: Uint8Array, label: string): NanoGptCheckpoint {
  const fail: (problem: string) => never = (problem) => {
    throw new TsgptError(`${label}: ${problem}`);
  };
  const root = decodeTorchFile(bytes, label);
  if (!(root instanceof Map) || !root.has('model') || !root.has('model_args')) {
    fail("not a nanoGPT checkpoint (it has no 'model' and 'model_args')");
  }
  const ckpt = root as Map<string | number, unknown>;
  const modelArgs = parseModelArgs(ckpt.get('model_args'), label, fail);
  const notes: string[] = [];
  const weights = parseStateDict(ckpt.get('model'), modelArgs.blockSize, notes, fail);
  const optimizer = ckpt.has('optimizer') ? parseOptimizer(ckpt.get('optimizer'), fail) : null;
  if (optimizer === null) notes.push('it holds no optimizer state: AdamW starts again from zero moments');
  const iterNum = ckpt.get('iter_num') ?? 0;
  if (typeof iterNum !== 'number' || !Number.isSafeInteger(iterNum) || iterNum < 0 || iterNum > 1e9) {
    fail(`iter_num is ${describe(iterNum)}, not a step count`);
  }
  const config = ckpt.get('config') ?? null;
  if (config !== null && !(config instanceof Map)) fail("its 'config' is not a dictionary");
  const dataset = config instanceof Map ? config.get('dataset') : undefined;
  return {
    modelArgs,
    weights,
    optimizer,
    iterNum: iterNum as number,
    bestValLoss: parseBestValLoss(ckpt.get('best_val_loss'), fail),
    config: config as Map<string | number, unknown> | null,
    dataset: typeof dataset === 'string' ? dataset : null,
    notes,
  };
}

function parseModelArgs(value: unknown, label: string, fail: (problem: string) => never): NanoGptCheckpoint['modelArgs'] {
  if (!(value instanceof Map)) fail("its 'model_args' is not a dictionary");
  const args = value as Map<string | number, unknown>;
  const out: Record<string, unknown> = {};
  for (const [name, field] of MODEL_ARGS) {
    const v = args.get(name);
    if (v === undefined) fail(`model_args has no ${name}`);
    out[field] = v;
  }
  // The sizes and dropout are checked against the same ranges as tsgpt's own flags.
  const run = parseRunConfig({ ...NANOGPT_DEFAULTS, ...out, kind: 'gpt', style: 'nanogpt', activation: 'gelu' }, `${label}: model_args`);
  const vocabSize = out.vocabSize;
  if (typeof vocabSize !== 'number' || !Number.isSafeInteger(vocabSize) || vocabSize < 1 || vocabSize > MAX_VOCAB) {
    fail(`model_args.vocab_size is ${describe(vocabSize)}, not a vocabulary size from 1 to ${MAX_VOCAB}`);
  }
  if (run.nEmbd % run.nHead !== 0) fail(`model_args: n_embd (${run.nEmbd}) must be divisible by n_head (${run.nHead})`);
  const { nLayer, nHead, nEmbd, blockSize, bias, dropout } = run;
  return { nLayer, nHead, nEmbd, blockSize, bias, dropout, vocabSize: vocabSize as number };
}

function parseStateDict(value: unknown, blockSize: number, notes: string[], fail: (problem: string) => never): Map<string, TorchTensor> {
  if (!(value instanceof Map)) fail("its 'model' is not a state dict");
  const weights = new Map<string, TorchTensor>();
  let compiled = false;
  let masks = 0;
  for (const [key, tensor] of value as Map<string | number, unknown>) {
    if (typeof key !== 'string' || !isTensor(tensor)) fail(`its state dict holds ${quote(String(key))}, which is not a named tensor`);
    let name = key as string;
    if (name.startsWith(COMPILED_PREFIX)) {
      name = name.slice(COMPILED_PREFIX.length);
      compiled = true;
    }
    if (weights.has(name)) fail(`its state dict holds ${quote(name)} twice`);
    if (/^transformer\.h\.\d+\.attn\.bias$/.test(name) && (tensor as TorchTensor).shape.length === 4) {
      checkCausalMask(name, tensor as TorchTensor, blockSize, fail);
      masks++;
      continue;
    }
    weights.set(name, tensor as TorchTensor);
  }
  const head = weights.get('lm_head.weight');
  if (head !== undefined) {
    const wte = weights.get('transformer.wte.weight');
    if (wte === undefined || !sameValues(head, wte)) {
      fail("lm_head.weight differs from transformer.wte.weight: an untied output head, which nanoGPT's model (and tsgpt's) does not have");
    }
    weights.delete('lm_head.weight');
  }
  if (compiled) notes.push(`the "${COMPILED_PREFIX}" prefix torch.compile adds to its names is stripped, as train.py does`);
  if (masks > 0) notes.push(`the ${masks} causal mask(s) PyTorch before 2.0 keeps as attn.bias are checked and left out`);
  return weights;
}

/** The lower-triangular ones nanoGPT registers as a buffer when flash attention is missing. */
function checkCausalMask(name: string, t: TorchTensor, blockSize: number, fail: (problem: string) => never): void {
  const [a, b, rows, cols] = t.shape;
  if (a !== 1 || b !== 1 || rows !== blockSize || cols !== blockSize) {
    fail(`${name} has shape [${t.shape}], not the causal mask [1, 1, ${blockSize}, ${blockSize}] of block_size ${blockSize}`);
  }
  for (let i = 0; i < blockSize; i++) {
    for (let j = 0; j < blockSize; j++) {
      if (t.data[i * blockSize + j] !== (j <= i ? 1 : 0)) fail(`${name} is not a causal mask (at row ${i}, column ${j})`);
    }
  }
}

function sameValues(a: TorchTensor, b: TorchTensor): boolean {
  if (a.data === b.data) return true;
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) return false;
  for (let i = 0; i < a.data.length; i++) if (!Object.is(a.data[i], b.data[i])) return false;
  return true;
}

function isTensor(v: unknown): v is TorchTensor {
  return typeof v === 'object' && v !== null && (v as TorchTensor).data instanceof Float32Array && Array.isArray((v as TorchTensor).shape);
}

/** torch.optim.AdamW's state_dict(): {'state': {id: {step, exp_avg, exp_avg_sq}}, 'param_groups': [...]} */
function parseOptimizer(value: unknown, fail: (problem: string) => never): NonNullable<NanoGptCheckpoint['optimizer']> {
  const where = 'optimizer';
  if (!(value instanceof Map)) fail(`its '${where}' is not an optimizer state dict`);
  const opt = value as Map<string | number, unknown>;
  const stateValue = opt.get('state');
  const groupsValue = opt.get('param_groups');
  if (!(stateValue instanceof Map) || !Array.isArray(groupsValue)) fail(`${where} has no 'state' and 'param_groups'`);
  const groups = (groupsValue as unknown[]).map((g, i): AdamWGroup => {
    const at = `${where}.param_groups[${i}]`;
    if (!(g instanceof Map)) fail(`${at} is not a dictionary`);
    const group = g as Map<string | number, unknown>;
    const params = group.get('params');
    if (!Array.isArray(params) || !params.every((p) => typeof p === 'number' && Number.isSafeInteger(p))) {
      fail(`${at}.params is not a list of parameter ids`);
    }
    const betas = group.get('betas');
    const [beta1, beta2] = betas instanceof PyTuple ? betas.items : [];
    if (typeof beta1 !== 'number' || typeof beta2 !== 'number') fail(`${at}.betas is not a pair of numbers`);
    const eps = group.get('eps');
    if (eps !== ADAMW_EPS) fail(`${at}.eps is ${describe(eps)}; tsgpt's AdamW uses ${ADAMW_EPS}, as torch.optim.AdamW does by default`);
    for (const flag of ['amsgrad', 'maximize']) {
      const v = group.get(flag);
      if (v !== undefined && v !== false) fail(`${at}.${flag} is ${describe(v)}; tsgpt's AdamW has no ${flag}`);
    }
    const weightDecay = group.get('weight_decay');
    if (typeof weightDecay !== 'number') fail(`${at}.weight_decay is not a number`);
    return { params: params as number[], weightDecay: weightDecay as number, betas: [beta1 as number, beta2 as number] };
  });
  const state = new Map<number, AdamWEntry>();
  for (const [id, entry] of stateValue as Map<string | number, unknown>) {
    const at = `${where}.state[${String(id)}]`;
    if (typeof id !== 'number' || !(entry instanceof Map)) fail(`${at} is not a parameter's state`);
    const e = entry as Map<string | number, unknown>;
    const step = e.get('step');
    const stepValue = isTensor(step) && step.data.length === 1 ? step.data[0]! : step;
    if (typeof stepValue !== 'number' || !Number.isSafeInteger(stepValue) || stepValue < 0 || stepValue > 1e9) {
      fail(`${at}.step is not a step count`);
    }
    const expAvg = e.get('exp_avg');
    const expAvgSq = e.get('exp_avg_sq');
    if (!isTensor(expAvg) || !isTensor(expAvgSq)) fail(`${at} has no exp_avg and exp_avg_sq tensors`);
    state.set(id as number, { step: stepValue as number, expAvg: expAvg as TorchTensor, expAvgSq: expAvgSq as TorchTensor });
  }
  return { state, groups };
}

function parseBestValLoss(value: unknown, fail: (problem: string) => never): number | null {
  if (value === undefined || value === null) return null;
  const v = isTensor(value) && value.data.length === 1 ? value.data[0]! : value;
  if (typeof v !== 'number' || !Number.isFinite(v)) fail(`best_val_loss is ${describe(v)}, not a loss`);
  return (v as number) >= NO_LOSS_YET ? null : (v as number);
}

/** A tsgpt run made from a parsed checkpoint: built, filled and checked, ready to be saved as a run folder. */
export interface NanoGptRun {
  model: LanguageModel;
  optimizer: AdamW;
  modelConfig: GPTConfig;
  run: RunConfig;
  state: ResumeState;
}

/**
 * Builds the tsgpt model and optimizer from `ckpt` for a vocabulary of `vocabSize` tokens: model_args' own, or
 * fewer when the rows past it are padding (GPT-2's 50257 in nanoGPT's 50304), which are cut from the
 * embedding and its moments. The caller disposes of the model and the optimizer.
 */
export function buildNanoGptRun(ckpt: NanoGptCheckpoint, vocabSize: number, label: string): NanoGptRun {
  const fail: (problem: string) => never = (problem) => {
    throw new TsgptError(`${label}: ${problem}`);
  };
  const a = ckpt.modelArgs;
  if (vocabSize > a.vocabSize) fail(`its model has ${a.vocabSize} tokens, fewer than the vocabulary's ${vocabSize}`);
  const modelConfig: GPTConfig = {
    kind: 'gpt',
    style: 'nanogpt',
    // nanoGPT's model.py: nn.GELU(), the exact form.
    activation: 'gelu',
    vocabSize,
    blockSize: a.blockSize,
    nLayer: a.nLayer,
    nHead: a.nHead,
    nEmbd: a.nEmbd,
    dropout: a.dropout,
    bias: a.bias,
  };
  // Before anything is allocated: the file must hold at least the floats its config claims.
  const held = [...ckpt.weights.values()].reduce((n, t) => n + t.data.length, 0);
  const least = parameterLowerBound({ ...modelConfig, vocabSize: a.vocabSize });
  if (least > held) fail(`model_args describe a model of at least ${least} parameters but its state dict holds ${held} values`);
  if (parameterUpperBound(modelConfig) > MAX_PARAMETERS) fail(`its model is larger than the ${MAX_PARAMETERS} parameters tsgpt can hold`);
  const cut = (t: TorchTensor, name: string): TorchTensor =>
    name === 'transformer.wte.weight' && vocabSize < a.vocabSize
      ? { shape: [vocabSize, ...t.shape.slice(1)], data: t.data.subarray(0, vocabSize * a.nEmbd) }
      : t;
  if (vocabSize < a.vocabSize) {
    const wte = ckpt.weights.get('transformer.wte.weight');
    if (wte === undefined || wte.shape[0] !== a.vocabSize) fail(`transformer.wte.weight does not have model_args' ${a.vocabSize} rows`);
  }
  const run = runConfigOf(ckpt, label);
  const model = createModel(modelConfig, new Rng(run.seed));
  const optimizer = new AdamW(model.namedParameters(), {
    beta1: run.beta1,
    beta2: run.beta2,
    eps: ADAMW_EPS,
    weightDecay: run.weightDecay,
  });
  try {
    const params = model.namedParameters();
    const stored = new Map(
      [...ckpt.weights].map(([name, t]) => [name, { dtype: 'F32' as const, shape: [...cut(t, name).shape], data: cut(t, name).data }]),
    );
    const values = checkTensors(
      stored,
      params.map(([name, t]) => [name, t.shape]),
      `${label}: state dict`,
      "of nanoGPT's parameters for these model_args",
    );
    params.forEach(([, t], i) => t.data.set(values[i]!));
    const optimizerStep = ckpt.optimizer === null ? 0 : loadMoments(ckpt.optimizer, optimizer, cut, label, fail);
    const seed = run.seed;
    const state: ResumeState = {
      step: ckpt.iterNum,
      bestValLoss: ckpt.bestValLoss,
      modelRng: new Rng(seed).getState(),
      dataRng: new Rng(seed + 1).getState(),
      evalRng: new Rng(seed + 2).getState(),
      optimizerStep,
      // nanoGPT evaluates again at the step it resumes from; so does a tsgpt run that has not evaluated there.
      evaluatedStep: null,
    };
    return { model, optimizer, modelConfig, run: { ...run, ...withoutVocab(modelConfig) }, state };
  } catch (e) {
    model.dispose();
    optimizer.dispose();
    throw e;
  }
}

function withoutVocab(c: GPTConfig): Partial<RunConfig> {
  const { nLayer, nHead, nEmbd, blockSize, dropout, bias } = c;
  return { kind: 'gpt', style: 'nanogpt', activation: 'gelu', nLayer, nHead, nEmbd, blockSize, dropout, bias };
}

/**
 * Fills AdamW's moments from nanoGPT's two groups: weights that decay (two or more dimensions), then the
 * biases and LayerNorm gains, each in the model's parameter order, numbered from 0 across both as
 * torch.optim's state_dict numbers them. Returns AdamW's step, which must be the same for every parameter.
 */
function loadMoments(
  opt: NonNullable<NanoGptCheckpoint['optimizer']>,
  optimizer: AdamW,
  cut: (t: TorchTensor, name: string) => TorchTensor,
  label: string,
  fail: (problem: string) => never,
): number {
  const decayed = optimizer.states.filter((s) => s.decay);
  const kept = optimizer.states.filter((s) => !s.decay);
  const order = [...decayed, ...kept];
  const [g0, g1] = opt.groups;
  const sequential = (g: AdamWGroup | undefined, from: number, n: number) =>
    g !== undefined && g.params.length === n && g.params.every((p, i) => p === from + i);
  if (opt.groups.length !== 2 || !sequential(g0, 0, decayed.length) || !sequential(g1, decayed.length, kept.length)) {
    fail(
      `optimizer.param_groups are not nanoGPT's: ${decayed.length} decayed weights, then ${kept.length} biases and gains, numbered in order`,
    );
  }
  if (g1!.weightDecay !== 0) fail('optimizer.param_groups[1] decays biases and LayerNorm gains, which tsgpt never does');
  if (g0!.betas[0] !== g1!.betas[0] || g0!.betas[1] !== g1!.betas[1]) fail("optimizer.param_groups' betas differ");
  if (opt.state.size === 0) return 0;
  let step: number | null = null;
  const expected: [string, readonly number[]][] = [];
  const stored = new Map<string, { dtype: 'F32'; shape: number[]; data: Float32Array }>();
  order.forEach((s, id) => {
    const e = opt.state.get(id);
    if (e === undefined) fail(`optimizer.state has no entry for parameter ${id} (${s.name})`);
    if (step !== null && e!.step !== step) fail(`AdamW's steps differ between parameters (${step} and ${e!.step}); tsgpt keeps one`);
    step = e!.step;
    for (const [prefix, t] of [
      ['m', e!.expAvg],
      ['v', e!.expAvgSq],
    ] as const) {
      const c = cut(t, s.name);
      stored.set(`${prefix}.${s.name}`, { dtype: 'F32', shape: [...c.shape], data: c.data });
      expected.push([`${prefix}.${s.name}`, s.param.shape]);
    }
  });
  if (opt.state.size !== order.length) fail(`optimizer.state holds ${opt.state.size} entries for ${order.length} parameters`);
  const values = checkTensors(stored, expected, `${label}: optimizer.state (m: exp_avg, v: exp_avg_sq)`, 'moment(s)');
  order.forEach((s, i) => {
    const v = values[2 * i + 1]!;
    if (v.some((x) => x < 0)) fail(`optimizer.state: the exp_avg_sq of ${s.name} holds a negative value`);
    s.m.data.set(values[2 * i]!);
    s.v.data.set(v);
  });
  return step ?? 0;
}

/**
 * The run config: train.py's config where the checkpoint has one (its defaults where not), the model's fields
 * from model_args and AdamW's betas and weight decay from the optimizer's groups, checked against tsgpt's ranges.
 */
function runConfigOf(ckpt: NanoGptCheckpoint, label: string): RunConfig {
  const out: Record<string, unknown> = { ...NANOGPT_DEFAULTS };
  for (const [name, field] of NANOGPT_CONFIG) {
    const v = ckpt.config?.get(name);
    if (field !== null && v !== undefined) out[field] = v;
  }
  const groups = ckpt.optimizer?.groups;
  if (groups !== undefined && groups.length > 0) {
    out.weightDecay = groups[0]!.weightDecay;
    [out.beta1, out.beta2] = groups[0]!.betas;
  }
  const a = ckpt.modelArgs;
  Object.assign(out, {
    kind: 'gpt',
    style: 'nanogpt',
    activation: 'gelu',
    nLayer: a.nLayer,
    nHead: a.nHead,
    nEmbd: a.nEmbd,
    blockSize: a.blockSize,
  });
  Object.assign(out, { dropout: a.dropout, bias: a.bias });
  return parseRunConfig(out, `${label}: config (as tsgpt's run)`);
}
