/**
 * `tsgpt memory train-head` end to end: on a small synthetic set (recall
 * raised, the exported file, the same bytes on 1 and 2 threads), on a tiny run's own states, on the user's vector
 * files, and a table of bad inputs, each one clear line, a non-zero exit and no file written.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Rng } from '../../src/engine/random.js';
import { HEAD_COMMAND, type HeadResult } from '../../src/cli/memory_head_command.js';
import { encodeSafetensors } from '../../src/io/safetensors.js';
import { decodeRetrievalHead } from '../../src/memory/retrieval_head_file.js';
import { syntheticPairs } from '../../src/memory/vector_pairs.js';
import { CliProcess, runCli, type CliResult } from '../helpers/cli_process.js';
import { makeTinyRun } from '../helpers/tiny_run.js';

const dir = mkdtempSync(join(tmpdir(), 'tsgpt-head-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const at = (name: string) => join(dir, name);

const SMALL = ['--steps', '150', '--eval-interval', '50', '--lr', '1e-2'];

function head(args: readonly string[]): CliResult {
  return runCli(dir, [...HEAD_COMMAND.split(' '), ...args]);
}

function parsed(r: CliResult): HeadResult {
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as HeadResult;
}

/** A .npy file of float32 rows, laid out as NumPy writes version 1.0. */
function npy(rows: number, width: number, data: Float32Array): Uint8Array {
  let h = `{'descr': '<f4', 'fortran_order': False, 'shape': (${rows}, ${width}), }`;
  while ((10 + h.length + 1) % 64 !== 0) h += ' ';
  h += '\n';
  const out = new Uint8Array(10 + h.length + data.byteLength);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  new DataView(out.buffer).setUint16(8, h.length, true);
  out.set(new TextEncoder().encode(h), 10);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), 10 + h.length);
  return out;
}

function jsonl(rows: number, width: number, data: Float32Array): string {
  return Array.from(
    { length: rows },
    (_, i) => `${JSON.stringify({ id: i, embedding: [...data.subarray(i * width, (i + 1) * width)] })}\n`,
  ).join('');
}

test('on a synthetic set: recall raised, a summary, the head exported, the same bytes on 1 and 2 threads', () => {
  const args = ['--synthetic', '--count', '400', '--width', '8', '--noise', '0.2', ...SMALL, '--batch', '64', '--json'];
  const one = parsed(head([...args, '--out', 'one.safetensors', '--threads', '1']));
  const two = parsed(head([...args, '--out', 'two.safetensors', '--threads', '2']));
  assert.deepEqual({ ...one, train_seconds: 0, out: '' }, { ...two, train_seconds: 0, out: '' });
  assert.deepEqual(readFileSync(at('one.safetensors')), readFileSync(at('two.safetensors')));
  assert.deepEqual([one.width, one.rank, one.train_pairs, one.validation_pairs, one.held_out_pairs], [8, 8, 288, 32, 80]);
  assert.ok(one.after.recallAt1 > one.before.recallAt1 + 0.3, `before ${one.before.recallAt1}, after ${one.after.recallAt1}`);
  assert.ok(one.after.mrr > one.before.mrr);
  assert.ok(one.temperature.learned && one.temperature.end > 0);

  const { head: exported, metadata } = decodeRetrievalHead(readFileSync(at('one.safetensors')), 'one.safetensors');
  assert.deepEqual([exported.width, exported.rank], [8, 8]);
  assert.ok(Math.abs(exported.temperature / one.temperature.end - 1) < 1e-6);
  assert.deepEqual(JSON.parse(metadata.metrics!), { before: one.before, after: one.after });
  assert.equal(metadata.source, 'synthetic');
  assert.equal(JSON.parse(metadata.training!).bestStep, one.best_step);
  exported.dispose();

  const text = head(['--synthetic', '--count', '400', '--width', '8', ...SMALL, '--batch', '64', '--rank', '4', '--temperature', '0.5']);
  assert.equal(text.code, 0, text.stderr);
  assert.match(
    text.stdout,
    /^held out: 80 pairs, each query ranked against all 80 items\n {10}recall@1 {2}recall@5 {7}MRR\n {2}before .*\n {2}after .*\n {2}change .*\nhead: rank 4 over width 8; temperature 0\.500 -> 0\.500 \(fixed\); 150 steps of 64 pairs/,
  );
  assert.match(text.stdout, /not saved \(give --out FILE to export the head\)/);
  assert.match(text.stderr, /step 150\/150 \| loss [0-9.]+ \| [0-9,]+ pairs\/s/);
  assert.match(text.stderr, /step 0: validation recall@1 [0-9.]+, recall@5 [0-9.]+, MRR [0-9.]+ \(best so far\)/);
});

test("on a tiny run's own states: damaged lines read by its model, the run's weights named in the file", () => {
  const run = makeTinyRun(dir, 'run');
  const raw = head(['--from', run, '--count', '60', ...SMALL, '--batch', '32', '--out', 'run-head.safetensors', '--json']);
  const r = parsed(raw);
  // 60 queries and 60 items read through the model, with the count shown as it goes.
  assert.match(raw.stderr, /reading passages through .*run's model: 120\/120\n/);
  assert.equal(r.width, 16);
  assert.match(r.source, /^60 damaged-lines pairs from .*tiny-corpus\.txt, read by .*run's model at ffn_input \(width 16\)$/);
  assert.equal(r.held_out_pairs, 12);
  const { head: exported, metadata } = decodeRetrievalHead(readFileSync(at('run-head.safetensors')), 'run-head.safetensors');
  assert.equal(
    metadata.run_weights_sha256,
    createHash('sha256')
      .update(readFileSync(join(run, 'model.safetensors')))
      .digest('hex'),
  );
  assert.equal(metadata.hidden_point, 'ffn_input');
  assert.equal(metadata.pair_set, 'damaged-lines');
  exported.dispose();
  const other = parsed(head(['--from', run, '--count', '60', ...SMALL, '--batch', '32', '--point', 'block_output', '--json']));
  assert.notDeepEqual(other.before, r.before);
});

test('on your own vector files: .npy queries against JSONL items, row i answering row i', () => {
  const pairs = syntheticPairs(200, 6, 0.3, new Rng(5));
  writeFileSync(at('q.npy'), npy(200, 6, pairs.queries));
  writeFileSync(at('k.jsonl'), jsonl(200, 6, pairs.items));
  const r = parsed(head(['--queries', 'q.npy', '--items', 'k.jsonl', ...SMALL, '--batch', '64', '--normalize', '--json']));
  assert.equal(r.source, '200 pairs of width 6 from q.npy and k.jsonl');
  assert.equal(r.held_out_pairs, 40);
  assert.ok(r.after.recallAt1 >= r.before.recallAt1);
  // The same vectors from safetensors give the same result.
  writeFileSync(
    at('both.safetensors'),
    encodeSafetensors([
      { name: 'q', dtype: 'F32', shape: [200, 6], data: pairs.queries },
      { name: 'k', dtype: 'F32', shape: [200, 6], data: pairs.items },
    ]),
  );
  const s = parsed(
    head([
      '--queries',
      'both.safetensors',
      '--queries-field',
      'q',
      '--items',
      'both.safetensors',
      '--items-field',
      'k',
      ...SMALL,
      '--batch',
      '64',
      '--normalize',
      '--json',
    ]),
  );
  assert.deepEqual([s.before, s.after], [r.before, r.after]);
});

test('bad inputs: one clear line each, a non-zero exit, nothing written', { timeout: 300_000 }, async () => {
  const bad = mkdtempSync(join(dir, 'bad-'));
  const in_ = (name: string) => join(bad, name);
  const pairs = syntheticPairs(40, 4, 0.3, new Rng(6));
  const good = npy(40, 4, pairs.queries);
  const files: Record<string, string | Uint8Array> = {
    'q.npy': good,
    'k.npy': npy(40, 4, pairs.items),
    'wide.npy': npy(20, 8, pairs.items),
    'short.npy': npy(30, 4, pairs.items.subarray(0, 120)),
    'truncated.npy': good.subarray(0, good.length - 5),
    'corrupt.npy': Uint8Array.from(good, (b, i) => (i >= 8 && i < 40 ? b ^ 0x55 : b)),
    'f2.npy': new Uint8Array(readFileSync(new URL('../../../test/fixtures/npy/f2.npy', import.meta.url))),
    'empty.jsonl': '',
    'bad.jsonl': '[1, 2, 3, 4]\n[1, 2, "x", 4]\n',
    'vectors.txt': '[1]\n',
    'nan.safetensors': encodeSafetensors([{ name: 'v', dtype: 'F32', shape: [1, 4], data: Float32Array.of(1, NaN, 0, 0) }]),
    'speeches.txt': 'to be or not to be that is the question\nwhether tis nobler in the mind to suffer\n',
  };
  for (const [name, content] of Object.entries(files)) writeFileSync(in_(name), content);
  mkdirSync(in_('folder.npy'));
  mkdirSync(in_('not-a-run'));
  const run = join(dir, 'run');
  if (!existsSync(run)) makeTinyRun(dir, 'run');
  const qk = ['--queries', in_('q.npy'), '--items', in_('k.npy')];
  const out = ['--out', in_('head.safetensors')];
  const cases: [string, string[], RegExp][] = [
    ['no source', [], /needs pairs: --synthetic, --from RUN, or --queries FILE --items FILE/],
    ['two sources', ['--synthetic', '--from', run], /give one source of pairs, not --synthetic and --from/],
    ['queries without items', ['--queries', in_('q.npy')], /give --queries FILE and --items FILE together/],
    ['a flag of another source', ['--synthetic', '--point', 'ffn_input'], /--point applies to --from only/],
    ['a field for synthetic pairs', ['--synthetic', '--queries-field', 'x'], /--queries-field applies to --queries only/],
    ['--count with files', [...qk, '--count', '10'], /--count applies to --synthetic and --from/],
    ['--damage with replies', ['--from', run, '--pairs', 'replies', '--damage', '0.2'], /--damage applies to --pairs damaged-lines only/],
    ['an unknown flag', ['--synthetic', '--stepz', '5'], /unknown option --stepz .*did you mean --steps\?/],
    ['a nonsense number', ['--synthetic', '--lr', 'fast'], /option --lr takes a number/],
    ['a negative count of steps', ['--synthetic', '--steps', '-1'], /option --steps takes an integer from 0/],
    ['a batch of one', ['--synthetic', '--batch', '1'], /option --batch takes an integer from 2/],
    ['an unknown pair set', ['--from', run, '--pairs', 'sonnets'], /option --pairs takes one of damaged-lines, replies/],
    ['a held-out fraction of 0', ['--synthetic', '--held-out', '0'], /--held-out must be more than 0/],
    [
      'too few pairs to split',
      ['--synthetic', '--count', '4'],
      /4 pairs split into 3 to train on, 0 to validate on, 1 held out; each part needs at least 2/,
    ],
    ['a rank above the width', ['--synthetic', '--width', '4', '--rank', '5'], /--rank 5 is more than the vectors' width 4/],
    ['a batch above the training pairs', [...qk, '--batch', '64'], /--batch 64 is more than the 29 training pairs/],
    [
      'a missing queries file',
      ['--queries', in_('none.npy'), '--items', in_('k.npy')],
      /cannot read queries file .*none\.npy: no such file/,
    ],
    [
      'a folder for a file',
      ['--queries', in_('folder.npy'), '--items', in_('k.npy')],
      /queries file .*folder\.npy is a folder, not a file/,
    ],
    ['an unknown extension', ['--queries', in_('vectors.txt'), '--items', in_('k.npy')], /tells vector files by their extension/],
    [
      'a truncated .npy',
      ['--queries', in_('truncated.npy'), '--items', in_('k.npy')],
      /truncated\.npy: the file is truncated: shape \(40, 4\) needs 640 bytes of data, it has 635/,
    ],
    ['a corrupt .npy', ['--queries', in_('corrupt.npy'), '--items', in_('k.npy')], /corrupt\.npy: /],
    ['float16', ['--queries', in_('f2.npy'), '--items', in_('k.npy')], /dtype "<f2" is not supported/],
    [
      'mismatched widths',
      ['--queries', in_('q.npy'), '--items', in_('wide.npy')],
      /holds vectors of width 4 but items file .*wide\.npy of width 8/,
    ],
    ['mismatched counts', ['--queries', in_('q.npy'), '--items', in_('short.npy')], /holds 40 vectors but items file .*short\.npy 30/],
    ['an empty JSONL file', ['--queries', in_('empty.jsonl'), '--items', in_('k.npy')], /empty\.jsonl holds no vectors \(it is empty\)/],
    [
      'a bad JSONL line',
      ['--queries', in_('bad.jsonl'), '--items', in_('k.npy')],
      /bad\.jsonl: line 2: value 2 is "x", not a finite float32 number/,
    ],
    ['a NaN in safetensors', ['--queries', in_('nan.safetensors'), '--items', in_('k.npy')], /row 0 of "v" holds NaN/],
    ['a field a file lacks', ['--queries', in_('nan.safetensors'), '--queries-field', 'w', '--items', in_('k.npy')], /has no tensor "w"/],
    ['a folder that is not a run', ['--from', in_('not-a-run')], /not-a-run/],
    ['a missing text', ['--from', run, '--data', in_('none.txt')], /data file not found: .*none\.txt/],
    ['a text without replies', ['--from', run, '--pairs', 'replies', '--data', in_('speeches.txt')], /no speech followed by a reply/],
    ['a text outside the vocabulary', ['--from', run, '--data', in_('bad.jsonl')], /outside|vocabulary/],
    [
      '--out in a missing folder',
      ['--synthetic', '--out', in_('nowhere/head.safetensors')],
      /cannot write .*head\.safetensors: its folder .*nowhere: no such file/,
    ],
    ['--out a folder', ['--synthetic', '--out', in_('folder.npy')], /cannot write .*folder\.npy: it is a folder/],
  ];
  const before = readdirSync(bad).sort();
  const results: CliResult[] = new Array(cases.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < cases.length; i = next++) {
      const args = cases[i]![1];
      results[i] = await new CliProcess(dir, [...HEAD_COMMAND.split(' '), ...args, ...(args.includes('--out') ? [] : out)]).done;
    }
  };
  await Promise.all([worker(), worker(), worker()]);
  const failures: string[] = [];
  results.forEach((r, i) => {
    const [what, args, pattern] = cases[i]!;
    const lines = r.stderr.trim().split('\n');
    const problem =
      r.code === 0 || r.code === null
        ? `exit ${r.code}`
        : lines.length !== 1
          ? `${lines.length} lines on stderr`
          : !lines[0]!.startsWith('tsgpt: ')
            ? 'the line does not start with "tsgpt: "'
            : !pattern.test(lines[0]!)
              ? `the line does not match ${pattern}`
              : null;
    if (problem !== null) failures.push(`${what} (${args.join(' ')}): ${problem}\n    ${r.stderr.trim()}`);
  });
  assert.deepEqual(failures, [], `${failures.length} of ${cases.length} cases failed:\n${failures.join('\n')}`);
  assert.deepEqual(readdirSync(bad).sort(), before, 'a bad input wrote a file');
  console.log(`# bad inputs tried through tsgpt ${HEAD_COMMAND}: ${cases.length}`);
});
