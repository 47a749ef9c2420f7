/**
 * The report and the attention page in a real browser: Debian's headless Chromium loads each page from disk
 * with every network fetch forbidden, and the test checks there are no console errors or warnings, no
 * requests, no scripts, no horizontal overflow, and that every figure is laid out at a real size. .ci/run
 * installs Chromium; without it the test skips and says why, except in CI, where it fails.
 *
 * Set TSGPT_SCREENSHOTS=DIR to keep the full-page screenshots (report.png, attention.png) for a human to look at.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { chromiumMissing, keepScreenshot, LAPTOP, launchChromium, openPage, pngSize } from '../helpers/browser.js';
import { makeTinyRun, tsgptIn } from '../helpers/tiny_run.js';

const dir = mkdtempSync(join(tmpdir(), 'tsgpt-browser-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const unavailable = chromiumMissing();

const CHECKS = {
  title: 'document.title',
  scripts: 'document.scripts.length',
  svgs: 'document.querySelectorAll("svg").length',
  // A figure squashed to nothing (a bad viewBox or width) would still count as an <svg>.
  tinySvgs:
    '[...document.querySelectorAll("svg")].filter((s) => { const r = s.getBoundingClientRect(); return r.width < 100 || r.height < 100; }).length',
  overflow: 'document.documentElement.scrollWidth - document.documentElement.clientWidth',
  headings: '[...document.querySelectorAll("h2")].map((h) => h.textContent)',
  resources: 'performance.getEntriesByType("resource").length',
  height: 'document.documentElement.scrollHeight',
};

/** Opens a page from disk, evaluates the checks and takes a full-page screenshot. */
async function visitPage(browser: Browser, file: string) {
  const visit = await openPage(browser);
  try {
    await visit.page.goto(pathToFileURL(file).href);
    const values: Record<string, unknown> = {};
    for (const [name, expression] of Object.entries(CHECKS)) values[name] = await visit.page.evaluate(expression);
    const screenshot = await visit.page.screenshot({ fullPage: true });
    return { problems: visit.problems, requests: visit.requests, values, screenshot };
  } finally {
    await visit.context.close();
  }
}

test('the run report and the attention page render in headless Chromium without errors', { timeout: 60_000 }, async (t) => {
  if (unavailable !== null) {
    t.skip(`Chromium is not available: ${unavailable}`);
    return;
  }
  const run = makeTinyRun(dir, 'tiny');
  let r = tsgptIn(dir, 'report', 'tiny', '--tokens', '120');
  assert.equal(r.code, 0, r.stderr);
  r = tsgptIn(dir, 'attention', '--from', 'tiny', '--text', 'to be or not to be,\nthat is', '--query-pos', '12');
  assert.equal(r.code, 0, r.stderr);

  const browser = await launchChromium();
  t.after(() => browser.close());
  const report = await visitPage(browser, join(run, 'report.html'));
  keepScreenshot('report.png', report.screenshot);
  assert.deepEqual(report.problems, [], 'console errors or warnings on the report');
  assert.deepEqual(report.requests, [], 'the report fetched something');
  assert.equal(report.values.title, 'tsgpt run report: tiny');
  assert.equal(report.values.scripts, 0);
  assert.equal(report.values.resources, 0);
  assert.deepEqual(report.values.headings, ['Model and configuration', 'Loss', 'Samples', 'Attention']);
  assert.equal(report.values.svgs, 1 + 3, 'the loss curve, two heads and their mean');
  assert.equal(report.values.tinySvgs, 0);
  assert.equal(report.values.overflow, 0, 'the report is wider than the window');
  const [w, h] = pngSize(report.screenshot);
  assert.equal(w, LAPTOP.width);
  assert.equal(h, report.values.height);

  const attention = await visitPage(browser, join(run, 'attention', 'index.html'));
  keepScreenshot('attention.png', attention.screenshot);
  assert.deepEqual(attention.problems, [], 'console errors or warnings on the attention page');
  assert.deepEqual(attention.requests, []);
  assert.equal(attention.values.title, 'Attention: tiny');
  assert.equal(attention.values.svgs, 2 + 1 + 1, 'two heads, their mean and the query bars');
  assert.equal(attention.values.tinySvgs, 0);
  assert.equal(attention.values.overflow, 0);
  assert.equal(pngSize(attention.screenshot)[0], LAPTOP.width);
});
