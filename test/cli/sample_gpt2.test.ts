/**
 * tsgpt sample --from with GPT-2: a Hugging Face folder (the small random GPT-2 of test/fixtures/gpt2_tiny/,
 * whose logits the unit tests check against GPT-2's and nanoGPT's) samples what the library samples from the same
 * model; released models that cannot fit, unknown names and --memory are one line each. No test downloads.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Rng } from '../../src/engine/random.js';
import { loadHfFolder } from '../../src/node/hf_folder.js';
import { generate } from '../../src/sample/generate.js';
import { assertOneLineError, runCli } from '../helpers/cli_process.js';
import { FIXTURES } from '../helpers/fixtures.js';

const TINY = fileURLToPath(new URL('gpt2_tiny/', FIXTURES));
const dir = mkdtempSync(join(tmpdir(), 'tsgpt-sample-gpt2-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const tsgpt = (args: string[]) => runCli(dir, [...args, '--threads', '1']);

/** What the library samples from the folder's model: the start text, then each token decoded in turn. */
function librarySample(start: string, tokens: number, temperature: number, seed: number): string {
  const { model, tokenizer } = loadHfFolder(TINY);
  const prompt = tokenizer.encode(start);
  const ids = [...generate(model, prompt, { maxNewTokens: tokens, temperature, topK: 200, topP: 1, rng: new Rng(seed) })];
  model.dispose();
  return tokenizer.decode([...prompt, ...ids]);
}

test('sample --from a Hugging Face GPT-2 folder: the tokens the library samples from the same weights', () => {
  for (const [temperature, seed] of [
    [0, 1337],
    [0.8, 7],
  ] as const) {
    const r = tsgpt([
      'sample',
      '--from',
      TINY,
      '--start',
      ' the',
      '--tokens',
      '40',
      '--temperature',
      String(temperature),
      '--seed',
      String(seed),
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `${librarySample(' the', 40, temperature, seed)}\n---------------\n`);
  }
});

test('sample --from gpt2-large or gpt2-xl is refused before any download, naming the 4 GB limit', () => {
  for (const name of ['gpt2-large', 'gpt2-xl']) {
    const r = tsgpt(['sample', '--from', name]);
    assertOneLineError(r, /gpt2-\w+ needs \d+\.\d GB of tensor memory .* beyond tsgpt's 4\.0 GB WebAssembly arena/);
  }
});

test('an unknown model name, and --memory with GPT-2, are one line each', () => {
  assertOneLineError(
    tsgpt(['sample', '--from', 'gpt3']),
    /no run folder at gpt3, and no GPT-2 is called so \(the released ones: gpt2, gpt2-medium/,
  );
  assertOneLineError(tsgpt(['sample', '--from', TINY, '--memory', join(dir, 'mem')]), /--memory needs a run folder written by tsgpt train/);
});
