/**
 * Debian's headless Chromium, driven by playwright-core (which downloads no browser: it is given the
 * executable). Playwright rather than a hand-written DevTools client because the browser tests click, type,
 * hand files to inputs, catch downloads, emulate a phone and listen to workers' consoles, and Playwright
 * waits for all of that properly.
 *
 * Every page records its problems: console errors and warnings (its workers' too), uncaught exceptions, and
 * failed requests. Set TSGPT_SCREENSHOTS=DIR to keep the screenshots the tests take.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

/**
 * Why the browser tests cannot run here, or null when they can. Chromium is installed by .ci/run (Debian's
 * package), never by a test: on a developer's machine without it the browser tests skip with this reason, and
 * in CI (CI=true) a missing browser is a failure, so the tests never pass there by not running.
 */
export function chromiumMissing(): string | null {
  if (existsSync(CHROMIUM)) return null;
  const reason = `${CHROMIUM} is missing: install Debian's chromium package (apt-get install chromium), as .ci/run does`;
  if (process.env.CI === 'true') throw new Error(`${reason}; CI must run the browser tests`);
  return reason;
}

/**
 * A headless Chromium with a fresh profile. The flags keep it off the network it would otherwise call on its
 * own (this machine's closed network refuses those connections, and tests must not depend on them).
 */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-extensions',
      '--disable-dev-shm-usage',
      '--hide-scrollbars',
      '--mute-audio',
    ],
  });
}

export const LAPTOP = { width: 1366, height: 768 };
export const PHONE = { width: 390, height: 844 };

export interface Visit {
  context: BrowserContext;
  page: Page;
  /** Console errors and warnings (of the page and its workers), uncaught exceptions, failed requests. */
  problems: string[];
  /** The text of every console message, for tests that expect one. */
  messages: string[];
  /** URLs requested other than the page itself. */
  requests: string[];
}

/** A new page in a context of its own (its own storage and downloads), at a laptop's or a phone's size. */
export async function openPage(browser: Browser, screen: 'laptop' | 'phone' = 'laptop'): Promise<Visit> {
  const phone = screen === 'phone';
  const context = await browser.newContext({
    viewport: phone ? PHONE : LAPTOP,
    deviceScaleFactor: 1,
    isMobile: phone,
    hasTouch: phone,
    acceptDownloads: true,
  });
  const page = await context.newPage();
  const problems: string[] = [],
    messages: string[] = [],
    requests: string[] = [];
  // The page's console events include its workers' messages (ConsoleMessage.worker() says whose).
  page.on('console', (m) => {
    messages.push(m.text());
    const where = m.worker() === null ? '' : `worker ${m.worker()!.url()}: `;
    if (['error', 'warning', 'assert'].includes(m.type())) problems.push(`${where}console.${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`exception: ${e.message}`));
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} (${r.failure()?.errorText})`));
  page.on('response', (r) => {
    if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`);
  });
  page.on('request', (r) => {
    if (!(r.isNavigationRequest() && r.frame() === page.mainFrame())) requests.push(r.url());
  });
  return { context, page, problems, messages, requests };
}

/** Keeps a screenshot in $TSGPT_SCREENSHOTS (if set) for a human to look at. */
export function keepScreenshot(name: string, png: Buffer): void {
  const keep = process.env.TSGPT_SCREENSHOTS;
  if (keep === undefined || keep === '') return;
  mkdirSync(keep, { recursive: true });
  writeFileSync(join(keep, name), png);
}

/** The width and height in a PNG's header. */
export function pngSize(png: Buffer): [number, number] {
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'not a PNG');
  return [png.readUInt32BE(16), png.readUInt32BE(20)];
}
