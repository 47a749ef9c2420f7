/**
 * The hyperparameters a run records (RunConfig), with their types and ranges: one table that the CLI turns into
 * flags and that the config.json reader checks a stored run against, so the two can never disagree about what
 * a valid value is. It also says which of them a resumed run may change.
 */
import { TsgptError } from '../errors.js';
import { asObject, describe } from '../validate.js';
import { activationOf } from '../nn/block.js';
import { ACTIVATIONS } from '../nn/layers.js';
import { NORM_KINDS, OPTIMIZER_KINDS, type RunConfig } from '../train/config.js';

export type RunKey = keyof RunConfig;

export interface HyperparameterSpec {
  key: RunKey;
  /** The command-line flag, without its dashes: the key in kebab-case unless the table names another. */
  flag: string;
  type: 'int' | 'float' | 'bool' | 'string';
  help: string;
  min?: number;
  /** Inclusive, unless maxExclusive. */
  max?: number;
  maxExclusive?: boolean;
  choices?: readonly string[];
  /**
   * May differ when a run is resumed: it changes neither the model nor the steps already taken, only how long
   * the run goes on and how often it is measured. Everything else would make the resumed run a different run.
   */
  resumable?: boolean;
  /** What a stored run that lacks the field (written before it existed) meant; absent: the field is required. */
  absentIs?: boolean | number | string | ((stored: Record<string, unknown>) => unknown);
}

/** "nEmbd" -> "n-embd": the flags are the config's names in kebab-case, as nanoGPT's are its globals' names. */
export function kebab(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/**
 * Keyed by field, so that a field added to RunConfig without a range here is a compile error. `flag` renames a
 * field's flag: `kind` is --model, the word a user looks for.
 */
const SPECS: { [K in RunKey]: Omit<HyperparameterSpec, 'key' | 'flag'> & { flag?: string } } = {
  kind: { type: 'string', choices: ['bigram', 'gpt'], help: 'model family', flag: 'model' },
  style: {
    type: 'string',
    choices: ['nanogpt', 'lecture'],
    help: "GPT form: nanoGPT (GELU, fused qkv, tied head) or the lecture's gpt.py",
  },
  nLayer: { type: 'int', min: 1, max: 256, help: 'transformer blocks' },
  nHead: { type: 'int', min: 1, max: 1024, help: 'attention heads per block' },
  nEmbd: { type: 'int', min: 1, max: 65536, help: 'embedding width' },
  dropout: { type: 'float', min: 0, max: 1, maxExclusive: true, help: 'dropout probability' },
  bias: { type: 'bool', help: 'biases in Linear layers and LayerNorms' },
  rotary: { type: 'bool', absentIs: false, help: 'rotary position embeddings instead of learned ones (nanogpt form)' },
  qkNorm: { type: 'bool', absentIs: false, help: "RMS-normalise each head's query and key (QK-norm; nanogpt form)" },
  activation: {
    type: 'string',
    choices: ACTIVATIONS,
    // Run folders from before the activation was a choice were trained with their style's form of then.
    absentIs: (stored) => activationOf({ style: stored.style === 'nanogpt' ? 'nanogpt' : 'lecture' }),
    help: "the MLP's non-linearity: gelu (exact, nanoGPT's), gelu_tanh (GPT-2's), relu2 (ReLU squared) or relu (nanogpt form; the lecture's is relu)",
  },
  zeroInitProjections: { type: 'bool', absentIs: false, help: "start the residual branches' c_proj weights at zero (nanogpt form)" },
  untiedHead: { type: 'bool', absentIs: false, help: 'an output head of its own, not the token embedding (nanogpt form)' },
  logitSoftcap: { type: 'float', min: 0, max: 1e4, absentIs: 0, help: 'logits = cap tanh(logits / cap); 0: no cap (nanogpt form)' },
  norm: {
    type: 'string',
    choices: NORM_KINDS,
    absentIs: 'layernorm',
    help: 'the norm of ln_1, ln_2 and ln_f: layernorm, or rmsnorm (no gain, as modded-nanogpt; nanogpt form)',
  },
  blockSize: { type: 'int', min: 1, max: 65536, help: 'context length T' },
  batchSize: { type: 'int', min: 1, max: 65536, help: 'sequences per micro-batch B' },
  maxIters: { type: 'int', min: 0, max: 1e9, help: 'optimizer steps', resumable: true },
  evalInterval: { type: 'int', min: 1, max: 1e9, help: 'evaluate (and save) every this many steps', resumable: true },
  evalIters: { type: 'int', min: 1, max: 1e6, help: 'batches per split in each evaluation', resumable: true },
  learningRate: { type: 'float', min: 1e-12, max: 10, help: 'peak learning rate' },
  decayLr: { type: 'bool', help: 'warm-up then cosine decay (else a constant rate)' },
  minLr: { type: 'float', min: 0, max: 10, help: 'learning rate at the end of the decay' },
  warmupIters: { type: 'int', min: 0, max: 1e9, help: 'linear warm-up steps' },
  lrDecayIters: { type: 'int', min: 0, max: 1e9, help: 'step at which the decay reaches min-lr' },
  weightDecay: { type: 'float', min: 0, max: 10, help: 'AdamW decoupled weight decay (2-D weights only)' },
  beta1: { type: 'float', min: 0, max: 1, maxExclusive: true, help: 'AdamW beta1' },
  beta2: { type: 'float', min: 0, max: 1, maxExclusive: true, help: 'AdamW beta2' },
  gradClip: { type: 'float', min: 0, max: 1e6, help: 'clip the global gradient norm to this (0: off)' },
  optimizer: {
    type: 'string',
    choices: OPTIMIZER_KINDS,
    absentIs: 'adamw',
    help: "adamw, or muon: Muon on the blocks' 2-D weights, AdamW on the rest (GPT only)",
  },
  muonLr: {
    type: 'float',
    min: 1e-12,
    max: 10,
    absentIs: 0.02,
    help: "Muon's peak learning rate (the schedule scales it as --learning-rate)",
  },
  muonMomentum: { type: 'float', min: 0, max: 1, maxExclusive: true, absentIs: 0.95, help: "Muon's (Nesterov) momentum" },
  gradientAccumulationSteps: { type: 'int', min: 1, max: 1e6, help: 'micro-batches per optimizer step' },
  seed: { type: 'int', min: 0, max: 4294967295, help: 'random seed (init, batches, dropout)' },
};

/** In the order --help lists them. */
export const HYPERPARAMETERS: readonly HyperparameterSpec[] = (Object.keys(SPECS) as RunKey[]).map((key) => ({
  key,
  ...SPECS[key],
  flag: SPECS[key].flag ?? kebab(key),
}));

/** The GPT-only sizes, which a bigram run records as 0. */
const GPT_ONLY = new Set<RunKey>(['nLayer', 'nHead', 'nEmbd']);

/**
 * Checks a stored run config field by field against the table; `label` names the file and section. Run folders
 * written before `model` was renamed `kind` are read too.
 */
export function parseRunConfig(value: unknown, label: string): RunConfig {
  const obj = { ...asObject(value, label) };
  if (!('kind' in obj) && 'model' in obj) {
    obj.kind = obj.model;
    delete obj.model;
  }
  const bigram = obj.kind === 'bigram';
  const out: Record<string, unknown> = {};
  for (const spec of HYPERPARAMETERS) {
    const v = obj[spec.key] ?? (typeof spec.absentIs === 'function' ? spec.absentIs(obj) : spec.absentIs);
    const where = `${label}.${spec.key}`;
    switch (spec.type) {
      case 'bool':
        if (typeof v !== 'boolean') throw new TsgptError(`${where} must be true or false, got ${describe(v)}`);
        break;
      case 'string':
        if (typeof v !== 'string' || !spec.choices!.includes(v)) {
          throw new TsgptError(`${where} must be one of ${spec.choices!.join(', ')}, got ${describe(v)}`);
        }
        break;
      default: {
        const min = bigram && GPT_ONLY.has(spec.key) ? 0 : spec.min!;
        const ok =
          typeof v === 'number' &&
          Number.isFinite(v) &&
          (spec.type === 'float' || Number.isSafeInteger(v)) &&
          v >= min &&
          (spec.maxExclusive ? v < spec.max! : v <= spec.max!);
        if (!ok) {
          const kind = spec.type === 'int' ? 'an integer' : 'a number';
          throw new TsgptError(
            `${where} must be ${kind} from ${min} to ${spec.max}${spec.maxExclusive ? ' (exclusive)' : ''}, got ${describe(v)}`,
          );
        }
      }
    }
    out[spec.key] = v;
  }
  return out as unknown as RunConfig;
}
