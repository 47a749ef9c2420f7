/**
 * The report and the attention page in a real browser: Debian's headless Chromium loads each page from disk
 * with every network fetch forbidden, and the test checks there are no console errors or warnings, no
 * requests, no scripts, no horizontal overflow, and that every figure is laid out at a real size. .ci/run
 * installs Chromium; without it the test skips and says why, except in CI, where it fails.
 *
 * Set TSGPT_SCREENSHOTS=DIR to keep the full-page screenshots (report.png, attention.png) for a human to look at.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { chromiumMissing, visitPage } from '../helpers/chromium.js';
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

/** The width and height in a PNG's header. */
function pngSize(png: Buffer): [number, number] {
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'not a PNG');
  return [png.readUInt32BE(16), png.readUInt32BE(20)];
}

function keepScreenshot(name: string, png: Buffer): void {
  const keep = process.env.TSGPT_SCREENSHOTS;
  if (keep === undefined || keep === '') return;
  mkdirSync(keep, { recursive: true });
  writeFileSync(join(keep, name), png);
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

  const report = await visitPage(join(run, 'report.html'), CHECKS);
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
  assert.equal(w, 1280);
  assert.equal(h, report.values.height);

  const attention = await visitPage(join(run, 'attention', 'index.html'), CHECKS);
  keepScreenshot('attention.png', attention.screenshot);
  assert.deepEqual(attention.problems, [], 'console errors or warnings on the attention page');
  assert.deepEqual(attention.requests, []);
  assert.equal(attention.values.title, 'Attention: tiny');
  assert.equal(attention.values.svgs, 2 + 1 + 1, 'two heads, their mean and the query bars');
  assert.equal(attention.values.tinySvgs, 0);
  assert.equal(attention.values.overflow, 0);
  assert.equal(pngSize(attention.screenshot)[0], 1280);
});
