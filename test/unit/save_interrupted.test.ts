/**
 * Saves interrupted at chosen writes, replayed deterministically: the kill test (test/cli/kill.test.ts) finds
 * such sequences by chance, this one walks the one it once found. A save killed between its two config.json
 * writes leaves config.json naming two weights files (the old best and the coming one) while the old file is
 * still in place. The next save, after a resume, must vouch only for what is on disk: the folder loads after
 * every step below.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Rng } from '../../src/engine/random.js';
import { splitTrainVal } from '../../src/data/split.js';
import { createModel } from '../../src/models/index.js';
import { CharTokenizer } from '../../src/tokenizers/char.js';
import { modelConfigFor, PRESETS, type RunConfig } from '../../src/train/config.js';
import { Trainer } from '../../src/train/trainer.js';
import { RUN_FORMAT, RUN_FORMAT_VERSION, type RunFile } from '../../src/checkpoint/run_config.js';
import { digest, loadRun, type RunWrite, saveCheckpoint, WEIGHTS_FILE } from '../../src/node/run_folder.js';
import { readResumable } from '../../src/node/run_resume.js';
import { makeCorpus } from '../helpers/corpus.js';

const dir = mkdtempSync(join(tmpdir(), 'tsgpt-interrupted-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const text = makeCorpus(4000, 3);
const tokenizer = CharTokenizer.fromText(text);
const { train, val } = splitTrainVal(tokenizer.encode(text));
const config: RunConfig = { ...PRESETS.baby, nLayer: 1, nHead: 2, nEmbd: 8, blockSize: 8, batchSize: 2, maxIters: 10 };
const trainer = new Trainer(createModel(modelConfigFor(config, tokenizer.vocabSize), new Rng(1)), config, train, val, new Rng(1));

const file: RunFile = {
  format: RUN_FORMAT,
  version: RUN_FORMAT_VERSION,
  model: modelConfigFor(config, tokenizer.vocabSize),
  tokenizer: tokenizer.toJSON(),
  run: config,
  data: 'corpus.txt',
  training: { ...trainer.state(), trainLoss: 3, valLoss: 3 },
};

class Killed extends Error {}

/** A save of the trainer's current state that dies just before the write named `killAt` (none: it completes). */
function save(previous: RunFile | null, newBest: boolean, killAt?: RunWrite): RunFile | null {
  // Each save holds different weights, so each best has its own digest.
  trainer.model.namedParameters()[0]![1].data[0]! += 1;
  const hooks = {
    beforeWrite: (what: RunWrite) => {
      if (what === killAt) throw new Killed(what);
    },
  };
  try {
    return saveCheckpoint(
      dir,
      { model: trainer.model, optimizer: trainer.optimizer, state: trainer.resumeState(), file, newBest, previous },
      hooks,
    );
  } catch (e) {
    if (!(e instanceof Killed)) throw e;
    return null;
  }
}

function loads(where: string): void {
  assert.doesNotThrow(() => loadRun(dir).model.dispose(), where);
}

function bestDigest(): string {
  return digest(readFileSync(join(dir, WEIGHTS_FILE))).sha256;
}

test('a save killed between its config.json writes, then a resumed save: the folder loads at every step', () => {
  const first = save(null, true)!;
  loads('after the first save');
  const firstBest = bestDigest();

  // Killed after config.json was widened to name both bests, before the new best replaced the old one.
  assert.equal(save(first, true, 'best weights'), null);
  loads('after the kill before the best weights');
  assert.equal(bestDigest(), firstBest);

  // Resuming names only the file on disk; a save with no new best now vouches for it.
  const resumed = readResumable(dir);
  assert.deepEqual(
    resumed.file.weights?.map((w) => w.sha256),
    [firstBest],
  );
  const noBest = save(resumed.file, false)!;
  loads('after a save with no new best');

  // Killed again at the same point, and once more after the best weights but before the commit.
  assert.equal(save(noBest, true, 'best weights'), null);
  loads('after a second kill before the best weights');
  const again = readResumable(dir).file;
  assert.equal(save(again, true, 'config'), null);
  loads('after a kill before the commit');
  const last = save(readResumable(dir).file, true)!;
  loads('after a whole save');
  assert.deepEqual(
    last.weights?.map((w) => w.sha256),
    [bestDigest()],
  );
});
