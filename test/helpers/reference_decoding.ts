/**
 * Sampling written the plain way, as nanoGPT does it, for the decoders and generate to be checked against:
 * forward() over each cropped window, its last row of logits, sampleToken. Nothing here uses a decoder.
 */
import { noGrad } from '../../src/engine/autograd.js';
import { add } from '../../src/engine/ops/add.js';
import type { Rng } from '../../src/engine/random.js';
import { intTensor, type Tensor, tidy } from '../../src/engine/tensor.js';
import type { HiddenPoint } from '../../src/models/decoder.js';
import type { GPT } from '../../src/models/gpt.js';
import type { LanguageModel } from '../../src/models/language_model.js';
import { type SamplingOptions, sampleToken } from '../../src/sample/sampling.js';

/** Runs fn in eval mode without gradients, freeing its tensors, and puts the training mode back. */
function evaluating<T>(model: LanguageModel, fn: () => T): T {
  const wasTraining = model.training;
  model.eval();
  try {
    return tidy(() => noGrad(fn));
  } finally {
    model.train(wasTraining);
  }
}

/** Each window's last row of x [B, T, C], packed: [B, C]. */
function lastRowsOf(x: Tensor): Float32Array {
  const [B, T, C] = x.shape as [number, number, number];
  const out = new Float32Array(B * C);
  for (let b = 0; b < B; b++) out.set(x.data.subarray(((b + 1) * T - 1) * C, (b + 1) * T * C), b * C);
  return out;
}

/** forward()'s logits at the last position of each window (windows of one length, run as one batch). */
export function forwardLastLogits(model: LanguageModel, windows: readonly number[][]): Float32Array {
  return evaluating(model, () => lastRowsOf(model.forward(intTensor(windows.flat(), [windows.length, windows[0]!.length])).logits));
}

/** The hidden state at `point` of each window's last position, through the GPT's modules one by one. */
export function referenceHidden(model: GPT, windows: readonly number[][], point: HiddenPoint): Float32Array {
  return evaluating(model, () => {
    const [B, T] = [windows.length, windows[0]!.length];
    const ids = intTensor(windows.flat(), [B, T]);
    const tokens = model.tokenEmbedding.forward(ids),
      wpe = model.positionEmbedding;
    let x = wpe === null ? tokens : add(tokens, wpe.forward(intTensor(Array.from({ length: T }, (_, i) => i))));
    const blocks = model.blocks.items;
    for (const block of blocks.slice(0, -1)) x = block.forward(x);
    const last = blocks[blocks.length - 1]!;
    if (point === 'ffn_input') {
      const a = last.attn.forward(last.ln1 === null ? x : last.ln1.forward(x));
      const x2 = last.residual ? add(x, a) : a;
      return lastRowsOf(last.ln2 === null ? x2 : last.ln2.forward(x2));
    }
    x = last.forward(x);
    return lastRowsOf(point === 'head_input' && model.lnF !== null ? model.lnF.forward(x) : x);
  });
}

/** nanoGPT's generate: the tokens of each step, for prompts of one length. */
export function referenceGenerate(
  model: LanguageModel,
  prompts: readonly number[][],
  opts: SamplingOptions & { maxNewTokens: number; rng: Rng },
): number[][] {
  const contexts = prompts.map((p) => [...p]),
    V = model.vocabSize,
    steps: number[][] = [];
  for (let step = 0; step < opts.maxNewTokens; step++) {
    const logits = forwardLastLogits(
      model,
      contexts.map((c) => c.slice(-model.blockSize)),
    );
    steps.push(
      contexts.map((c, b) => {
        const token = sampleToken(logits.subarray(b * V, (b + 1) * V), opts, opts.rng);
        c.push(token);
        return token;
      }),
    );
  }
  return steps;
}
