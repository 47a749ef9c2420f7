/**
 * The edges a new user meets, through the real command: a closed pipe or socket on stdout, a full device on
 * stdout (/dev/full, real), a full disk at each kind of write in the run folder (injected through the test
 * hooks, see test/helpers/faults.ts; disk_full.test.ts tries a real one), run-folder files that are FIFOs or
 * links to /dev/zero, --out under /proc, a snapshot that diverged, a new run into a finished run's folder, a
 * weights path that is a folder, and model.safetensors with a flipped bit. Each ends with one clear line and a
 * non-zero status (the closed pipe quietly, with 0), and loses nothing.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import {
  closeSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { readResumable } from '../../src/node/run_resume.js';
import { loadRun } from '../../src/node/run_folder.js';
import { makeCorpus } from '../helpers/corpus.js';
import { CLI, type CliOptions, cliEnv, runCli, type CliResult } from '../helpers/cli_process.js';
import { SHAKESPEARE_PATH } from '../helpers/fixtures.js';
import { tinyTrain } from '../helpers/tiny_run.js';

const dir = mkdtempSync(join(tmpdir(), 'tsgpt-edges-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const corpus = join(dir, 'corpus.txt');
writeFileSync(corpus, makeCorpus(20_000, 5));
const TRAIN = tinyTrain(corpus);

function cli(args: string[], options: CliOptions = {}): CliResult {
  return runCli(dir, args, options);
}

function assertOneLineError(r: CliResult, pattern: RegExp): void {
  assert.notEqual(r.code, 0, `expected a failure:\n${r.stderr}`);
  assert.equal(r.signal, null);
  const lines = r.stderr.trim().split('\n');
  assert.match(lines.at(-1)!, /^tsgpt: error: /, r.stderr);
  assert.match(lines.at(-1)!, pattern);
  assert.doesNotMatch(r.stderr, /\n\s+at |tsgpt: error:[\s\S]*tsgpt: error:/, r.stderr);
}

/** A finished tiny run (30 steps, evaluations every 10), made once and copied by the tests that change it. */
const finished = join(dir, 'finished');
let made = false;
function finishedRun(name: string): string {
  if (!made) {
    const r = cli([...TRAIN, '--max-iters', '30', '--eval-interval', '10', '--out', finished]);
    assert.equal(r.code, 0, r.stderr);
    made = true;
  }
  const copy = join(dir, name);
  cpSync(finished, copy, { recursive: true });
  return copy;
}

/** Every file of a folder and its bytes, to show that nothing changed. */
function contents(folder: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const e of readdirSync(folder, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    const path = join(e.parentPath, e.name);
    out.set(path.slice(folder.length), readFileSync(path).toString('base64'));
  }
  return out;
}

/** Runs `tsgpt sample` with stdout connected to `stdout` (a stream or fd) and returns its exit and stderr. */
function sampleInto(run: string, stdout: number | import('node:net').Socket | 'pipe', extra: string[] = []) {
  const child = spawn(process.execPath, [CLI, 'sample', '--from', run, ...extra], {
    env: cliEnv(dir),
    cwd: dir,
    stdio: ['ignore', stdout, 'pipe'],
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (s: string) => void (stderr += s));
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal, stderr })),
  );
  return { child, done };
}

// Ten million tokens would take this tiny model the better part of an hour: a sampler that ends within the
// test's timeout has stopped because its reader went away.
const ENDLESS = ['--tokens', '10000000'];

test('a closed pipe on stdout (tsgpt sample | head -c 5) stops sampling at once, quietly, with status 0', { timeout: 60_000 }, async () => {
  const run = finishedRun('pipe');
  const { child, done } = sampleInto(run, 'pipe', ENDLESS);
  const first = await new Promise<Buffer>((resolve) => child.stdout!.once('data', resolve));
  assert.ok(first.length > 0);
  child.stdout!.destroy();
  const r = await done;
  assert.deepEqual(r, { code: 0, signal: null, stderr: '' });
});

test('a socket on stdout whose reader goes away stops sampling the same way', { timeout: 60_000 }, async () => {
  const run = finishedRun('socket');
  const path = join(dir, 'out.sock');
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(path, resolve));
  const accepted = new Promise<import('node:net').Socket>((resolve) => server.once('connection', resolve));
  const { connect } = await import('node:net');
  const client = connect(path);
  await new Promise<void>((resolve) => client.once('connect', () => resolve()));
  const { done } = sampleInto(run, client, ENDLESS);
  const reader = await accepted;
  await new Promise((resolve) => reader.once('data', resolve));
  reader.destroy();
  client.destroy();
  const r = await done;
  server.close();
  assert.deepEqual(r, { code: 0, signal: null, stderr: '' });
});

test('stdout on a full device (/dev/full, real) is one clear line and status 1', {
  skip: !existsSync('/dev/full') && 'no /dev/full',
}, async () => {
  const run = finishedRun('full-stdout');
  const fd = openSync('/dev/full', 'w');
  try {
    const r = await sampleInto(run, fd, ['--tokens', '50']).done;
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'tsgpt: error: cannot write to standard output: no space left on the device\n');
  } finally {
    closeSync(fd);
  }
  const help = spawnSync(process.execPath, [CLI, '--help'], { stdio: ['ignore', openSync('/dev/full', 'w'), 'pipe'], encoding: 'utf8' });
  assert.equal(help.status, 1);
  assert.equal(help.stderr, 'tsgpt: error: cannot write to standard output: no space left on the device\n');
});

test('a full disk (injected) at the lock, the log, a snapshot or config.json: one line that says what is left', () => {
  // A new run whose lock cannot be written leaves nothing behind.
  const fresh = join(dir, 'full-lock');
  assertOneLineError(
    cli([...TRAIN, '--max-iters', '30', '--out', fresh], { faults: { failWrite: { what: 'lock' } } }),
    /^tsgpt: error: cannot lock run folder .*full-lock: no space left on the device$/,
  );
  assert.equal(existsSync(fresh), false);

  // Before the first checkpoint: there is none, and it says so; the folder it made is gone again.
  assertOneLineError(
    cli([...TRAIN, '--max-iters', '30', '--out', fresh], { faults: { failWrite: { what: 'snapshot' } } }),
    /cannot write a snapshot in resume\/ in run folder .*: no space left on the device; no checkpoint of this run was saved$/,
  );
  assert.equal(existsSync(fresh), false);

  // Resuming: the log is rewritten first; the folder is left as it was.
  const run = finishedRun('full-resume');
  const before = contents(run);
  assertOneLineError(
    cli(['train', '--resume', run, '--max-iters', '40'], { faults: { failWrite: { what: 'log' } } }),
    /cannot write log\.jsonl in run folder .*: no space left on the device; its last complete checkpoint \(step 30\) is intact$/,
  );
  assert.deepEqual(contents(run), before);

  // Mid-run, inside the save of a new best at step 40: config.json was rewritten to accept the old weights or
  // the new ones, model.safetensors became the new ones, and the last config.json write failed. The folder
  // loads (the weights match the second digest) and resumes from the checkpoint before.
  assertOneLineError(
    cli(['train', '--resume', run, '--max-iters', '60', '--eval-interval', '10'], { faults: { failWrite: { what: 'config', nth: 2 } } }),
    /cannot write config\.json in run folder .*: no space left on the device; its last complete checkpoint \(step 30\) is intact$/,
  );
  assert.equal(JSON.parse(readFileSync(join(run, 'config.json'), 'utf8')).weights.length, 2);
  loadRun(run).model.dispose();
  assert.equal(readResumable(run).state.step, 30);
  const resumed = cli(['train', '--resume', run, '--max-iters', '60']);
  assert.equal(resumed.code, 0, resumed.stderr);
});

test('log.jsonl as a FIFO or a link to /dev/zero: train --resume, plot and report refuse it at once', () => {
  const fifoRun = finishedRun('fifo-log');
  rmSync(join(fifoRun, 'log.jsonl'));
  const mkfifo = spawnSync('mkfifo', [join(fifoRun, 'log.jsonl')]);
  const zeroRun = finishedRun('zero-log');
  rmSync(join(zeroRun, 'log.jsonl'));
  symlinkSync('/dev/zero', join(zeroRun, 'log.jsonl'));
  for (const run of mkfifo.status === 0 ? [fifoRun, zeroRun] : [zeroRun]) {
    const notFile = /log\.jsonl is not a regular file$/;
    assertOneLineError(cli(['train', '--resume', run, '--max-iters', '40']), notFile);
    assertOneLineError(cli(['plot', run]), notFile);
    // The report goes on without the curve and says why.
    const report = cli(['report', run, '--tokens', '5']);
    assert.equal(report.code, 0, report.stderr);
    assert.match(readFileSync(join(run, 'report.html'), 'utf8'), /No loss curve: .*log\.jsonl is not a regular file/);
  }
});

test('--out under /proc fails with one line instead of spinning', { skip: !existsSync('/proc/self') && 'no /proc' }, () => {
  assertOneLineError(
    cli([...TRAIN, '--out', '/proc/self/tsgpt-run']),
    /cannot create run folder \/proc\/self\/tsgpt-run: \/proc\/self does not take new folders$/,
  );
});

test('a weights path that is a folder is called a folder; a flipped bit in model.safetensors is caught by its SHA-256', () => {
  const run = finishedRun('weights-folder');
  rmSync(join(run, 'model.safetensors'));
  mkdirSync(join(run, 'model.safetensors'));
  assertOneLineError(cli(['sample', '--from', run]), /model\.safetensors is a folder, not a file$/);

  const flipped = finishedRun('flipped');
  const path = join(flipped, 'model.safetensors');
  const bytes = readFileSync(path);
  const dataStart = 8 + Number(bytes.readBigUInt64LE(0));
  bytes[dataStart + 100]! ^= 0x01; // a low bit of a weight: still a finite number, which used to load silently
  writeFileSync(path, bytes);
  assertOneLineError(
    cli(['sample', '--from', flipped]),
    /model\.safetensors does not match the size and SHA-256 recorded in .*config\.json: the file is damaged$/,
  );
  // A run folder from before the digest was recorded loads as it did.
  const config = JSON.parse(readFileSync(join(flipped, 'config.json'), 'utf8'));
  delete config.weights;
  writeFileSync(join(flipped, 'config.json'), JSON.stringify(config));
  assert.equal(cli(['sample', '--from', flipped, '--tokens', '5']).code, 0);
});

test('a new run into a finished run leaves it whole until its first checkpoint, then replaces it', () => {
  const run = finishedRun('replaced');
  const before = contents(run);
  assertOneLineError(
    cli([...TRAIN, '--max-iters', '20', '--eval-interval', '5', '--seed', '7', '--out', run], {
      faults: { failWrite: { what: 'snapshot' } },
    }),
    /no checkpoint of this run was saved$/,
  );
  assert.deepEqual(contents(run), before, 'the finished run changed before the new run had a checkpoint');

  const r = cli([...TRAIN, '--max-iters', '20', '--eval-interval', '5', '--seed', '7', '--out', run]);
  assert.equal(r.code, 0, r.stderr);
  const log = readFileSync(join(run, 'log.jsonl'), 'utf8').trim().split('\n');
  assert.equal(log.filter((l) => l.includes('"type":"start"')).length, 1, 'the old run is still in the log');
  assert.equal(JSON.parse(readFileSync(join(run, 'config.json'), 'utf8')).run.seed, 7);
  assert.equal(readdirSync(join(run, 'resume')).length, 1);
});

test('divergence: a snapshot holding infinities never becomes the last good checkpoint', {
  skip: !existsSync(SHAKESPEARE_PATH) && 'no Tiny Shakespeare at ../shared/data',
}, () => {
  // The brief's recipe, on the first 200,000 characters of Tiny Shakespeare: at seed 3 the update of step 19
  // leaves a -Infinity in the table while the evaluation's loss is still finite.
  const text = join(dir, 'shakespeare-200k.txt');
  writeFileSync(text, readFileSync(SHAKESPEARE_PATH, 'utf8').slice(0, 200_000));
  const out = join(dir, 'diverged');
  const args = ['train', '--data', text, '--preset', 'bigram', '--learning-rate', '10', '--weight-decay', '10', '--eval-interval', '1'];
  const r = cli([...args, '--eval-iters', '2', '--max-iters', '200', '--seed', '3', '--out', out]);
  assertOneLineError(
    r,
    /step 19: token_embedding_table\.weight holds -Infinity at index \d+: the weights have diverged, so this state is not saved; .*the last good checkpoint \(step 18\) stays in /,
  );
  assert.deepEqual(readdirSync(join(out, 'resume')).length, 1);
  assert.equal(readResumable(out).state.step, 18);
  assert.equal(cli(['sample', '--from', out, '--tokens', '5']).code, 0);
});
