/**
 * The Node edge's file helpers against what a run folder from anywhere can hold: readers that refuse FIFOs,
 * devices and folders at once and read no more than their bound; makeFolder's reasons; a held log that
 * appears whole; a lock file that is a FIFO.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { makeFolder, removeEmptyFolders } from '../../src/node/make_folder.js';
import { readFileBounded, readTextBoundedIfPresent } from '../../src/node/read_bounded.js';
import { lockRunFolder } from '../../src/node/run_lock.js';
import { RunLog } from '../../src/node/run_log.js';

const dir = mkdtempSync(join(tmpdir(), 'tsgpt-files-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const fifo = join(dir, 'fifo');
const haveFifo = spawnSync('mkfifo', [fifo]).status === 0;

test('bounded reads: a FIFO, /dev/zero and a folder are refused without reading; a size over the bound too', () => {
  if (haveFifo) assert.throws(() => readFileBounded(fifo, 100), /fifo is not a regular file$/);
  const zero = join(dir, 'zero');
  symlinkSync('/dev/zero', zero);
  assert.throws(() => readFileBounded(zero, 100), /zero is not a regular file$/);
  assert.throws(() => readFileBounded(dir, 100), /is a folder, not a file$/);
  const file = join(dir, 'file.txt');
  writeFileSync(file, 'x'.repeat(101));
  assert.throws(() => readFileBounded(file, 100), /file\.txt is 101 bytes, more than the 100 it can be$/);
  assert.equal(readFileBounded(file, 101).length, 101);
  assert.equal(readTextBoundedIfPresent(join(dir, 'absent'), 100), null);
  assert.throws(() => readFileBounded(join(dir, 'absent'), 100, 'the thing'), /^TsgptError: cannot read the thing: no such file$/);
});

test('makeFolder makes what is missing, and names the real reason when it cannot', () => {
  const made = makeFolder(join(dir, 'a/b/c'), 'run folder a/b/c');
  assert.deepEqual(
    made,
    ['a', 'a/b', 'a/b/c'].map((p) => join(dir, p)),
  );
  assert.deepEqual(makeFolder(join(dir, 'a/b/c'), 'again'), []);
  writeFileSync(join(dir, 'a/file'), '');
  assert.throws(
    () => makeFolder(join(dir, 'a/file'), 'run folder x'),
    /^TsgptError: cannot create run folder x: .*a\/file is a file, not a folder$/,
  );
  assert.throws(
    () => makeFolder(join(dir, 'a/file/d'), 'run folder y'),
    /^TsgptError: cannot create run folder y: a parent is not a folder$/,
  );
  if (existsSync('/proc/self')) {
    assert.throws(
      () => makeFolder('/proc/self/tsgpt-run', 'run folder p'),
      /cannot create run folder p: \/proc\/self does not take new folders$/,
    );
  }
  removeEmptyFolders(made.slice(1));
  assert.ok(existsSync(join(dir, 'a')) && !existsSync(join(dir, 'a/b')));
});

test('a held log appears whole when published, replacing an older one; appends go to the file after', () => {
  const path = join(dir, 'log.jsonl');
  writeFileSync(path, '{"type":"start","old":true}\n');
  const log = RunLog.held(path);
  log.append({ type: 'start' });
  log.append({ type: 'eval', step: 0 });
  assert.equal(readFileSync(path, 'utf8'), '{"type":"start","old":true}\n');
  log.publish();
  log.append({ type: 'step', step: 1 });
  assert.equal(readFileSync(path, 'utf8'), '{"type":"start"}\n{"type":"eval","step":0}\n{"type":"step","step":1}\n');
});

test('a lock file that is a FIFO is taken over, not read forever', { skip: !haveFifo && 'no mkfifo' }, () => {
  const run = join(dir, 'locked');
  mkdirSync(run);
  spawnSync('mkfifo', [join(run, '.lock')]);
  const lock = lockRunFolder(run);
  assert.equal(readFileSync(join(run, '.lock'), 'utf8'), `${process.pid}\n`);
  lock.release();
  assert.ok(!existsSync(join(run, '.lock')));
});
