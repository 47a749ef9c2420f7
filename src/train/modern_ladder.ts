/**
 * The modern ladder (issue 15): from nanoGPT's `baby` run to today's small-model recipe, one idea per stage, each
 * stage keeping everything the stages before it added. The stages follow modded-nanogpt's speedrun records
 * (GPT-2 124M to validation loss 3.28 on 8xH100), and each names the speed-up its record claimed: the record
 * before it divided by its own time, from the records table of modded-nanogpt's README.
 *
 * The table is data: a stage is a partial RunConfig over the stage before, so a new idea is one row.
 */
import { PRESETS, type RunConfig } from './config.js';

export interface ModernStage {
  name: string;
  /** What this stage adds over the one before. */
  adds: string;
  /**
   * The speedrun record's claimed speed-up for this idea (its time to 3.28 against the record before it), or
   * null for the starting point. A record often changed more than the idea named here (see each row).
   */
  speedrunGain: number | null;
  /** The fields this stage changes; everything else is the stage before's. */
  changes: Partial<RunConfig>;
}

export const MODERN_LADDER: readonly ModernStage[] = [
  {
    name: 'baby',
    adds: "nanoGPT's CPU run: 4 layers, 4 heads, width 128, learned positions, GELU, tied head",
    speedrunGain: null,
    changes: {},
  },
  {
    // Record 2 (45 -> 31.4 minutes) is "tuned learning rate & rotary embeddings": its run.sh tripled llm.c's
    // learning rate (6e-4 to 1.8e-3). Tripled here too (1e-3 to 3e-3, min-lr kept at a tenth): with rotary
    // embeddings, 500 steps of baby at seed 1337 (decay over 500, 40 batches an evaluation) ended at validation
    // loss 2.0355 with 1e-3, 1.9921 with 2e-3 and 1.9870 with 3e-3. Record 2 also changed its schedule
    // (constant, then a linear warm-down), which tsgpt does not have: the cosine stays.
    name: 'rotary',
    adds: 'rotary position embeddings instead of learned ones; peak learning rate 3e-3',
    speedrunGain: 1.43,
    changes: { rotary: true, learningRate: 3e-3, minLr: 3e-4 },
  },
  {
    // Record 2 also switched to RMSNorm without gains; its run.sh says that "just simplifies the code but
    // doesn't speed up training", so it claims no gain of its own. Measured as its own stage all the same.
    name: 'rmsnorm',
    adds: 'RMSNorm without gains instead of LayerNorm (ln_1, ln_2, ln_f)',
    speedrunGain: null,
    changes: { norm: 'rmsnorm' },
  },
  {
    // Record 3 (31.4 -> 24.9 minutes): Muon for the blocks' 2-D weights, at its package's defaults (0.02, 0.95).
    name: 'muon',
    adds: "Muon for the blocks' 2-D weights (lr 0.02, momentum 0.95); AdamW for the rest",
    speedrunGain: 1.26,
    changes: { optimizer: 'muon' },
  },
  {
    // Record 5 (22.3 -> 15.2 minutes) also padded the embedding to a multiple of 128, which a 65-character
    // vocabulary does not need.
    name: 'relu2_qknorm_zeroinit',
    adds: 'ReLU squared, QK-norm, zero-initialised c_proj weights',
    speedrunGain: 1.47,
    changes: { activation: 'relu2', qkNorm: true, zeroInitProjections: true },
  },
  {
    // Record 8 (12.0 -> 10.8 minutes).
    name: 'untied_head',
    adds: 'an output head of its own instead of the token embedding',
    speedrunGain: 1.11,
    changes: { untiedHead: true },
  },
  {
    // Record 9 (10.8 -> 8.2 minutes) credits value and embedding skip connections, momentum warm-up (Muon's)
    // and the soft-cap together; only the soft-cap is here. 30 is that record's cap.
    name: 'logit_softcap',
    adds: 'logits soft-capped at 30 (30 tanh(logits / 30))',
    speedrunGain: 1.32,
    changes: { logitSoftcap: 30 },
  },
];

/** Each stage's whole run config: `baby` with every stage's changes up to and including its own. */
export function modernStageRuns(stages: readonly ModernStage[] = MODERN_LADDER, base: RunConfig = PRESETS.baby): RunConfig[] {
  const runs: RunConfig[] = [];
  let run = base;
  for (const stage of stages) {
    run = { ...run, ...stage.changes };
    runs.push(run);
  }
  return runs;
}
