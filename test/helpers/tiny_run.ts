/** Running the tsgpt command in tests, and making tiny run folders with it in a second or two. */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeCorpus } from './corpus.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `tsgpt ...args` in `cwd`, with no way to fall back to downloading Tiny Shakespeare. */
export function tsgptIn(cwd: string, ...args: string[]): CliResult {
  const env = { ...process.env, TSGPT_CACHE: join(cwd, 'cache'), TSGPT_DATA: '' };
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env, cwd, timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * Trains a tiny model into `dir/name` and returns its path: a GPT of 1 layer, 2 heads, width 16 and block
 * size 16, or a bigram table; 30 steps with evaluations at 0, 10, 20 and 30.
 */
export function makeTinyRun(dir: string, name: string, kind: 'gpt' | 'bigram' = 'gpt'): string {
  const corpus = join(dir, 'tiny-corpus.txt');
  writeFileSync(corpus, makeCorpus(6000));
  const out = join(dir, name);
  const model =
    kind === 'gpt'
      ? ['--n-layer', '1', '--n-head', '2', '--n-embd', '16', '--block-size', '16', '--warmup-iters', '3', '--lr-decay-iters', '30']
      : ['--preset', 'bigram'];
  const r = tsgptIn(
    dir,
    'train',
    '--data',
    corpus,
    '--out',
    out,
    '--batch-size',
    '4',
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
