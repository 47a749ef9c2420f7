import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { splitTrainVal } from '../../src/data/split.js';
import { invalidUtf8Offset, loadCorpus, TINY_SHAKESPEARE } from '../../src/node/corpus.js';
import type { LoadCorpusOptions } from '../../src/node/corpus.js';
import { TsgptError } from '../../src/errors.js';

const SHAKESPEARE = fileURLToPath(new URL('../../../../shared/data/tinyshakespeare.txt', import.meta.url));
const noShakespeare = !existsSync(SHAKESPEARE) && 'shared Tiny Shakespeare not present';
const HINT = 'use --data PATH or set TSGPT_DATA to point at a local copy';

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tsgpt-corpus-'));
  try {
    await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function rejectsWith(opts: LoadCorpusOptions, message: string | RegExp): Promise<void> {
  await assert.rejects(loadCorpus({ env: {}, ...opts }), (err: unknown) => {
    assert.ok(err instanceof TsgptError, `expected TsgptError, got ${String(err)}`);
    if (typeof message === 'string') assert.equal(err.message, message);
    else assert.match(err.message, message);
    return true;
  });
}

/** A stand-in for fetch that counts calls; the tests must never reach the real network. */
function fakeFetch(reply: () => Response): { fetchImpl: typeof fetch; calls: () => number } {
  let calls = 0;
  const fetchImpl = (async (input: unknown) => {
    calls++;
    assert.equal(input, TINY_SHAKESPEARE.url);
    return reply();
  }) as typeof fetch;
  return { fetchImpl, calls: () => calls };
}

const unusedFetch = (async () => assert.fail('fetch must not be called')) as typeof fetch;

test('reads a UTF-8 file given by path', async () => {
  await withTempDir(async (dir) => {
    const file = join(dir, 'poem.txt');
    writeFileSync(file, 'Ça va? 😀\nOui.\n');
    const corpus = await loadCorpus({ path: file, env: { TSGPT_DATA: join(dir, 'other.txt') }, fetchImpl: unusedFetch });
    assert.deepEqual(corpus, { text: 'Ça va? 😀\nOui.\n', source: file });
  });
});

test('file errors are one clear line naming the file', async () => {
  await withTempDir(async (dir) => {
    const missing = join(dir, 'nope.txt');
    await rejectsWith({ path: missing }, `data file not found: ${missing}`);
    await rejectsWith({ path: join(dir, 'nope', 'deeper.txt') }, /^data file not found: /);

    const empty = join(dir, 'empty.txt');
    writeFileSync(empty, '');
    await rejectsWith(
      { path: empty },
      `${empty} is empty: a corpus needs at least two characters, an input and the character that follows it`,
    );
    writeFileSync(empty, '\ufeff');
    await rejectsWith(
      { path: empty },
      `${empty} is empty: a corpus needs at least two characters, an input and the character that follows it`,
    );
    const single = join(dir, 'single.txt');
    writeFileSync(single, '😀');
    await rejectsWith({ path: single }, new RegExp(`^${single.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} holds a single character`));

    const binary = join(dir, 'binary.txt');
    writeFileSync(binary, new Uint8Array([0xff, 0xfe]));
    await rejectsWith({ path: binary }, `${binary} is not valid UTF-8 text (byte offset 0)`);
    writeFileSync(binary, new Uint8Array([0x61, 0x62, 0xc3, 0xa9, 0xe9, 0x74, 0xe9]));
    await rejectsWith({ path: binary }, `${binary} is not valid UTF-8 text (byte offset 4)`);

    await rejectsWith({ path: dir }, `${dir} is a directory, not a text file`);
    await rejectsWith({ path: '' }, 'the data file path is empty');
  });
});

test('invalidUtf8Offset agrees with a fatal TextDecoder', () => {
  const cases: Array<[number[], number]> = [
    [[0x41, 0x42], -1],
    [[0xf0, 0x9f, 0x98, 0x80], -1], // U+1F600
    [[0xc0, 0x80], 0], // overlong NUL
    [[0x41, 0xe0, 0x80, 0x80], 1], // overlong three-byte form
    [[0xed, 0xa0, 0x80], 0], // a UTF-16 surrogate
    [[0xf4, 0x90, 0x80, 0x80], 0], // above U+10FFFF
    [[0xf5, 0x80, 0x80, 0x80], 0],
    [[0x41, 0xe2, 0x82], 1], // truncated euro sign
    [[0x80], 0],
  ];
  for (const [bytes, offset] of cases) assert.equal(invalidUtf8Offset(new Uint8Array(bytes)), offset, `bytes ${bytes}`);

  let seed = 12345;
  const rand = (n: number): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return (seed >>> 8) % n;
  };
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const alphabet = [0x41, 0x7f, 0x80, 0x9f, 0xa0, 0xbf, 0xc0, 0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff];
  for (let iter = 0; iter < 3000; iter++) {
    const bytes = new Uint8Array(1 + rand(8)).map(() => alphabet[rand(alphabet.length)]!);
    const offset = invalidUtf8Offset(bytes);
    let valid = true;
    try {
      decoder.decode(bytes);
    } catch {
      valid = false;
    }
    assert.equal(offset === -1, valid, `bytes ${bytes}`);
    if (offset >= 0) decoder.decode(bytes.subarray(0, offset)); // everything before the offset is fine
  }
});

test('TSGPT_DATA from the env option is used like a path', async () => {
  await withTempDir(async (dir) => {
    const file = join(dir, 'env.txt');
    writeFileSync(file, 'from the environment\n');
    assert.deepEqual(await loadCorpus({ env: { TSGPT_DATA: file }, fetchImpl: unusedFetch }), {
      text: 'from the environment\n',
      source: file,
    });
    const missing = join(dir, 'missing.txt');
    await rejectsWith({ env: { TSGPT_DATA: missing } }, `data file not found: ${missing} (from TSGPT_DATA)`);
  });
});

test('downloads Tiny Shakespeare into the cache once, then reads the cache', { skip: noShakespeare }, async () => {
  const bytes = readFileSync(SHAKESPEARE);
  await withTempDir(async (dir) => {
    const cacheDir = join(dir, 'not', 'yet', 'there');
    const file = join(cacheDir, 'tinyshakespeare.txt');
    const lines: string[] = [];
    const fake = fakeFetch(() => new Response(bytes));
    const first = await loadCorpus({ env: {}, cacheDir, fetchImpl: fake.fetchImpl, log: (l) => lines.push(l) });
    assert.equal(fake.calls(), 1);
    assert.equal(first.text.length, TINY_SHAKESPEARE.bytes);
    assert.ok(first.text.startsWith('First Citizen:\n'));
    assert.equal(first.source, file);
    assert.deepEqual(lines, [`downloading Tiny Shakespeare from ${TINY_SHAKESPEARE.url} to ${file}`]);
    assert.ok(readFileSync(file).equals(bytes));
    assert.deepEqual(readdirSync(cacheDir), ['tinyshakespeare.txt']);

    lines.length = 0;
    const second = await loadCorpus({ env: {}, cacheDir, fetchImpl: unusedFetch, log: (l) => lines.push(l) });
    assert.equal(second.text, first.text);
    assert.equal(second.source, file);
    assert.deepEqual(lines, []);
  });
});

test('a corrupt cached copy is downloaded again', { skip: noShakespeare }, async () => {
  const bytes = readFileSync(SHAKESPEARE);
  await withTempDir(async (cacheDir) => {
    const file = join(cacheDir, 'tinyshakespeare.txt');
    writeFileSync(file, bytes.subarray(0, 1000));
    const lines: string[] = [];
    const fake = fakeFetch(() => new Response(bytes));
    const corpus = await loadCorpus({ env: {}, cacheDir, fetchImpl: fake.fetchImpl, log: (l) => lines.push(l) });
    assert.equal(fake.calls(), 1);
    assert.equal(corpus.text.length, TINY_SHAKESPEARE.bytes);
    assert.ok(readFileSync(file).equals(bytes));
    assert.equal(lines.length, 2);
    assert.match(lines[0]!, /does not match the expected checksum; downloading it again/);
  });
});

test('a download with the wrong checksum is refused and nothing is cached', async () => {
  await withTempDir(async (cacheDir) => {
    const fake = fakeFetch(() => new Response('To be, or not to be\n'));
    await rejectsWith(
      { cacheDir, fetchImpl: fake.fetchImpl, log: () => {} },
      new RegExp(
        `^downloaded Tiny Shakespeare has sha256 [0-9a-f]{64} \\(20 bytes\\), expected ${TINY_SHAKESPEARE.sha256} \\(1115394 bytes\\); nothing was cached; `,
      ),
    );
    assert.deepEqual(readdirSync(cacheDir), []);

    // A stale cached copy is known bad too, so it goes as well.
    writeFileSync(join(cacheDir, 'tinyshakespeare.txt'), 'stale');
    await rejectsWith({ cacheDir, fetchImpl: fake.fetchImpl, log: () => {} }, /nothing was cached/);
    assert.deepEqual(readdirSync(cacheDir), []);
  });
});

test('a failed download says so in one line and points at --data and TSGPT_DATA', async () => {
  await withTempDir(async (cacheDir) => {
    const offline = (async () => {
      throw new TypeError('fetch failed', { cause: new Error('connect ECONNREFUSED 127.0.0.1:443') });
    }) as typeof fetch;
    await rejectsWith(
      { cacheDir, fetchImpl: offline, log: () => {} },
      `downloading Tiny Shakespeare from ${TINY_SHAKESPEARE.url} failed (fetch failed: connect ECONNREFUSED 127.0.0.1:443); ${HINT}`,
    );
    const notFound = fakeFetch(() => new Response('gone', { status: 404, statusText: 'Not Found' }));
    await rejectsWith(
      { cacheDir, fetchImpl: notFound.fetchImpl, log: () => {} },
      `downloading Tiny Shakespeare from ${TINY_SHAKESPEARE.url} failed (HTTP 404 Not Found); ${HINT}`,
    );
    assert.deepEqual(readdirSync(cacheDir), []);
  });
});

test('TSGPT_CACHE chooses the cache directory', async () => {
  await withTempDir(async (dir) => {
    const cacheDir = join(dir, 'cache');
    mkdirSync(cacheDir);
    const lines: string[] = [];
    const offline = (async () => {
      throw new Error('offline');
    }) as typeof fetch;
    await assert.rejects(
      loadCorpus({ env: { TSGPT_CACHE: cacheDir, TSGPT_DATA: '' }, fetchImpl: offline, log: (l) => lines.push(l) }),
      TsgptError,
    );
    assert.deepEqual(lines, [`downloading Tiny Shakespeare from ${TINY_SHAKESPEARE.url} to ${join(cacheDir, 'tinyshakespeare.txt')}`]);
  });
});

test('splitTrainVal: first 90% trains, the rest validates', () => {
  const tokens = Int32Array.from({ length: 100 }, (_, i) => i);
  const { train, val } = splitTrainVal(tokens);
  assert.equal(train.length, 90);
  assert.equal(val.length, 10);
  assert.equal(train[89], 89);
  assert.equal(val[0], 90);
  assert.equal(train.buffer, tokens.buffer);
  assert.equal(splitTrainVal(tokens, 0.5).val.length, 50);
  assert.equal(splitTrainVal(new Int32Array(2)).train.length, 1);
  assert.throws(() => splitTrainVal(tokens, 1), TsgptError);
  assert.throws(() => splitTrainVal(tokens, 0), TsgptError);
  assert.throws(() => splitTrainVal(tokens, Number.NaN), TsgptError);
  assert.throws(() => splitTrainVal(new Int32Array(1)), /a corpus of 1 tokens is too small/);
});
