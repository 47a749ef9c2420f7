/**
 * GPT-2's vocabulary files: downloaded once into the cache (fetch injected: no test touches the network),
 * checked against their pinned SHA-256, read from a local folder in OpenAI's or Hugging Face's names, and every
 * way the files can be wrong or mismatched reported in one line.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { TsgptError } from '../../src/errors.js';
import { GPT2_LOCAL_COPY_HINT, GPT2_VOCAB, loadGpt2Tokenizer, readGpt2Folder } from '../../src/node/gpt2_vocab.js';
import { GPT2Tokenizer } from '../../src/tokenizers/gpt2.js';
import { gpt2VocabFiles, writeGpt2VocabFolder } from '../helpers/gpt2_vocab.js';

const files = gpt2VocabFiles();
const BODIES: Record<string, string> = { [GPT2_VOCAB.encoder.url]: files.encoderJson, [GPT2_VOCAB.merges.url]: files.vocabBpe };

async function withTempDir(fn: (dir: string) => Promise<void> | void): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tsgpt-gpt2-'));
  try {
    await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A stand-in for fetch serving the two files (or what `reply` says), counting the calls. */
function fakeFetch(reply: (url: string) => Response = (url) => new Response(BODIES[url])): { fetchImpl: typeof fetch; urls: string[] } {
  const urls: string[] = [];
  const fetchImpl = (async (input: unknown) => {
    urls.push(String(input));
    return reply(String(input));
  }) as typeof fetch;
  return { fetchImpl, urls };
}

const unusedFetch = (async () => assert.fail('fetch must not be called')) as typeof fetch;

function rejectsWith(promise: Promise<unknown>, message: string | RegExp): Promise<void> {
  return assert.rejects(promise, (e: unknown) => {
    assert.ok(e instanceof TsgptError, `expected TsgptError, got ${String(e)}`);
    if (typeof message === 'string') assert.equal(e.message, message);
    else assert.match(e.message, message);
    return true;
  });
}

test('downloads both files into the cache once, with progress, then reads the cache', async () => {
  await withTempDir(async (cacheDir) => {
    const lines: string[] = [];
    const progress: number[] = [];
    const fake = fakeFetch();
    const first = await loadGpt2Tokenizer({
      cacheDir,
      fetchImpl: fake.fetchImpl,
      log: (l) => lines.push(l),
      progress: (r) => progress.push(r),
    });
    assert.deepEqual(fake.urls, [GPT2_VOCAB.encoder.url, GPT2_VOCAB.merges.url]);
    const folder = join(cacheDir, 'gpt2');
    assert.deepEqual(lines, [
      `downloading GPT-2's encoder.json from ${GPT2_VOCAB.encoder.url} to ${join(folder, 'encoder.json')}`,
      `downloading GPT-2's vocab.bpe from ${GPT2_VOCAB.merges.url} to ${join(folder, 'vocab.bpe')}`,
    ]);
    assert.ok(progress.length >= 2 && progress.at(-1) === GPT2_VOCAB.merges.bytes);
    assert.deepEqual(readdirSync(folder).sort(), ['encoder.json', 'vocab.bpe']);
    assert.equal(readFileSync(join(folder, 'vocab.bpe'), 'utf8'), files.vocabBpe);
    assert.deepEqual([...first.tokenizer.encode('Hello, world')], [15496, 11, 995]);

    lines.length = 0;
    const second = await loadGpt2Tokenizer({ cacheDir, fetchImpl: unusedFetch, log: (l) => lines.push(l) });
    assert.deepEqual(lines, []);
    assert.equal(second.source, folder);
    assert.deepEqual([...second.tokenizer.encode('Hello, world')], [15496, 11, 995]);
  });
});

test('TSGPT_CACHE chooses the cache, and a damaged cached file is downloaded again', async () => {
  await withTempDir(async (dir) => {
    const folder = join(dir, 'gpt2');
    writeGpt2VocabFolder(folder);
    writeFileSync(join(folder, 'vocab.bpe'), files.vocabBpe.slice(0, 1000));
    const lines: string[] = [];
    const fake = fakeFetch();
    const { tokenizer } = await loadGpt2Tokenizer({ env: { TSGPT_CACHE: dir }, fetchImpl: fake.fetchImpl, log: (l) => lines.push(l) });
    assert.deepEqual(fake.urls, [GPT2_VOCAB.merges.url]);
    assert.match(lines[0]!, /vocab.bpe does not match the expected checksum; downloading it again$/);
    assert.equal(readFileSync(join(folder, 'vocab.bpe'), 'utf8'), files.vocabBpe);
    assert.equal(tokenizer.vocabSize, 50257);
  });
});

test('a failed download is one line that says how to use a local copy, and nothing is cached', async () => {
  await withTempDir(async (cacheDir) => {
    const offline = fakeFetch(() => {
      throw new TypeError('fetch failed', { cause: new Error('getaddrinfo ENOTFOUND openaipublic.blob.core.windows.net') });
    });
    await rejectsWith(
      loadGpt2Tokenizer({ cacheDir, fetchImpl: offline.fetchImpl, log: () => {} }),
      `downloading GPT-2's encoder.json from ${GPT2_VOCAB.encoder.url} failed (fetch failed: getaddrinfo ENOTFOUND ` +
        `openaipublic.blob.core.windows.net); ${GPT2_LOCAL_COPY_HINT}`,
    );
    const notFound = fakeFetch(() => new Response('gone', { status: 404, statusText: 'Not Found' }));
    await rejectsWith(
      loadGpt2Tokenizer({ cacheDir, fetchImpl: notFound.fetchImpl, log: () => {} }),
      /failed \(HTTP 404 Not Found\); give --tokenizer FOLDER/,
    );
    const wrong = fakeFetch(() => new Response('{"not": 1}'));
    await rejectsWith(
      loadGpt2Tokenizer({ cacheDir, fetchImpl: wrong.fetchImpl, log: () => {} }),
      new RegExp(
        `^downloaded GPT-2's encoder.json has sha256 [0-9a-f]{64} \\(10 bytes\\), expected ${GPT2_VOCAB.encoder.sha256} \\(1042301 bytes\\); nothing was cached; give --tokenizer FOLDER`,
      ),
    );
    // A response that outgrows the file (here an endless one) is cut off there rather than read to the end.
    const endless = new ReadableStream<Uint8Array>({ pull: (c) => c.enqueue(new Uint8Array(1 << 16).fill(32)) });
    const huge = fakeFetch(() => new Response(endless));
    await rejectsWith(
      loadGpt2Tokenizer({ cacheDir, fetchImpl: huge.fetchImpl, log: () => {} }),
      /has sha256 [0-9a-f]{64} \(1048576 bytes\)/,
    );
    assert.deepEqual(readdirSync(cacheDir), []);
  });
});

test("a local folder with OpenAI's names or Hugging Face's gives the same tokenizer", async () => {
  await withTempDir(async (dir) => {
    const openai = writeGpt2VocabFolder(join(dir, 'openai'));
    const hf = join(dir, 'hf');
    mkdirSync(hf);
    // Hugging Face's tokenizers library saves vocab.json without spaces and with its characters unescaped.
    writeFileSync(join(hf, 'vocab.json'), JSON.stringify(JSON.parse(files.encoderJson)));
    writeFileSync(join(hf, 'merges.txt'), files.vocabBpe.replaceAll('\n', '\r\n'));
    const text = 'Hello, world! Ünïcödé 日本語 😀';
    const expected = [...readGpt2Folder(openai).encode(text)];
    assert.deepEqual([...readGpt2Folder(hf).encode(text)], expected);
  });
});

test('a folder that is not a vocabulary says what it lacks', async () => {
  await withTempDir(async (dir) => {
    assert.throws(() => readGpt2Folder(dir), {
      message: `${dir} holds neither encoder.json and vocab.bpe nor vocab.json and merges.txt (GPT-2's vocabulary files)`,
    });
    writeFileSync(join(dir, 'vocab.json'), files.encoderJson);
    assert.throws(() => readGpt2Folder(dir), { message: `${dir} has vocab.json but not merges.txt; GPT-2's vocabulary needs both` });
  });
});

test('vocabulary files that are damaged or from different vocabularies are refused in one line', () => {
  const { encoderJson, vocabBpe } = files;
  const from = { encoder: 'v/encoder.json', merges: 'v/vocab.bpe' };
  const lines = vocabBpe.split('\n');
  const fails = (encoder: string, merges: string, message: RegExp) =>
    assert.throws(
      () => GPT2Tokenizer.fromVocabFiles(encoder, merges, from),
      (e: unknown) => e instanceof TsgptError && message.test(e.message) && !e.message.includes('\n'),
      String(message),
    );
  fails('{"a": ', vocabBpe, /^v\/encoder.json: not valid JSON \(/);
  fails('[1, 2]', vocabBpe, /^v\/encoder.json: expected a JSON object from token text to id, got an array$/);
  fails(encoderJson.replace('"!": 0', '"!": "zero"'), vocabBpe, /the id of "!" must be an integer from 0 to 2097151, got "zero"/);
  fails(
    encoderJson.replace('"!": 0', '"!": 5'),
    vocabBpe,
    /the byte token "!" has id 5, but GPT-2's byte tokens are ids 0 to 255 in its byte order \(this one 0\)/,
  );
  fails(encoderJson, vocabBpe.replace('#version: 0.2\n', ''), /^v\/vocab.bpe: the first line should be "#version: 0.2", got "Ġ t"$/);
  fails(
    encoderJson,
    vocabBpe.replace('\nh e\n', '\nh  e\n'),
    /^v\/vocab.bpe: line 4 should be two tokens and one space between them, got "h {2}e"$/,
  );
  fails(encoderJson, vocabBpe.replace('\nh e\n', '\nhe\n'), /line 4 should be two tokens/);
  fails(encoderJson, vocabBpe.replace('\nĠ t\n', '\nĠ tq\n'), /^v\/vocab.bpe: line 2 merges "tq", which is not a token made before it/);
  fails(
    encoderJson,
    [lines[0], lines[2], lines[1], ...lines.slice(3)].join('\n'),
    /"Ġa" has id 257, but line 2 of v\/vocab.bpe makes it token 256/,
  );
  // Another vocabulary size: the merges of a smaller vocabulary with GPT-2's encoder, and the other way round.
  fails(
    encoderJson,
    `${lines.slice(0, 40001).join('\n')}\n`,
    /^v\/encoder.json: it has ".*" at id \d+, past the 40256 tokens that the 40000 merges of v\/vocab.bpe make, and it is not a special token like <\|endoftext\|> \(the files come from vocabularies of different sizes\)$/,
  );
  const smaller = JSON.stringify(
    Object.fromEntries(Object.entries(JSON.parse(encoderJson) as Record<string, number>).filter(([, id]) => id < 40000)),
  );
  fails(
    smaller,
    vocabBpe,
    /^v\/encoder.json: it has no ".*", which line 39746 of v\/vocab.bpe makes \(the files come from different vocabularies\)$/,
  );
  fails(
    encoderJson.replace('"!": 0, ', '"!": 0, "not a token": 3, '),
    vocabBpe,
    /it has 50257 ordinary tokens, but the 50000 merges of v\/vocab.bpe make 50256$/,
  );
  fails(
    encoderJson.replace('"<|endoftext|>": 50256', '"<|endoftext|>": 50300'),
    vocabBpe,
    /special token ids must follow the 50256 ordinary tokens without gaps, but id 50256 is missing/,
  );
});
