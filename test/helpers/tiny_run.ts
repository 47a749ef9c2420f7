/** Tiny runs for tests: the flags of a model that trains in a second or two, and a run folder made with them. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tsgptIn } from './cli_process.js';
import { makeCorpus } from './corpus.js';

export { tsgptIn, type CliResult } from './cli_process.js';

/** A GPT of 1 layer, 2 heads, width 16 and context 16, trained in batches of 4. */
export const TINY_GPT = ['--n-layer', '1', '--n-head', '2', '--n-embd', '16', '--block-size', '16', '--batch-size', '4'];

/** `tsgpt train` of TINY_GPT on `corpus`, two batches an evaluation, warm-up 3 and decay to step 30. */
export function tinyTrain(corpus: string): string[] {
  return ['train', '--data', corpus, ...TINY_GPT, '--eval-iters', '2', '--warmup-iters', '3', '--lr-decay-iters', '30'];
}

/**
 * TINY_GPT on `corpus` with dropout on (so every generator a resume must restore is in play), two batches an
 * evaluation, and a warm-up of 10 steps into a decay that ends at `decaySteps`.
 */
export function tinyRunFlags(corpus: string, decaySteps: number): string[] {
  return [
    '--data',
    corpus,
    ...TINY_GPT,
    '--dropout',
    '0.1',
    '--eval-iters',
    '2',
    '--warmup-iters',
    '10',
    '--lr-decay-iters',
    String(decaySteps),
  ];
}

/**
 * Trains a tiny model into `dir/name` and returns its path: TINY_GPT, or a bigram table; 30 steps with
 * evaluations at 0, 10, 20 and 30.
 */
export function makeTinyRun(dir: string, name: string, kind: 'gpt' | 'bigram' = 'gpt'): string {
  const corpus = join(dir, 'tiny-corpus.txt');
  writeFileSync(corpus, makeCorpus(6000));
  const out = join(dir, name);
  const model =
    kind === 'gpt' ? [...TINY_GPT, '--warmup-iters', '3', '--lr-decay-iters', '30'] : ['--preset', 'bigram', '--batch-size', '4'];
  const r = tsgptIn(
    dir,
    'train',
    '--data',
    corpus,
    '--out',
    out,
    '--max-iters',
    '30',
    '--eval-interval',
    '10',
    '--eval-iters',
    '2',
    ...model,
  );
  if (r.code !== 0) throw new Error(`tiny training run failed:\n${r.stderr}`);
  return out;
}
