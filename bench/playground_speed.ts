/**
 * The playground against the command line on this machine: trains `baby` with `tsgpt train --threads 2` and
 * then in the playground (served by `tsgpt serve`, its worker on as many threads, in Debian's headless Chromium),
 * alternating, one after the other (never at once), and prints each run's tokens/s: the median over the
 * steps after the first 10 of its log.jsonl (the page's from the run folder it downloads). Run by hand:
 *
 *   node dist/bench/playground_speed.js [--steps 120] [--rounds 3] [--threads 2] [--data PATH]
 *
 * --threads 1 separates the kernels' own speed in Chromium from the cost of sharing work between threads.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readZip } from '../src/io/zip.js';
import { launchChromium } from '../test/helpers/browser.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : fallback;
};
const steps = option('steps', '120');
const rounds = Number(option('rounds', '3'));
const threads = option('threads', '2');
const data = option('data', fileURLToPath(new URL('../../../shared/data/tinyshakespeare.txt', import.meta.url)));
const cli = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const training = { preset: 'baby', 'max-iters': steps, 'eval-interval': '1000000', 'eval-iters': '2', threads };

/** The median tokens/s of a log's steps after the first 10 (the first steps warm up the arena and the JIT). */
function tokensPerSecond(log: string): number {
  const rates = log
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { type: string; step: number; tokens_per_s: number })
    .filter((e) => e.type === 'step' && e.step > 10)
    .map((e) => e.tokens_per_s)
    .sort((a, b) => a - b);
  return rates[Math.floor(rates.length / 2)]!;
}

const dir = mkdtempSync(join(tmpdir(), 'tsgpt-playground-speed-'));
const serve = spawn(process.execPath, [cli, 'serve', '--port', '0', '--data', data], { stdio: ['ignore', 'pipe', 'inherit'] });
let printed = '';
serve.stdout.setEncoding('utf8').on('data', (s: string) => void (printed += s));
while (!/http:\S+/.test(printed)) {
  if (serve.exitCode !== null) throw new Error('tsgpt serve did not start');
  await new Promise((r) => setTimeout(r, 50));
}
const site = /http:\S+/.exec(printed)![0];
const browser = await launchChromium();
try {
  console.log(`baby, ${steps} steps, ${threads} thread(s); tokens/s (median of steps 11 on)`);
  for (let round = 1; round <= rounds; round++) {
    const out = join(dir, `cli-${round}`);
    const flags = Object.entries(training).flatMap(([k, v]) => [`--${k}`, v]);
    const r = spawnSync(process.execPath, [cli, 'train', ...flags, '--data', data, '--out', out], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`tsgpt train failed:\n${r.stderr}`);
    const command = tokensPerSecond(readFileSync(join(out, 'log.jsonl'), 'utf8'));

    const context = await browser.newContext({ acceptDownloads: true });
    const page = await context.newPage();
    await page.goto(`${site}?${new URLSearchParams({ ...training, autostart: '1' })}`);
    // Polled once a second: Playwright's default polls at every animation frame, which makes Chromium draw 60
    // frames a second on the cores the training threads use, a cost nobody watching the page pays.
    await page.waitForFunction(() => ['done', 'error'].includes(document.body.dataset.state ?? ''), null, {
      polling: 1000,
      timeout: 3_600_000,
    });
    const threads = await page.locator('[data-metric="threads"]').textContent();
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
    const zip = await readZip(readFileSync((await download.path())!), 'the downloaded run');
    const log = zip.find((e) => e.name.endsWith('/log.jsonl'));
    if (log === undefined) throw new Error('the downloaded run has no log.jsonl');
    const inPage = tokensPerSecond(new TextDecoder().decode(log.bytes));
    await context.close();
    console.log(
      `round ${round}: tsgpt train ${command.toFixed(0)}, playground ${inPage.toFixed(0)} (${threads}), ratio ${(inPage / command).toFixed(2)}`,
    );
  }
} finally {
  await browser.close();
  serve.kill('SIGINT');
  rmSync(dir, { recursive: true, force: true });
}
