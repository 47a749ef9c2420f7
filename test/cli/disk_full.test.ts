/**
 * A real full disk and a real read-only file system, where the machine allows them: each case runs tsgpt in
 * its own user and mount namespace (`unshare -rm`) on a small tmpfs, which disappears with it. Where
 * namespaces or tmpfs mounts are not allowed the test is skipped and says so; edges.test.ts covers the same
 * messages with injected failures everywhere.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { makeCorpus } from '../helpers/corpus.js';
import { CLI, cliEnv, runCli } from '../helpers/cli_process.js';
import { tinyTrain } from '../helpers/tiny_run.js';

const dir = mkdtempSync(join(tmpdir(), 'tsgpt-disk-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const mnt = join(dir, 'mnt');
mkdirSync(mnt);

/**
 * Runs `script` (sh) with a fresh tmpfs of `kb` KiB at $MNT, mounted read-only if asked; $TSGPT is the
 * command. Returns null where the machine does not allow it.
 */
function inTmpfs(kb: number, script: string, readOnly = false): { status: number | null; stdout: string; stderr: string } | null {
  const options = `${readOnly ? 'ro,' : ''}size=${kb}k`;
  const r = spawnSync('unshare', ['-rm', 'sh', '-c', `mount -t tmpfs -o ${options} tmpfs "$MNT" || exit 99\n${script}`], {
    encoding: 'utf8',
    cwd: dir,
    env: { ...cliEnv(dir), MNT: mnt, TSGPT: `${process.execPath} ${CLI}` },
    timeout: 120_000,
  });
  if (r.error !== undefined || r.status === 99) return null;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const probe = inTmpfs(64, 'true');
const skip = probe === null || probe.status !== 0 ? 'this machine allows no tmpfs in a user namespace (unshare -rm)' : false;

const corpus = join(dir, 'corpus.txt');
writeFileSync(corpus, makeCorpus(20_000, 5));
const TRAIN = `$TSGPT ${tinyTrain(corpus).join(' ')}`;
/** Fills $MNT up, leaving `pages` pages of 4 KiB free. */
const fill = (pages: number) => `
used=$(df -k --output=used,size "$MNT" | tail -1)
set -- $used
dd if=/dev/zero of="$MNT/filler" bs=4096 count=$(( ($2 - $1) / 4 - ${pages} )) 2>/dev/null
`;

function lastLine(stderr: string): string {
  return stderr.trim().split('\n').at(-1)!;
}

test('a real full disk at the start of train and of train --resume: one line, nothing lost', { skip }, () => {
  const full = inTmpfs(512, `${fill(0)}\n${TRAIN} --max-iters 30 --out "$MNT/run"; echo "status=$?"; ls -A "$MNT"`)!;
  assert.match(full.stdout, /status=1\nfiller\n$/, 'the refused run left something behind');
  assert.equal(lastLine(full.stderr), `tsgpt: error: cannot lock run folder ${mnt}/run: no space left on the device`);
  assert.doesNotMatch(full.stderr, /\n\s+at /);

  // A run stopped at step 20 of 40, copied onto the tmpfs, which is then filled to one free page: the lock
  // takes it, and rewriting the log finds the disk full.
  const run = join(dir, 'run');
  const made = runCli(dir, [...tinyTrain(corpus), '--max-iters', '20', '--eval-interval', '10', '--out', run]);
  assert.equal(made.code, 0, made.stderr);
  const sums = `(cd "$MNT/run" && find . -type f | sort | xargs sha256sum)`;
  const resumed = inTmpfs(
    512,
    `cp -r ${run} "$MNT/run" && ${fill(1)}\n${sums}; echo ---; $TSGPT train --resume "$MNT/run" --max-iters 40; echo "status=$?"; ${sums}`,
  )!;
  const [before, after] = resumed.stdout.split('---\n');
  assert.match(after!, /^status=1\n/);
  assert.equal(after!.replace(/^status=1\n/, ''), before, 'the run folder changed');
  assert.equal(
    lastLine(resumed.stderr),
    `tsgpt: error: cannot write log.jsonl in run folder ${mnt}/run: no space left on the device; its last complete checkpoint (step 20) is intact`,
  );
});

test('a real read-only file system is called read-only, not "no such file"', { skip }, () => {
  const r = inTmpfs(64, `${TRAIN} --out "$MNT/a/b"; ${TRAIN} --out "$MNT/run"`, true)!;
  const lines = r.stderr.trim().split('\n');
  assert.deepEqual(lines, [
    `tsgpt: error: cannot create run folder ${mnt}/a/b: the file system is read-only`,
    `tsgpt: error: cannot create run folder ${mnt}/run: the file system is read-only`,
  ]);
});
