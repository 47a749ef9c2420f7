/**
 * A tsgpt run as the ckpt.pt nanoGPT's train.py saves, so that train.py resumes it (init_from='resume') and
 * sample.py samples from it:
 *
 *   'model'          the state dict: tsgpt's names are nanoGPT's (transformer.wte.weight, ...), and
 *                    lm_head.weight is the token embedding again (tied: one storage, as in nanoGPT); for PyTorch
 *                    before 2.0, each layer's causal mask attn.bias too, which that nanoGPT keeps as a buffer
 *   'optimizer'      torch.optim.AdamW's state dict with nanoGPT's two groups (weights with two or more
 *                    dimensions decay, biases and gains do not), each in the model's order: per parameter
 *                    AdamW's step, exp_avg (tsgpt's m) and exp_avg_sq (v)
 *   'model_args', 'iter_num', 'best_val_loss', 'config'   as train.py writes them
 *
 * Only the nanoGPT form of tsgpt's GPT has a counterpart: the lecture's form and the bigram are refused.
 * Browser-safe: the bytes are made here, the files written by src/node/nanogpt_files.ts.
 */
import { TsgptError } from '../errors.js';
import { py, type PyValue } from '../io/pickle_write.js';
import { TorchFileWriter } from '../io/torch_file.js';
import type { LanguageModel } from '../models/index.js';
import type { AdamW } from '../train/adamw.js';
import { learningRateAt } from '../train/schedule.js';
import type { ResumeState } from '../train/trainer.js';
import { modernOptionsOf } from '../train/config.js';
import { HYPERPARAMETERS, kebab } from './hyperparameters.js';
import { ADAMW_EPS, GPT2_VOCAB_SIZE, MODEL_ARGS, NANOGPT_CONFIG } from './nanogpt_config.js';
import type { RunFile } from './run_config.js';

export interface NanoGptExport {
  file: RunFile;
  /** The run's latest weights and AdamW, as its snapshot holds them. */
  model: LanguageModel;
  optimizer: AdamW;
  state: ResumeState;
  /** config['dataset']: sample.py looks for meta.pkl in data/<dataset>/. */
  dataset: string;
  /** config['out_dir']. */
  outDir: string;
  /** 1: PyTorch before 2.0, whose nanoGPT keeps each layer's causal mask in its state dict. */
  pytorch: 1 | 2;
}

/** Refuses a run nanoGPT's model.py cannot hold, in one line; returns nothing for one it can. */
export function checkExportable(file: RunFile, label: string): void {
  const m = file.model;
  if (m.kind === 'bigram') {
    throw new TsgptError(`${label} is a bigram run: nanoGPT has no bigram model; only GPT runs of --style nanogpt can be exported`);
  }
  if (m.style === 'lecture') {
    throw new TsgptError(
      `${label} is a run of the lecture's gpt.py form (a module per head, ReLU, an untied head with a bias), which ` +
        "nanoGPT's model.py cannot load; train with --style nanogpt to export",
    );
  }
  const activation = (m as { activation?: unknown }).activation;
  if (activation === 'relu') throw new TsgptError(`${label} uses ReLU; nanoGPT's model.py has GELU only`);
  // issue 15's options change the model nanoGPT's model.py builds (zero-initialised projections change only the start).
  const { zeroInitProjections: _, ...changed } = modernOptionsOf(file.run);
  const names = Object.keys(changed);
  if (names.length > 0) {
    throw new TsgptError(`${label} uses ${names.map((n) => `--${kebab(n)}`).join(', ')}, which nanoGPT's model.py does not have`);
  }
  // train.py's optimizer is AdamW over every parameter: it cannot take Muon's buffers, nor resume a Muon run as one.
  if (file.run.optimizer === 'muon') {
    throw new TsgptError(`${label} was trained with --optimizer muon; nanoGPT's train.py resumes AdamW runs only`);
  }
  // sample.py knows two vocabularies: the characters of a meta.pkl, and (with no meta.pkl) tiktoken's gpt2.
  const type = file.tokenizer.type;
  if (type === 'gpt2' && m.vocabSize !== GPT2_VOCAB_SIZE) {
    throw new TsgptError(
      `${label}: its vocabulary in GPT-2's file format has ${m.vocabSize} tokens, not GPT-2's ${GPT2_VOCAB_SIZE}; nanoGPT's sample.py knows GPT-2's own only`,
    );
  }
  if (type !== 'char' && type !== 'gpt2') {
    throw new TsgptError(
      `${label}: its tokenizer (${type}) has no nanoGPT form: nanoGPT's sample.py reads characters from a meta.pkl or uses GPT-2's`,
    );
  }
}

/** The ckpt.pt of the run, as torch.save writes it. */
export function encodeNanoGptCheckpoint(x: NanoGptExport): Uint8Array {
  const torch = new TorchFileWriter();
  const { run, model } = x.file;
  if (model.kind !== 'gpt') throw new Error('nanoGPT export: checkExportable lets GPT runs only');
  return torch.finish(
    py.record({
      model: stateDict(torch, x),
      optimizer: optimizerState(torch, x),
      model_args: py.record(Object.fromEntries(MODEL_ARGS.map(([name, field]) => [name, typed(field, model[field])]))),
      iter_num: py.int(x.state.step),
      // nanoGPT starts from 1e9 before its first evaluation.
      best_val_loss: py.float(x.state.bestValLoss ?? 1e9),
      config: py.record(
        Object.fromEntries(
          NANOGPT_CONFIG.map(([name, field, fixed]) => {
            if (name === 'out_dir') return [name, x.outDir];
            if (name === 'dataset') return [name, x.dataset];
            return [name, field !== null ? typed(field, run[field]) : typed(null, fixed!)];
          }),
        ),
      ),
    }),
    'ckpt',
  );
}

/** A value as the Python type train.py gives it: the hyperparameter table says which fields are floats. */
function typed(field: string | null, value: unknown): PyValue {
  if (typeof value === 'boolean' || typeof value === 'string') return value;
  if (typeof value !== 'number') throw new Error(`nanoGPT export: ${field} is ${String(value)}`);
  const spec = HYPERPARAMETERS.find((h) => h.key === field);
  return spec?.type === 'float' ? py.float(value) : py.int(value);
}

/** nanoGPT's state dict: the parameters in order, the masks for PyTorch 1, lm_head.weight tied to wte. */
function stateDict(torch: TorchFileWriter, x: NanoGptExport): PyValue {
  const entries: [PyValue, PyValue][] = [];
  const { blockSize } = x.file.model;
  const mask = x.pytorch === 1 ? causalMask(blockSize) : null;
  let wte: PyValue | null = null;
  for (const [name, t] of x.model.namedParameters()) {
    const layer = /^transformer\.h\.(\d+)\.attn\.c_attn\.weight$/.exec(name);
    // The buffer is registered in CausalSelfAttention.__init__ before its layers, so it comes first in its dict.
    if (layer !== null && mask !== null)
      entries.push([`transformer.h.${layer[1]}.attn.bias`, torch.tensor([1, 1, blockSize, blockSize], mask)]);
    const value = torch.tensor(t.shape, t.data);
    if (name === 'transformer.wte.weight') wte = torch.tensor(t.shape, t.data);
    entries.push([name, value]);
  }
  if (wte === null) throw new Error('nanoGPT export: the model has no transformer.wte.weight');
  entries.push(['lm_head.weight', wte]);
  return py.orderedDict(entries);
}

function causalMask(T: number): Float32Array {
  const mask = new Float32Array(T * T);
  for (let i = 0; i < T; i++) mask.fill(1, i * T, i * T + i + 1);
  return mask;
}

/** torch.optim.AdamW's state_dict() for nanoGPT's configure_optimizers groups. */
function optimizerState(torch: TorchFileWriter, x: NanoGptExport): PyValue {
  const { run } = x.file;
  const decayed = x.optimizer.states.filter((s) => s.decay);
  const kept = x.optimizer.states.filter((s) => !s.decay);
  const state = [...decayed, ...kept].map((s, id): [PyValue, PyValue] => [
    py.int(id),
    py.record({
      // A storage of its own per parameter: PyTorch updates each step tensor in place.
      step: torch.tensor([], new Float32Array([x.optimizer.step])),
      exp_avg: torch.tensor(s.m.shape, s.m.data),
      exp_avg_sq: torch.tensor(s.v.shape, s.v.data),
    }),
  ]);
  const lr = learningRateAt(x.state.step, run);
  const group = (weightDecay: number, first: number, count: number) =>
    py.record({
      weight_decay: py.float(weightDecay),
      lr: py.float(lr),
      betas: py.tuple(py.float(run.beta1), py.float(run.beta2)),
      eps: py.float(ADAMW_EPS),
      amsgrad: false,
      foreach: null,
      maximize: false,
      capturable: false,
      differentiable: false,
      fused: null,
      params: py.list(Array.from({ length: count }, (_, i) => py.int(first + i))),
    });
  return py.record({
    state: py.dict(x.optimizer.step === 0 ? [] : state),
    param_groups: py.list([group(run.weightDecay, 0, decayed.length), group(0, decayed.length, kept.length)]),
  });
}
