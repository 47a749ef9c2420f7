/**
 * The playground in Debian's headless Chromium, served by `tsgpt serve` (cross-origin isolated) on 127.0.0.1:
 *
 * - the page loads with no console errors or failed requests, on a laptop's screen and a phone's, with no
 *   horizontal overflow, and its worker computes on every core;
 * - a small GPT trains from the address (?preset=...&autostart=1) on 2 threads, is stopped and resumed, and
 *   its losses equal `tsgpt train`'s at the same seed bit for bit (both run the relaxed-SIMD build: Chromium
 *   validates it, and tsgpt turns it on in Node); its downloaded zip is a run folder whose weights are the
 *   command line's, which `tsgpt sample --from` samples and `tsgpt train --resume` continues;
 * - a run trained by the command line, loaded through the folder picker, samples the text `tsgpt sample`
 *   writes at the same seed, and its attention shows on hover;
 * - a page that is not cross-origin isolated computes on 1 thread and says why, naming the two headers; asked
 *   for the plain-SIMD build (&simd=plain), its losses equal `TSGPT_SIMD=plain tsgpt train`'s bit for bit.
 *
 * Screenshots of each state: set TSGPT_SCREENSHOTS=DIR to keep them (playground-*.png).
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { readZip } from '../../src/io/zip.js';
import { startStaticServer } from '../../src/node/static_server.js';
import { parseLossLog } from '../../src/viz/loss_log.js';
import { chromiumMissing, keepScreenshot, launchChromium, openPage, type Visit } from '../helpers/browser.js';
import { CliProcess, runCli, tsgptIn } from '../helpers/cli_process.js';
import { SHAKESPEARE_PATH } from '../helpers/fixtures.js';

const SHAKESPEARE = fileURLToPath(SHAKESPEARE_PATH);
const SITE = fileURLToPath(new URL('../../browser/', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'tsgpt-playground-'));
const unavailable = chromiumMissing();

/** A small GPT with dropout (every generator in play), a warm-up and a decay: seconds to train. */
const TINY: Record<string, string> = {
  'n-layer': '2',
  'n-head': '2',
  'n-embd': '32',
  'block-size': '32',
  'batch-size': '8',
  dropout: '0.1',
  'max-iters': '40',
  'eval-interval': '10',
  'eval-iters': '2',
  'warmup-iters': '4',
  'lr-decay-iters': '40',
};
/** Smaller still, for the one-thread page: a few seconds on one core. */
const PLAIN_TINY: Record<string, string> = {
  'n-layer': '1',
  'n-head': '2',
  'n-embd': '16',
  'block-size': '16',
  'batch-size': '4',
  'max-iters': '12',
  'eval-interval': '6',
  'eval-iters': '2',
  'warmup-iters': '2',
  'lr-decay-iters': '12',
};
const tinyFlags = Object.entries(TINY).flatMap(([k, v]) => [`--${k}`, v]);

let browser: Browser;
let serve: CliProcess;
let site: string;

before(async () => {
  if (unavailable !== null) return;
  browser = await launchChromium();
  serve = new CliProcess(dir, ['serve', '--port', '0', '--data', SHAKESPEARE]);
  for (let i = 0; i < 600 && !/http:\S+/.test(serve.stdout); i++) await new Promise((r) => setTimeout(r, 50));
  site = /http:\S+/.exec(serve.stdout)?.[0] ?? assert.fail(`tsgpt serve printed no address:\n${serve.stderr}`);
});

after(async () => {
  await browser?.close();
  if (serve !== undefined) {
    serve.child.kill('SIGINT');
    const r = await serve.done;
    assert.equal(r.code, 0, `tsgpt serve: ${r.stderr}`);
  }
  rmSync(dir, { recursive: true, force: true });
});

const metric = (page: Page, name: string) => page.locator(`[data-metric="${name}"]`);
const state = (page: Page) => page.evaluate(() => document.body.dataset.state);

/** Waits until the page's worker is up and it is idle. */
async function ready(page: Page): Promise<void> {
  await page.waitForFunction(() => document.querySelector<HTMLElement>('[data-metric="threads"]')?.dataset.value !== undefined, null, {
    timeout: 60_000,
  });
}

async function waitForState(page: Page, wanted: string, timeout = 120_000): Promise<void> {
  await page.waitForFunction((s) => document.body.dataset.state === s || document.body.dataset.state === 'error', wanted, { timeout });
  if (wanted !== 'error') assert.equal(await state(page), wanted, `the page says: ${await page.locator('#error').textContent()}`);
}

async function shot(visit: Visit, name: string): Promise<void> {
  keepScreenshot(`playground-${name}.png`, await visit.page.screenshot({ fullPage: true }));
}

/** Writes a zip's files under `into`; returns the folder they unpack into. */
async function unzip(bytes: Uint8Array, into: string): Promise<string> {
  const entries = await readZip(bytes, 'the downloaded zip');
  for (const e of entries) {
    mkdirSync(dirname(join(into, e.name)), { recursive: true });
    writeFileSync(join(into, e.name), e.bytes);
  }
  return join(into, entries[0]!.name.split('/')[0]!);
}

const log = (run: string) => parseLossLog(readFileSync(join(run, 'log.jsonl'), 'utf8'), run);
const config = (run: string) => JSON.parse(readFileSync(join(run, 'config.json'), 'utf8')) as { weights: { sha256: string }[] };
const sampleText = (stdout: string) => stdout.replace(/\n---------------\n$/, '');

/** The command line's run of TINY, made once for the tests that compare with it. */
let cliRun: Promise<string> | null = null;
function commandLineRun(): Promise<string> {
  cliRun ??= Promise.resolve().then(() => {
    const out = join(dir, 'cli-run');
    const r = tsgptIn(dir, 'train', '--preset', 'baby', '--data', SHAKESPEARE, ...tinyFlags, '--threads', '2', '--out', out);
    assert.equal(r.code, 0, r.stderr);
    return out;
  });
  return cliRun;
}

test('the page loads with no console errors on a laptop and a phone, and its worker computes on every core', async (t) => {
  if (unavailable !== null) return t.skip(unavailable);
  for (const screen of ['laptop', 'phone'] as const) {
    const visit = await openPage(browser, screen);
    try {
      await visit.page.goto(site);
      await ready(visit.page);
      await visit.page.waitForFunction(() => !document.querySelector<HTMLButtonElement>('#start')!.disabled);
      assert.equal(await state(visit.page), 'idle');
      assert.equal(await visit.page.title(), 'tsgpt playground');
      const cores = await visit.page.evaluate(() => navigator.hardwareConcurrency);
      assert.equal(await metric(visit.page, 'threads').getAttribute('data-value'), String(cores));
      assert.equal(await visit.page.evaluate(() => crossOriginIsolated), true);
      assert.equal(await visit.page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth), 0);
      assert.match((await visit.page.locator('#text-line').textContent()) ?? '', /^1,115,394 characters, 65 distinct/);
      await shot(visit, `idle-${screen}`);
      assert.deepEqual(visit.problems, []);
    } finally {
      await visit.context.close();
    }
  }
});

test("a GPT trained in the page on 2 threads, stopped and resumed, has tsgpt train's losses and weights bit for bit", async (t) => {
  if (unavailable !== null) return t.skip(unavailable);
  const reference = commandLineRun();
  const visit = await openPage(browser);
  const { page } = visit;
  try {
    const query = new URLSearchParams({ preset: 'baby', ...TINY, threads: '2', autostart: '1' });
    // The page presses Stop itself as soon as it shows a step: a tiny model trains faster than a test could click,
    // and the page shows the figures at most twice a second (the first step at once), so 40 steps can be over
    // before it shows a later one.
    await page.addInitScript(() => {
      addEventListener('DOMContentLoaded', () => {
        const step = document.querySelector<HTMLElement>('[data-metric="step"]')!;
        const watch = new MutationObserver(() => {
          if (Number(step.dataset.value) >= 1) {
            watch.disconnect();
            document.querySelector<HTMLButtonElement>('#stop')!.click();
          }
        });
        watch.observe(step, { attributes: true });
      });
    });
    await page.goto(`${site}?${query}`);
    await page.waitForFunction(
      () =>
        document.body.dataset.state !== 'training' &&
        Number(document.querySelector<HTMLElement>('[data-metric="step"]')!.dataset.value) > 0,
      null,
      { timeout: 60_000 },
    );
    assert.equal(await state(page), 'idle');
    assert.equal(await metric(page, 'threads').textContent(), '2 threads · relaxed SIMD');
    const stoppedAt = Number(await metric(page, 'step').getAttribute('data-value'));
    assert.ok(stoppedAt >= 1 && stoppedAt < 40, `stopped at step ${stoppedAt}`);
    await shot(visit, 'stopped');
    await page.click('#resume');
    await page.waitForFunction(() => document.body.dataset.state === 'training');
    await shot(visit, 'training');
    await waitForState(page, 'done');
    await shot(visit, 'done');

    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
    const run = await unzip(readFileSync((await download.path())!), join(dir, 'from-browser'));
    const cli = await reference;
    const [mine, theirs] = [log(run), log(cli)];
    assert.equal(mine.steps.length, 40);
    assert.deepEqual(
      mine.steps.map((s) => s.loss),
      theirs.steps.map((s) => s.loss),
      'step losses differ from tsgpt train',
    );
    assert.deepEqual(mine.evals, theirs.evals, 'evaluations differ from tsgpt train');
    assert.equal(config(run).weights[0]!.sha256, config(cli).weights[0]!.sha256, 'the best weights differ');
    const last = mine.evals.at(-1)!;
    assert.equal(Number(await metric(page, 'val_loss').getAttribute('data-value')), last.valLoss);
    assert.equal(Number(await metric(page, 'val_loss').textContent()), Number(last.valLoss.toFixed(4)));
    assert.ok(last.valLoss < mine.evals[0]!.valLoss - 0.3, `the loss did not fall: ${JSON.stringify(mine.evals)}`);

    // The command line takes the browser's folder: it samples it as its own, and trains it further.
    const sample = (from: string) => tsgptIn(dir, 'sample', '--from', from, '--tokens', '60', '--seed', '3');
    const [a, b] = [sample(run), sample(cli)];
    assert.equal(a.code, 0, a.stderr);
    assert.equal(a.stdout, b.stdout);
    const resumed = tsgptIn(dir, 'train', '--resume', run, '--data', SHAKESPEARE, '--max-iters', '42');
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.deepEqual(visit.problems, []);
  } finally {
    await visit.context.close();
  }
});

test('a run trained by tsgpt train, loaded in the page, samples the same text at the same seed; attention shows on hover', async (t) => {
  if (unavailable !== null) return t.skip(unavailable);
  const cli = await commandLineRun();
  const visit = await openPage(browser);
  const { page } = visit;
  try {
    await page.goto(site);
    await ready(page);
    await page.setInputFiles('#run-folder', cli);
    await page.locator('#summary').waitFor({ state: 'visible' });
    assert.match((await page.locator('#summary').textContent()) ?? '', /GPT \(nanogpt\): 2 layers, 2 heads, width 32, context 32; loaded/);
    await page.fill('#start-text', 'ROMEO:');
    await page.fill('#tokens', '120');
    await page.fill('#top-k', '40');
    await page.locator('#top-p').fill('0.9');
    await page.fill('#seed', '7');
    await page.click('#generate');
    await page.waitForFunction(() => !document.querySelector<HTMLButtonElement>('#generate')!.disabled, null, { timeout: 60_000 });
    const inPage = await page.locator('#sample-output').textContent();
    const r = tsgptIn(
      dir,
      'sample',
      '--from',
      cli,
      '--start',
      'ROMEO:',
      '--tokens',
      '120',
      '--top-k',
      '40',
      '--top-p',
      '0.9',
      '--seed',
      '7',
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(inPage, sampleText(r.stdout));
    await shot(visit, 'loaded-and-sampled');

    await page.fill('#attention-text', 'ROMEO: But soft');
    await page.click('#show-attention');
    const tokens = page.locator('#attention-tokens span');
    await tokens.first().waitFor();
    assert.equal(await tokens.count(), 'ROMEO: But soft'.length);
    await tokens.nth(9).hover();
    const shading = await tokens.evaluateAll((spans) =>
      spans.map((s) => [s.className, Number(getComputedStyle(s).getPropertyValue('--w'))]),
    );
    assert.match(String(shading[9]![0]), /\bquery\b/);
    assert.ok(
      shading.slice(10).every(([c]) => /\bfuture\b/.test(String(c))),
      'positions after the query are masked',
    );
    assert.ok(
      shading.slice(0, 10).some(([, w]) => w === 1),
      'the most attended position is shaded fully',
    );
    assert.equal(await page.locator('#heatmap svg').count(), 1);
    await shot(visit, 'attention');
    assert.deepEqual(visit.problems, []);
  } finally {
    await visit.context.close();
  }
});

test('a page that is not cross-origin isolated computes on 1 thread and names the two headers; bad addresses are one line', async (t) => {
  if (unavailable !== null) return t.skip(unavailable);
  const text = readFileSync(SHAKESPEARE);
  const server = await startStaticServer({
    root: SITE,
    isolated: false,
    routes: { '/data/default.txt': async () => ({ body: text, type: 'text/plain; charset=utf-8' }) },
  });
  t.after(() => server.close());
  const visit = await openPage(browser, 'phone');
  const { page } = visit;
  try {
    // A GPT smaller still, on the plain-SIMD build: the command line forced to it (TSGPT_SIMD=plain) must give
    // the same bits, and its default (relaxed SIMD's fused multiply-add) other bits.
    const query = new URLSearchParams({ preset: 'baby', ...PLAIN_TINY, simd: 'plain', autostart: '1' });
    await page.goto(`${server.url}?${query}`);
    await waitForState(page, 'done');
    assert.equal(await page.evaluate(() => crossOriginIsolated), false);
    assert.equal(await metric(page, 'threads').textContent(), '1 thread · plain SIMD');
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
    const run = await unzip(readFileSync((await download.path())!), join(dir, 'plain-from-browser'));
    const plainFlags = Object.entries(PLAIN_TINY).flatMap(([k, v]) => [`--${k}`, v]);
    const trainFlags = ['train', '--preset', 'baby', '--data', SHAKESPEARE, ...plainFlags, '--threads', '1'];
    const cliRun = (out: string, simd: string) => {
      const r = runCli(dir, [...trainFlags, '--out', join(dir, out)], { env: { TSGPT_SIMD: simd } });
      assert.equal(r.code, 0, r.stderr);
      return join(dir, out);
    };
    const plain = cliRun('plain-cli', 'plain');
    assert.deepEqual(
      log(run).steps.map((s) => s.loss),
      log(plain).steps.map((s) => s.loss),
      'plain SIMD: the page and TSGPT_SIMD=plain tsgpt train differ',
    );
    assert.equal(config(run).weights[0]!.sha256, config(plain).weights[0]!.sha256, 'plain SIMD: the best weights differ');
    // A few steps' losses may round alike on both builds; the weights keep the fused multiply-add's last bits.
    const relaxed = cliRun('relaxed-cli', 'relaxed');
    assert.notEqual(config(run).weights[0]!.sha256, config(relaxed).weights[0]!.sha256, "relaxed SIMD gave the plain build's bits");
    const note = (await page.locator('#note').textContent()) ?? '';
    assert.match(
      note,
      /not cross-origin isolated.*'Cross-Origin-Opener-Policy: same-origin'.*'Cross-Origin-Embedder-Policy: require-corp'/,
    );
    await shot(visit, 'not-isolated-phone');
    // One message, from the worker that fell back: the same words.
    assert.equal(visit.problems.length, 1, visit.problems.join('\n'));
    assert.match(visit.problems[0]!, /^worker .*console\.warning: tsgpt: computing on 1 thread: this page is not cross-origin isolated/);
    // Asking for 2 threads here is an error that says what to do.
    const twoThreads = await page.evaluate(async () => {
      const tsgpt = await import('./tsgpt.js' as string);
      return tsgpt.createBrowserKernels({ threads: 2 }).then(
        () => 'started',
        (e: Error) => `${e.name}: ${e.message}`,
      );
    });
    assert.match(
      twoThreads,
      /^TsgptError: 2 threads need a shared memory \(SharedArrayBuffer\), which a browser gives only to a cross-origin isolated page/,
    );
  } finally {
    await visit.context.close();
  }
  for (const [address, message] of [
    ['?preset=huge&autostart=1', /preset "huge"; presets are bigram, baby, fast, lecture/i],
    ['?max-iters=ten', /option --max-iters takes an integer from 0 to 1000000000, got "ten"/i],
    [
      '?threads=2&autostart=1',
      /^2 threads need a shared memory \(SharedArrayBuffer\), which a browser gives only to a cross-origin isolated page/,
    ],
  ] as const) {
    const v = await openPage(browser);
    try {
      await v.page.goto(`${server.url}${address}`);
      await waitForState(v.page, 'error');
      assert.equal(await state(v.page), 'error');
      assert.match((await v.page.locator('#error').textContent()) ?? '', message);
      if (address.includes('huge')) await shot(v, 'error');
    } finally {
      await v.context.close();
    }
  }
});
