/**
 * The browser kit from a page of another origin, as a page that imports tsgpt from a CDN would use it: a
 * cross-origin isolated page on one 127.0.0.1 port imports the package from a server on another (with CORS,
 * as CDNs send), both as the single-file build (browser/tsgpt.js) and as the package's own modules
 * (src/index.js). Helper threads come up (started through a same-origin shim) and are counted; a helper
 * script that does not load is an error naming it; TrainingWorker trains, saves a zip, and the page reads it
 * back as a run folder.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startStaticServer } from '../../src/node/static_server.js';
import { chromiumMissing, launchChromium, openPage } from '../helpers/browser.js';

const DIST = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'tsgpt-kit-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const unavailable = chromiumMissing();

test('the kit from another origin: threads counted, a missing helper script named, training in a worker, a zip read back', async (t) => {
  if (unavailable !== null) return t.skip(unavailable);
  writeFileSync(join(dir, 'index.html'), '<!doctype html><html lang="en"><title>kit</title><link rel="icon" href="data:,"><p>kit</p>');
  const page = await startStaticServer({ root: dir });
  const cdn = await startStaticServer({ root: DIST, crossOrigin: true });
  const browser = await launchChromium();
  t.after(async () => {
    await browser.close();
    await page.close();
    await cdn.close();
  });
  const visit = await openPage(browser);
  await visit.page.goto(page.url);
  assert.equal(await visit.page.evaluate(() => crossOriginIsolated), true);
  for (const entry of ['browser/tsgpt.js', 'src/index.js']) {
    const r = await visit.page.evaluate(
      async ([base, entry]) => {
        const tsgpt = await import(base + entry);
        const cores = navigator.hardwareConcurrency;
        const k = await tsgpt.createBrowserKernels({ threads: 'auto' });
        const kernels = { threads: k.threads, helpers: k.kernels.helpersRunning(), variant: k.variant, note: k.note };
        k.kernels.dispose();
        const missing = await tsgpt.createBrowserKernels({ threads: 2, kernelWorkerUrl: `${base}missing.js` }).then(
          () => 'started',
          (e: Error) => `${e.name}: ${e.message}`,
        );
        const worker = await tsgpt.TrainingWorker.start({ threads: 2 });
        const text = 'to be or not to be, that is the question:\nwhether tis nobler in the mind to suffer\n'.repeat(40);
        const steps: number[] = [];
        const outcome = await worker.train(
          text,
          { ...tsgpt.PRESETS.bigram, maxIters: 6, evalInterval: 3, evalIters: 2, batchSize: 4 },
          { onStep: (s: { step: number }) => steps.push(s.step) },
        );
        const zip: Uint8Array<ArrayBuffer> = await worker.saveRun('kit-run');
        const threads = worker.threads;
        worker.terminate();
        const run = await tsgpt.loadRunFolder(new Blob([zip]), 'kit-run.zip');
        const loaded = { kind: run.file.model.kind, step: run.file.training.step, vocab: run.tokenizer.vocabSize };
        run.model.dispose();
        return { cores, kernels, missing, threads, steps, outcome, loaded };
      },
      [cdn.url, entry] as const,
    );
    assert.equal(r.kernels.threads, r.cores, entry);
    assert.equal(r.kernels.helpers, r.cores - 1, `${entry}: every helper is running`);
    assert.equal(r.kernels.variant, 'relaxed-simd');
    assert.equal(r.kernels.note, null);
    assert.match(r.missing, new RegExp(`^TsgptError: the kernels' helper threads did not start from ${cdn.url}missing\\.js: `), entry);
    assert.equal(r.threads.threads, 2);
    assert.deepEqual(r.steps, [1, 2, 3, 4, 5, 6]);
    assert.deepEqual(r.outcome, { step: 6, maxIters: 6, stopped: false, bestValLoss: r.outcome.bestValLoss });
    assert.deepEqual(r.loaded, {
      kind: 'bigram',
      step: 6,
      vocab: new Set('to be or not to be, that is the question:\nwhether tis nobler in the mind to suffer\n').size,
    });
  }
  // The failed helper scripts are the only problems: one 404 for each entry's attempt.
  assert.ok(
    visit.problems.every((p) => /missing\.js/.test(p)),
    visit.problems.join('\n'),
  );
  await visit.context.close();
});
