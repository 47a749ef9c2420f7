/**
 * nanoGPT's names for what tsgpt calls a run config, shared by the export and the import of its ckpt.pt:
 * train.py's globals (recorded in a checkpoint's 'config', in train.py's order) and model.py's GPTConfig
 * fields (its 'model_args'). tsgpt's RunConfig is named after train.py's globals, in camelCase, so most
 * names map one to one.
 */
import type { RunConfig } from '../train/config.js';

/** model_args as train.py builds it: dict(n_layer, n_head, n_embd, block_size, bias, vocab_size, dropout). */
export const MODEL_ARGS = [
  ['n_layer', 'nLayer'],
  ['n_head', 'nHead'],
  ['n_embd', 'nEmbd'],
  ['block_size', 'blockSize'],
  ['bias', 'bias'],
  ['vocab_size', 'vocabSize'],
  ['dropout', 'dropout'],
] as const;

/** A train.py global: the RunConfig field it is, or the value tsgpt records for one that has no counterpart. */
export type NanoGptConfigKey = readonly [name: string, field: keyof RunConfig | null, fixed?: string | number | boolean];

/**
 * train.py's globals in its order. Those without a RunConfig field get the value that describes a tsgpt run
 * (one process on the CPU in float32); the import reads only the ones with a field.
 */
export const NANOGPT_CONFIG: readonly NanoGptConfigKey[] = [
  ['out_dir', null],
  ['eval_interval', 'evalInterval'],
  ['log_interval', null, 1],
  ['eval_iters', 'evalIters'],
  ['eval_only', null, false],
  ['always_save_checkpoint', null, true],
  ['init_from', null, 'scratch'],
  ['wandb_log', null, false],
  ['wandb_project', null, 'tsgpt'],
  ['wandb_run_name', null, 'tsgpt'],
  ['dataset', null],
  ['gradient_accumulation_steps', 'gradientAccumulationSteps'],
  ['batch_size', 'batchSize'],
  ['block_size', 'blockSize'],
  ['n_layer', 'nLayer'],
  ['n_head', 'nHead'],
  ['n_embd', 'nEmbd'],
  ['dropout', 'dropout'],
  ['bias', 'bias'],
  ['learning_rate', 'learningRate'],
  ['max_iters', 'maxIters'],
  ['weight_decay', 'weightDecay'],
  ['beta1', 'beta1'],
  ['beta2', 'beta2'],
  ['grad_clip', 'gradClip'],
  ['decay_lr', 'decayLr'],
  ['warmup_iters', 'warmupIters'],
  ['lr_decay_iters', 'lrDecayIters'],
  ['min_lr', 'minLr'],
  ['backend', null, 'nccl'],
  ['device', null, 'cpu'],
  ['dtype', null, 'float32'],
  ['compile', null, false],
];

/** issue 15's options, which nanoGPT's model.py has none of: a run read from a checkpoint records them as off. */
type ModernRunFields = 'rotary' | 'qkNorm' | 'activation' | 'zeroInitProjections' | 'untiedHead' | 'logitSoftcap' | 'norm';

/** Muon's settings: train.py has AdamW only, so a run read from a checkpoint records AdamW (the fields' defaults). */
type MuonRunFields = 'optimizer' | 'muonLr' | 'muonMomentum';

/**
 * train.py's defaults for the fields a checkpoint without a 'config' (an older nanoGPT's) leaves unsaid:
 * GPT-2 on OpenWebText, its own defaults. The model's fields come from model_args, never from here.
 */
export const NANOGPT_DEFAULTS: Omit<
  RunConfig,
  'kind' | 'style' | 'nLayer' | 'nHead' | 'nEmbd' | 'dropout' | 'bias' | 'blockSize' | ModernRunFields | MuonRunFields
> = {
  batchSize: 12,
  gradientAccumulationSteps: 40,
  maxIters: 600000,
  evalInterval: 2000,
  evalIters: 200,
  learningRate: 6e-4,
  decayLr: true,
  minLr: 6e-5,
  warmupIters: 2000,
  lrDecayIters: 600000,
  weightDecay: 0.1,
  beta1: 0.9,
  beta2: 0.95,
  gradClip: 1,
  // train.py seeds torch with 1337 on a single process; tsgpt's generators start from the run's seed.
  seed: 1337,
};

/** The name nanoGPT's checkpoints are saved under in out_dir. */
export const NANOGPT_CHECKPOINT_FILE = 'ckpt.pt';
/** What sample.py loads from data/<dataset>/ for a character model. */
export const NANOGPT_META_FILE = 'meta.pkl';
/** torch.compile's wrapper prefixes every state-dict name with this; train.py strips it when resuming. */
export const COMPILED_PREFIX = '_orig_mod.';
/** GPT-2's vocabulary, and the size nanoGPT pads it to (a multiple of 64) for speed. */
export const GPT2_VOCAB_SIZE = 50257;
export const GPT2_PADDED_VOCAB_SIZE = 50304;
/** AdamW's epsilon: torch.optim.AdamW's default, which nanoGPT keeps and tsgpt's AdamW fixes. */
export const ADAMW_EPS = 1e-8;
