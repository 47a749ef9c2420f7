/**
 * Opening a page in Debian's headless Chromium and asking it what happened, over the DevTools protocol on a
 * pipe (--remote-debugging-pipe: no port is opened at all). No npm package: the protocol is JSON messages
 * ending in a NUL byte on file descriptors 3 (to the browser) and 4 (from it).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { pathToFileURL } from 'node:url';

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

export interface PageVisit {
  /** Console errors and warnings, uncaught exceptions and browser log errors (e.g. a blocked load). */
  problems: string[];
  /** URLs the page requested other than itself (a self-contained page requests none). */
  requests: string[];
  /** Results of the `evaluate` expressions, by name. */
  values: Record<string, unknown>;
  /** Full-page PNG. */
  screenshot: Buffer;
}

interface Message {
  id?: number;
  method?: string;
  params?: Record<string, unknown>;
  result?: Record<string, unknown>;
  error?: { message: string };
  sessionId?: string;
}

/** A minimal DevTools protocol client: numbered commands, and a log of every event. */
class DevTools {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (r: Record<string, unknown>) => void; reject: (e: Error) => void }>();
  private readonly listeners: ((m: Message) => void)[] = [];
  private buffer = '';

  constructor(
    private readonly input: Writable,
    output: Readable,
  ) {
    output.setEncoding('utf8');
    output.on('data', (chunk: string) => {
      this.buffer += chunk;
      let end: number;
      while ((end = this.buffer.indexOf('\0')) >= 0) {
        const message = JSON.parse(this.buffer.slice(0, end)) as Message;
        this.buffer = this.buffer.slice(end + 1);
        if (message.id !== undefined) {
          const p = this.pending.get(message.id);
          this.pending.delete(message.id);
          if (message.error) p?.reject(new Error(`DevTools: ${message.error.message}`));
          else p?.resolve(message.result ?? {});
        } else for (const l of this.listeners) l(message);
      }
    });
  }

  send(method: string, params: Record<string, unknown> = {}, sessionId?: string): Promise<Record<string, unknown>> {
    const id = this.nextId++;
    this.input.write(`${JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) })}\0`);
    return new Promise((resolve, reject) => this.pending.set(id, { resolve, reject }));
  }

  on(listener: (m: Message) => void): void {
    this.listeners.push(listener);
  }

  waitFor(method: string, timeoutMs: number): Promise<Message> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${method}`)), timeoutMs);
      this.on((m) => {
        if (m.method === method) {
          clearTimeout(timer);
          resolve(m);
        }
      });
    });
  }

  failAll(e: Error): void {
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }
}

/**
 * Loads a local HTML file in a fresh headless Chromium (its own temporary profile), waits for it to load,
 * evaluates the given expressions, takes a full-page screenshot (or of the band `clip`) and closes the browser.
 */
export async function visitPage(
  file: string,
  evaluate: Record<string, string>,
  width = 1280,
  clip?: { y: number; height: number },
): Promise<PageVisit> {
  const profile = mkdtempSync(join(tmpdir(), 'tsgpt-chromium-'));
  const args = [
    '--headless',
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
    '--no-default-browser-check',
    `--user-data-dir=${profile}`,
    '--remote-debugging-pipe',
    'about:blank',
  ];
  // Its own process group, so that if it hangs, it and its renderer processes can be ended together.
  const browser: ChildProcess = spawn(CHROMIUM, args, { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'], detached: true });
  let stderr = '';
  browser.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const tools = new DevTools(browser.stdio[3] as Writable, browser.stdio[4] as Readable);
  const exited = new Promise<void>((resolve) => browser.once('exit', () => resolve()));
  browser.once('exit', (code) => tools.failAll(new Error(`chromium exited (${code}): ${stderr.trim().split('\n').slice(-3).join(' | ')}`)));
  try {
    const pageUrl = pathToFileURL(file).href;
    const { targetId } = (await tools.send('Target.createTarget', { url: 'about:blank' })) as { targetId: string };
    const { sessionId } = (await tools.send('Target.attachToTarget', { targetId, flatten: true })) as { sessionId: string };
    const problems: string[] = [],
      requests: string[] = [];
    tools.on((m) => {
      if (m.sessionId !== sessionId || m.params === undefined) return;
      // biome-ignore lint/suspicious/noExplicitAny: the event shapes are the protocol's; only the few fields read here matter
      const p = m.params as Record<string, any>;
      if (m.method === 'Runtime.consoleAPICalled' && (p.type === 'error' || p.type === 'warning' || p.type === 'assert')) {
        problems.push(
          `console.${p.type}: ${(p.args as { value?: unknown; description?: string }[]).map((a) => a.value ?? a.description).join(' ')}`,
        );
      } else if (m.method === 'Runtime.exceptionThrown') {
        problems.push(`exception: ${p.exceptionDetails?.exception?.description ?? p.exceptionDetails?.text}`);
      } else if (m.method === 'Log.entryAdded' && (p.entry.level === 'error' || p.entry.level === 'warning')) {
        problems.push(`log ${p.entry.level}: ${p.entry.text}${p.entry.url ? ` (${p.entry.url})` : ''}`);
      } else if (m.method === 'Network.requestWillBeSent' && p.request.url !== pageUrl) {
        requests.push(p.request.url as string);
      }
    });
    for (const domain of ['Runtime', 'Log', 'Page', 'Network']) await tools.send(`${domain}.enable`, {}, sessionId);
    await tools.send('Emulation.setDeviceMetricsOverride', { width, height: 900, deviceScaleFactor: 1, mobile: false }, sessionId);
    const loaded = tools.waitFor('Page.loadEventFired', 30_000);
    const nav = await tools.send('Page.navigate', { url: pageUrl }, sessionId);
    if (nav.errorText) throw new Error(`navigation failed: ${String(nav.errorText)}`);
    await loaded;
    const values: Record<string, unknown> = {};
    for (const [name, expression] of Object.entries(evaluate)) {
      const r = (await tools.send('Runtime.evaluate', { expression, returnByValue: true }, sessionId)) as {
        result: { value?: unknown };
        exceptionDetails?: { text: string };
      };
      if (r.exceptionDetails) throw new Error(`evaluating ${name}: ${r.exceptionDetails.text}`);
      values[name] = r.result.value;
    }
    const { cssContentSize } = (await tools.send('Page.getLayoutMetrics', {}, sessionId)) as {
      cssContentSize: { width: number; height: number };
    };
    const shot = (await tools.send(
      'Page.captureScreenshot',
      {
        format: 'png',
        captureBeyondViewport: true,
        clip: {
          x: 0,
          y: clip?.y ?? 0,
          width: Math.ceil(cssContentSize.width),
          height: clip?.height ?? Math.ceil(cssContentSize.height),
          scale: 1,
        },
      },
      sessionId,
    )) as { data: string };
    // Let late console messages (e.g. from layout) arrive before reporting.
    await new Promise((r) => setTimeout(r, 200));
    return { problems, requests, values, screenshot: Buffer.from(shot.data, 'base64') };
  } finally {
    try {
      await Promise.race([tools.send('Browser.close'), exited]);
    } catch {
      // Already gone.
    }
    if (browser.exitCode === null && browser.pid !== undefined) {
      try {
        process.kill(-browser.pid, 'SIGKILL');
      } catch {
        // Exited meanwhile.
      }
    }
    await exited;
    rmSync(profile, { recursive: true, force: true });
  }
}
