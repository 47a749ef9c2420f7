/**
 * tsgpt memory build | eval | search and tsgpt sample --memory, end to end on a tiny run; and every bad input
 * a memory command can meet ends in one line, a non-zero status, and nothing written.
 */
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { makeCorpus } from '../helpers/corpus.js';
import { makeTinyRun, TINY_GPT, tsgptIn } from '../helpers/tiny_run.js';

const dir = mkdtempSync(join(tmpdir(), 'tsgpt-memory-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const run = makeTinyRun(dir, 'run');
// The same tiny model from another seed: other weights.
const otherRun = tsgptIn(
  dir,
  'train',
  '--data',
  join(dir, 'tiny-corpus.txt'),
  '--out',
  'other-run',
  '--max-iters',
  '5',
  '--eval-interval',
  '5',
  '--eval-iters',
  '1',
  '--seed',
  '2',
  ...TINY_GPT,
);
assert.equal(otherRun.code, 0, otherRun.stderr);
const other = join(dir, 'other-run');
writeFileSync(join(dir, 'remember.txt'), makeCorpus(3000).slice(0, 2500));
writeFileSync(join(dir, 'measure.txt'), makeCorpus(6000).slice(3000, 4200));
const tsgpt = (...args: string[]) => tsgptIn(dir, ...args);

/** One line on stderr, the given status, and the message matched. */
function refused(r: ReturnType<typeof tsgpt>, message: RegExp): void {
  assert.equal(r.code, 1, r.stderr);
  assert.equal(r.stderr.trim().split('\n').length, 1, `one line, got:\n${r.stderr}`);
  assert.match(r.stderr, message);
}

test('memory build writes a folder that eval, search and sample read', () => {
  const b = tsgpt('memory', 'build', '--from', run, '--text', 'remember.txt', '--out', 'mem', '--stride', '4');
  assert.equal(b.code, 0, b.stderr);
  assert.match(b.stderr, /memory: 2,499 keys of width 16 \(ffn_input, F32\)/);
  assert.deepEqual(readdirSync(join(dir, 'mem')).sort(), ['config.json', 'memory.safetensors']);
  const config = JSON.parse(readFileSync(join(dir, 'mem', 'config.json'), 'utf8'));
  assert.equal(config.count, 2499);
  assert.equal(config.build.stride, 4);

  const e = tsgpt('memory', 'eval', '--from', run, '--memory', 'mem', '--text', 'measure.txt', '--json', '--memory-k', '8');
  assert.equal(e.code, 0, e.stderr);
  const report = JSON.parse(e.stdout);
  for (const key of ['loss', 'loss_with_memory', 'k', 'lambda', 'temperature']) assert.equal(typeof report[key], 'number', key);
  assert.equal(report.k, 8);
  assert.equal(report.positions, 1199);
  assert.ok(report.loss > 0 && report.loss_with_memory > 0);

  const sw = tsgpt('memory', 'eval', '--from', run, '--memory', 'mem', '--text', 'measure.txt', '--sweep', '--json');
  assert.equal(sw.code, 0, sw.stderr);
  const swept = JSON.parse(sw.stdout);
  assert.ok(swept.sweep.tried > 100, 'a grid was tried');
  assert.equal(swept.positions + swept.sweep.chosen_on.positions, 1199, 'chosen on one half, reported on the other');

  const s = tsgpt('memory', 'search', '--memory', 'mem', '--query', 'that is ', '--k', '4', '--json', '--html', 'search.html');
  assert.equal(s.code, 0, s.stderr);
  const found = JSON.parse(s.stdout);
  assert.equal(found.passages.length, 4);
  const total = found.passages.reduce((a: number, p: { weight: number }) => a + p.weight, 0);
  assert.ok(Math.abs(total - 1) < 1e-6, `weights sum to 1, got ${total}`);
  assert.match(readFileSync(join(dir, 'search.html'), 'utf8'), /What the query attends to/);

  const plain = tsgpt('sample', '--from', run, '--start', 'to', '--tokens', '30', '--seed', '2');
  const withMemory = tsgpt(
    'sample',
    '--from',
    run,
    '--memory',
    'mem',
    '--start',
    'to',
    '--tokens',
    '30',
    '--seed',
    '2',
    '--memory-lambda',
    '1',
  );
  assert.equal(withMemory.code, 0, withMemory.stderr);
  assert.notEqual(withMemory.stdout, plain.stdout, 'the memory changes what is sampled');
});

test('memory f16: half the file, the same neighbours to the eye', () => {
  const b = tsgpt('memory', 'build', '--from', run, '--text', 'remember.txt', '--out', 'mem16', '--dtype', 'f16');
  assert.equal(b.code, 0, b.stderr);
  const f32 = tsgpt('memory', 'build', '--from', run, '--text', 'remember.txt', '--out', 'mem32');
  assert.equal(f32.code, 0, f32.stderr);
  const size = (m: string) => readFileSync(join(dir, m, 'memory.safetensors')).length;
  assert.ok(size('mem16') < 0.75 * size('mem32'), `${size('mem16')} against ${size('mem32')} bytes`);
  const query = (m: string) =>
    JSON.parse(tsgpt('memory', 'search', '--memory', m, '--query', 'in the ', '--k', '1', '--json').stdout).passages[0].index;
  assert.equal(query('mem16'), query('mem32'));
});

test('bad input: one line, a non-zero status, nothing written', () => {
  refused(tsgpt('memory'), /needs a subcommand: build, eval, search, index or train-head/);
  refused(tsgpt('memory', 'forget'), /unknown memory subcommand "forget"/);
  refused(tsgpt('memory', 'build', '--from', run, '--text', 'remember.txt'), /needs --out/);
  writeFileSync(join(dir, 'empty.txt'), '');
  refused(tsgpt('memory', 'build', '--from', run, '--text', 'empty.txt', '--out', 'never'), /empty/);
  refused(tsgpt('memory', 'build', '--from', run, '--text', 'missing.txt', '--out', 'never'), /not found/);
  writeFileSync(join(dir, 'euro.txt'), 'to be or not €');
  refused(tsgpt('memory', 'build', '--from', run, '--text', 'euro.txt', '--out', 'never'), /outside the vocabulary/);
  assert.equal(existsSync(join(dir, 'never')), false);
  const bigram = makeTinyRun(dir, 'bigram-run', 'bigram');
  refused(tsgpt('memory', 'build', '--from', bigram, '--text', 'remember.txt', '--out', 'never'), /bigram model/);
  refused(
    tsgpt('memory', 'build', '--from', run, '--text', 'remember.txt', '--out', 'never', '--memory-lambda', '1.5'),
    /--memory-lambda takes/,
  );

  refused(
    tsgpt('memory', 'eval', '--from', other, '--memory', 'mem', '--text', 'measure.txt'),
    /built by a different model \(weights SHA-256/,
  );
  refused(tsgpt('memory', 'eval', '--from', run, '--memory', 'mem', '--text', 'remember.txt'), /is the text memory mem was built from/);
  refused(
    tsgpt('memory', 'eval', '--from', run, '--memory', 'mem', '--text', 'measure.txt', '--memory-k', '5000'),
    /k is 5000 but the memory holds only 2499 keys/,
  );
  refused(tsgpt('memory', 'eval', '--from', run, '--memory', 'nowhere', '--text', 'measure.txt'), /no memory folder at nowhere/);
  refused(tsgpt('memory', 'search', '--memory', 'mem', '--query', 'pay €'), /query has characters outside the vocabulary/);
  refused(tsgpt('memory', 'search', '--memory', 'mem', '--query', 'to', '--memory-temperature', '-1'), /--memory-temperature takes/);
  refused(tsgpt('sample', '--from', run, '--memory-k', '3'), /--memory-k needs --memory MEM/);
  refused(tsgpt('sample', '--from', other, '--memory', 'mem'), /built by a different model/);

  // A damaged memory: a flipped byte in the tensors, a truncated file, a doctored config.
  const damaged = (name: string, change: (folder: string) => void) => {
    const folder = join(dir, name);
    cpSync(join(dir, 'mem'), folder, { recursive: true });
    change(folder);
    return name;
  };
  const flip = damaged('flipped', (f) => {
    const bytes = readFileSync(join(f, 'memory.safetensors'));
    bytes[bytes.length - 100]! ^= 1;
    writeFileSync(join(f, 'memory.safetensors'), bytes);
  });
  refused(
    tsgpt('memory', 'search', '--memory', flip, '--query', 'to'),
    /does not match the size and SHA-256 recorded .*: the memory is damaged/,
  );
  const cut = damaged('cut', (f) => {
    const bytes = readFileSync(join(f, 'memory.safetensors'));
    writeFileSync(join(f, 'memory.safetensors'), bytes.subarray(0, bytes.length - 7));
  });
  refused(tsgpt('memory', 'search', '--memory', cut, '--query', 'to'), /the memory is damaged/);
  const doctored = damaged('doctored', (f) => {
    const c = JSON.parse(readFileSync(join(f, 'config.json'), 'utf8'));
    c.scoring.lambda = 2;
    writeFileSync(join(f, 'config.json'), JSON.stringify(c));
  });
  refused(tsgpt('memory', 'search', '--memory', doctored, '--query', 'to'), /lambda must be in \[0, 1\], got 2/);
  const wrongWidth = damaged('wide', (f) => {
    const c = JSON.parse(readFileSync(join(f, 'config.json'), 'utf8'));
    c.model.width = 32;
    writeFileSync(join(f, 'config.json'), JSON.stringify(c));
  });
  refused(tsgpt('memory', 'search', '--memory', wrongWidth, '--query', 'to'), /"keys" is F32 \[2499,16\], expected F32 \[2499,32\]/);
});

test('memory index: LanceDB proposes, search rescores; with every partition read it finds what exact search finds', () => {
  cpSync(join(dir, 'mem'), join(dir, 'mem-lance'), { recursive: true });
  const noIndex = tsgpt('memory', 'search', '--memory', 'mem-lance', '--query', 'that is ', '--index', 'lancedb');
  refused(noIndex, /has no LanceDB index; make one with tsgpt memory index/);

  const built = tsgpt('memory', 'index', '--memory', 'mem-lance', '--kind', 'ivf_flat', '--partitions', '4');
  assert.equal(built.code, 0, built.stderr);
  assert.match(built.stdout, /indexed 2,499 keys of width 16 .*ivf_flat, 4 partitions/);
  const index = JSON.parse(readFileSync(join(dir, 'mem-lance', 'lancedb', 'index.json'), 'utf8'));
  const memory = JSON.parse(readFileSync(join(dir, 'mem-lance', 'config.json'), 'utf8'));
  assert.equal(index.memory_sha256, memory.files['memory.safetensors'].sha256);

  const search = (...extra: string[]) => {
    const r = tsgpt('memory', 'search', '--memory', 'mem-lance', '--query', 'that is ', '--k', '6', '--json', ...extra);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout).passages;
  };
  type Hit = { index: number; value: string; match: number; score: number };
  const viaIndex: Hit[] = search('--index', 'lancedb', '--nprobes', '4');
  const exact: Hit[] = search();
  // The same scores rank by rank (rescored in float64 against the kernel's float32 sums: equal to rounding).
  // Indices may differ only among equal scores: this text repeats, so equal contexts give equal keys, and
  // LanceDB returns any k of a tie where exact search takes the lowest positions.
  assert.equal(viaIndex.length, exact.length);
  viaIndex.forEach((h, i) => assert.ok(Math.abs(h.score - exact[i]!.score) < 1e-5, `rank ${i}: ${h.score} against ${exact[i]!.score}`));

  // An index whose memory changed is refused, not used.
  writeFileSync(join(dir, 'mem-lance', 'lancedb', 'index.json'), JSON.stringify({ ...index, memory_sha256: '1'.repeat(64) }));
  refused(tsgpt('memory', 'search', '--memory', 'mem-lance', '--query', 'that is ', '--index', 'lancedb'), /was built for another memory/);
  writeFileSync(join(dir, 'mem-lance', 'lancedb', 'index.json'), '{"format":');
  refused(tsgpt('memory', 'search', '--memory', 'mem-lance', '--query', 'that is ', '--index', 'lancedb'), /index\.json: not valid JSON/);
  refused(
    tsgpt('memory', 'index', '--memory', 'mem-lance', '--kind', 'ivf_pq', '--sub-vectors', '5'),
    /--sub-vectors 5 does not divide the keys' width 16/,
  );
});
