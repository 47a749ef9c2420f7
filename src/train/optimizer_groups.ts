/**
 * Which parameters each optimizer of a run updates. With AdamW alone, all of them. With Muon, modded-nanogpt's
 * split: the blocks' 2-D hidden weights (attention's c_attn and c_proj, the MLP's c_fc and c_proj; in the
 * lecture's form its per-head key, query and value and its projections) go to Muon, and everything else
 * (the token and position embeddings, the output head, the norms' gains, every bias) stays with AdamW.
 * Embeddings and the head are 2-D too, but they are lookups and a classifier rather than hidden transforms:
 * orthogonalising their updates is what Muon's authors found not to help.
 */
import { TsgptError } from '../errors.js';
import type { Tensor } from '../engine/tensor.js';
import { GPT } from '../models/gpt.js';
import type { LanguageModel } from '../models/language_model.js';
import type { OptimizerKind } from './config.js';

export interface OptimizerGroups {
  /** In the model's parameter order. */
  adamw: [string, Tensor][];
  /** null when the run uses AdamW alone. */
  muon: [string, Tensor][] | null;
}

/** Why a model without blocks cannot take Muon: the library's and the command line's one line. */
export const MUON_NEEDS_GPT = '--optimizer muon needs a GPT (--model gpt): the bigram model has no hidden matrices for Muon';

export function optimizerGroups(model: LanguageModel, optimizer: OptimizerKind): OptimizerGroups {
  const named = model.namedParameters();
  if (optimizer === 'adamw') return { adamw: named, muon: null };
  if (!(model instanceof GPT)) {
    throw new TsgptError(MUON_NEEDS_GPT);
  }
  const hidden = new Set(model.blocks.items.flatMap((block) => block.parameters().filter((p) => p.shape.length === 2)));
  return {
    adamw: named.filter(([, p]) => !hidden.has(p)),
    muon: named.filter(([, p]) => hidden.has(p)),
  };
}
