/**
 * tsgpt serve, over HTTP with no browser: the playground and the single-file build come with the cross-origin
 * isolation headers, the training text is --data's file, nothing outside the site is served, and a wrong
 * --data or a port in use is one line. (test/browser/playground.test.ts drives the page itself.)
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { assertOneLineError, CliProcess, tsgptIn } from '../helpers/cli_process.js';

const dir = mkdtempSync(join(tmpdir(), 'tsgpt-serve-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Starts tsgpt serve and waits for the address it prints. */
async function startServe(args: string[]): Promise<{ serve: CliProcess; url: string }> {
  const serve = new CliProcess(dir, ['serve', ...args]);
  for (let i = 0; i < 600 && !/http:\S+/.test(serve.stdout) && serve.child.exitCode === null; i++)
    await new Promise((r) => setTimeout(r, 50));
  const url = /http:\S+/.exec(serve.stdout)?.[0] ?? assert.fail(`tsgpt serve printed no address:\n${serve.stderr}`);
  return { serve, url };
}

test('tsgpt serve: the page, the build and its workers cross-origin isolated; the text from --data; nothing outside the site', async () => {
  const data = join(dir, 'text.txt');
  writeFileSync(data, 'to be or not to be\n');
  const { serve, url } = await startServe(['--port', '0', '--data', data]);
  try {
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    for (const [path, type] of [
      ['', /^text\/html/],
      ['tsgpt.js', /^text\/javascript/],
      ['kernel_worker.js', /^text\/javascript/],
      ['train_worker.js', /^text\/javascript/],
      ['playground.css', /^text\/css/],
    ] as const) {
      const r = await fetch(url + path);
      assert.equal(r.status, 200, path);
      assert.match(r.headers.get('content-type') ?? '', type, path);
      assert.equal(r.headers.get('cross-origin-opener-policy'), 'same-origin', path);
      assert.equal(r.headers.get('cross-origin-embedder-policy'), 'require-corp', path);
      await r.arrayBuffer();
    }
    const text = await fetch(`${url}data/default.txt`);
    assert.equal(await text.text(), 'to be or not to be\n');
    assert.equal(decodeURIComponent(text.headers.get('x-tsgpt-source') ?? ''), data);
    for (const path of ['../package.json', '%2e%2e/package.json', '.hidden', 'nothing.js']) {
      const r = await fetch(url + path);
      assert.equal(r.status, 404, path);
      await r.arrayBuffer();
    }
    const post = await fetch(url, { method: 'POST', body: 'x' });
    assert.equal(post.status, 405);
    await post.arrayBuffer();
  } finally {
    serve.child.kill('SIGINT');
  }
  const r = await serve.done;
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
});

test('tsgpt serve: a missing --data file and a port in use are one line each', async () => {
  assertOneLineError(tsgptIn(dir, 'serve', '--port', '0', '--data', join(dir, 'missing.txt')), /missing\.txt/);
  assertOneLineError(tsgptIn(dir, 'serve', '--port', '70000'), /--port/);
  const taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  try {
    const port = (taken.address() as { port: number }).port;
    // The port stays bound while this process waits for the child (spawnSync), so the child cannot have it.
    assertOneLineError(tsgptIn(dir, 'serve', '--port', String(port)), new RegExp(`port ${port} on 127\\.0\\.0\\.1 is in use`));
  } finally {
    taken.close();
  }
});
