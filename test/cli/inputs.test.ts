/**
 * Bad input through the real command line, case by case from a large table: every train and sample flag with
 * ill-typed and out-of-range values, flag combinations that make no sense, corpora that are missing, empty,
 * not UTF-8, not regular files or too short, start texts outside the vocabulary, folders that are not runs.
 * Each must end with exactly one line "tsgpt: ..." on stderr, a non-zero exit, no stack trace, and no run
 * folder written. The cases run a few processes at a time; the count is printed.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { HYPERPARAMETERS } from '../../src/checkpoint/hyperparameters.js';
import { makeCorpus } from '../helpers/corpus.js';
import { CliProcess, runCli, type CliResult } from '../helpers/cli_process.js';

const dir = mkdtempSync(join(tmpdir(), 'tsgpt-inputs-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const at = (name: string) => join(dir, name);

const corpus = at('corpus.txt');
writeFileSync(corpus, makeCorpus(4000, 11));
const files: Record<string, string | Uint8Array> = {
  'empty.txt': '',
  'one-char.txt': 'a',
  'bom-only.txt': new Uint8Array([0xef, 0xbb, 0xbf]),
  'latin1.txt': new Uint8Array([0x63, 0x61, 0x66, 0xe9, 0x0a]),
  'lone-continuation.txt': new Uint8Array([0x61, 0x80, 0x62]),
  'overlong.txt': new Uint8Array([0x61, 0xc0, 0xaf]),
  'surrogate.txt': new Uint8Array([0x61, 0xed, 0xa0, 0x80]),
  'truncated.txt': new Uint8Array([0x61, 0x62, 0xe2, 0x82]),
  'above-max.txt': new Uint8Array([0xf4, 0x90, 0x80, 0x80]),
  'binary.bin': new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 0x02, 0x01, 0xff, 0xfe, 0x00]),
  'short.txt': 'to be or not to be, that is the question\n',
  'start-latin1.txt': new Uint8Array([0x74, 0x6f, 0xe9]),
  'start-empty.txt': '',
  'start-unknown.txt': 'to be? Zebra',
  // A NUL cannot be passed in argv, so it comes from a file.
  'start-nul.txt': 'to\u0000be',
};
for (const [name, content] of Object.entries(files)) writeFileSync(at(name), content);
mkdirSync(at('a-folder'));
mkdirSync(at('not-a-run'));
writeFileSync(at('not-a-run/notes.txt'), 'mine');
const fifo = at('pipe.txt');
let haveFifo = true;
try {
  execFileSync('mkfifo', [fifo]);
} catch {
  haveFifo = false;
}

/** A run the sample cases use. */
const run = at('run');

type Case = { args: string[]; pattern: RegExp; what: string };
const cases: Case[] = [];
let outCounter = 0;
/** A train command that must fail: it gets its own --out, checked afterwards to be absent. */
const train = (what: string, args: string[], pattern: RegExp, opts: { data?: boolean } = {}) => {
  const out = at(`never-${outCounter++}`);
  const data = opts.data === false ? [] : ['--data', corpus];
  cases.push({ what, args: ['train', ...data, '--out', out, ...args], pattern });
};
const sample = (what: string, args: string[], pattern: RegExp) => cases.push({ what, args: ['sample', ...args], pattern });

// Every hyperparameter flag with values of the wrong type or out of range.
for (const h of HYPERPARAMETERS) {
  const flag = `--${h.flag}`;
  const bad: string[] = [];
  if (h.type === 'int' || h.type === 'float') {
    bad.push('abc', h.type === 'int' ? '1.5' : 'NaN', String(h.min! - 1), String(h.max! * 2 + 1));
    if (h.maxExclusive) bad.push(String(h.max));
  } else if (h.type === 'bool') {
    bad.push('maybe', '2');
  } else {
    bad.push('nope', h.choices![0]!.toUpperCase());
  }
  for (const v of bad) train(`${flag}=${v}`, [`${flag}=${v}`], new RegExp(`${flag} takes `));
}
// Numbers JavaScript would half-accept.
for (const v of ['Infinity', '-Infinity', '', ' ', '1,5', '0x', '1e400', '2.000001', '1e-400', '--5', '٣']) {
  train(`--max-iters=${JSON.stringify(v)}`, [`--max-iters=${v}`], /--max-iters takes an integer/);
}
for (const flag of ['--n-layer', '--learning-rate', '--preset', '--data', '--out'])
  train(`${flag} without a value`, [flag], new RegExp(`${flag} needs a value`));

// The parser itself.
train('unknown option', ['--n-layr', '2'], /unknown option --n-layr.*did you mean --n-layer/);
train('unknown option, no hint', ['--frobnicate'], /unknown option --frobnicate for 'tsgpt train'/);
train('single dash', ['-n', '2'], /unexpected argument "-n"/);
train('positional', ['baby'], /unexpected argument "baby"/);
train('bare --', ['--'], /unexpected argument "--"/);
train('given twice', ['--max-iters', '5', '--max-iters', '6'], /--max-iters is given twice/);
train('flag as value', ['--n-layer', '--n-head', '2'], /--n-layer needs a value/);
train('--no- on a non-bool', ['--no-n-layer'], /unknown option --no-n-layer/);
train('--help=false and junk', ['--help=maybe'], /--help takes true or false/);
train('unknown preset', ['--preset', 'huge'], /--preset takes one of bigram, baby, fast, lecture/);

// Combinations.
train('n_embd not divisible by n_head', ['--n-embd', '30', '--n-head', '4'], /--n-embd \(30\) must be divisible by --n-head \(4\)/);
train('n_head larger than n_embd', ['--n-embd', '4', '--n-head', '8'], /must be divisible/);
train('min lr above lr', ['--min-lr', '1', '--learning-rate', '0.1'], /--min-lr \(1\) is above --learning-rate \(0\.1\)/);
train(
  'decay shorter than warm-up',
  ['--warmup-iters', '100', '--lr-decay-iters', '10'],
  /--lr-decay-iters \(10\) is shorter than --warmup-iters \(100\)/,
);
train('gpt flag on bigram', ['--preset', 'bigram', '--n-layer', '2'], /--n-layer has no effect on the bigram model/);
train('dropout on bigram', ['--preset', 'bigram', '--dropout', '0.1'], /--dropout has no effect on the bigram model/);
train('style on bigram', ['--preset', 'bigram', '--style', 'lecture'], /--style has no effect on the bigram model/);
train('gpt without sizes', ['--preset', 'bigram', '--model', 'gpt'], /--model gpt needs --n-layer, --n-head and --n-embd/);
train(
  'warm-up with constant lr',
  ['--preset', 'lecture', '--warmup-iters', '10'],
  /--warmup-iters has no effect with a constant learning rate/,
);
train('min lr with constant lr', ['--preset', 'bigram', '--min-lr', '0.001'], /--min-lr has no effect with a constant learning rate/);
train('block size over the corpus', ['--block-size', '5000'], /too short for --block-size 5000/);
train(
  'block size over the validation split',
  ['--block-size', '400'],
  /too short for --block-size 400: its validation split has 400 tokens/,
);
train('model too big to build', ['--n-embd', '65536', '--n-head', '1'], /more than tsgpt's 4\.0 GB tensor memory/);
train('batch too big for memory', ['--batch-size', '65536', '--block-size', '256'], /GB .*tensor memory; lower/);
train('deep and wide', ['--n-layer', '256', '--n-embd', '16384', '--n-head', '128'], /tensor memory/);

// Corpora.
train('missing corpus', ['--data', at('missing.txt')], /data file not found: .*missing\.txt/, { data: false });
train('corpus is a folder', ['--data', at('a-folder')], /is a directory, not a text file/, { data: false });
train('empty corpus', ['--data', at('empty.txt')], /empty\.txt is empty/, { data: false });
train('BOM only', ['--data', at('bom-only.txt')], /bom-only\.txt is empty/, { data: false });
train('one character', ['--data', at('one-char.txt')], /holds a single character/, { data: false });
for (const name of [
  'latin1.txt',
  'lone-continuation.txt',
  'overlong.txt',
  'surrogate.txt',
  'truncated.txt',
  'above-max.txt',
  'binary.bin',
]) {
  train(
    `not UTF-8: ${name}`,
    ['--data', at(name)],
    new RegExp(`${name.replace('.', '\\.')} is not valid UTF-8 text \\(byte offset \\d+\\)`),
    { data: false },
  );
}
train('shorter than one batch', ['--data', at('short.txt')], /short\.txt is too short for --block-size 64/, { data: false });
train('empty --data', ['--data', ''], /--data takes a non-empty value/, { data: false });
if (haveFifo) train('corpus is a FIFO', ['--data', fifo], /pipe\.txt is not a regular file/, { data: false });

// Run folders.
cases.push({
  what: '--out is a file',
  args: ['train', '--data', corpus, '--out', corpus],
  pattern: /--out .*corpus\.txt is a file, not a folder/,
});
cases.push({
  what: '--out holds other files',
  args: ['train', '--data', corpus, '--out', at('not-a-run')],
  pattern: /is a folder of other files \("notes\.txt", \.\.\.\), not a tsgpt run/,
});
cases.push({ what: '--resume of nothing', args: ['train', '--resume', at('missing-run')], pattern: /no run folder at/ });
cases.push({ what: '--resume of a file', args: ['train', '--resume', corpus], pattern: /no run folder at/ });
cases.push({
  what: '--resume of a non-run',
  args: ['train', '--resume', at('not-a-run')],
  pattern: /is not a tsgpt run: config\.json is missing/,
});
cases.push({
  what: '--resume with --out',
  args: ['train', '--resume', run, '--out', at('x')],
  pattern: /--out .*x differs from --resume .*run: a resumed run continues in its own folder/,
});
cases.push({
  what: '--resume with --preset',
  args: ['train', '--resume', run, '--preset', 'baby'],
  pattern: /--preset baby sets --n-layer 4, which differs from the run's 1;/,
});
for (const flag of [
  '--batch-size=3',
  '--n-layer=2',
  '--dropout=0.2',
  '--beta2=0.9',
  '--grad-clip=0.5',
  '--gradient-accumulation-steps=2',
  '--decay-lr=false',
  '--model=bigram',
]) {
  cases.push({
    what: `--resume with ${flag}`,
    args: ['train', '--resume', run, flag, '--max-iters', '99'],
    pattern: / differs from the run's .*; a resumed run keeps its settings/,
  });
}
cases.push({ what: '--resume of a finished run', args: ['train', '--resume', run], pattern: /is complete \(step 20 of 20\)/ });
cases.push({
  what: '--resume with a smaller --max-iters',
  args: ['train', '--resume', run, '--max-iters', '10'],
  pattern: /--max-iters 10 is not beyond step 20/,
});

// Sampling.
sample('no --from', [], /needs --from DIR/);
sample('--from missing', ['--from', at('missing-run')], /no run folder at/);
sample('--from a file', ['--from', corpus], /no run folder at/);
sample('--from a non-run', ['--from', at('not-a-run')], /is not a tsgpt run: config\.json is missing/);
const outside: [string, RegExp][] = [
  ['Zebra', /outside the vocabulary: "Z"/],
  ['to be?', /outside the vocabulary: "\?"/],
  ['emoji 😀', /outside the vocabulary: .*"😀"/],
  ['tab\there', /outside the vocabulary: "\\t"/],
  ['to be\u0301', /outside the vocabulary: "\\u0301"$/],
  ['ABCDEFG', /outside the vocabulary: "A", "B", "C", "D", "E" and 2 more/],
  ['to\u200bbe', /outside the vocabulary: "\\u200b"$/],
];
for (const [start, pattern] of outside) sample(`start text ${JSON.stringify(start)}`, ['--from', run, '--start', start], pattern);
sample(
  'start text only unknown, skipped',
  ['--from', run, '--start', 'XYZ', '--unknown', 'skip'],
  /empty after removing unknown characters/,
);
sample(
  '--start and --start-file',
  ['--from', run, '--start', 'to', '--start-file', at('short.txt')],
  /give --start or --start-file, not both/,
);
sample('--start-file missing', ['--from', run, '--start-file', at('nope.txt')], /cannot read start file .*nope\.txt: no such file/);
sample('--start-file is a folder', ['--from', run, '--start-file', at('a-folder')], /start file .*a-folder is a folder, not a file/);
sample('--start-file not UTF-8', ['--from', run, '--start-file', at('start-latin1.txt')], /start-latin1\.txt is not valid UTF-8 text/);
sample('--start-file empty', ['--from', run, '--start-file', at('start-empty.txt')], /start-empty\.txt is empty/);
sample(
  '--start-file with unknown characters',
  ['--from', run, '--start-file', at('start-unknown.txt')],
  /start file .*start-unknown\.txt has characters outside the vocabulary: "\?", "Z"/,
);
sample('--start-file with a NUL', ['--from', run, '--start-file', at('start-nul.txt')], /outside the vocabulary: "\\u0000"/);
if (haveFifo) sample('--start-file is a FIFO', ['--from', run, '--start-file', fifo], /is not a regular file/);
sample('--unknown bad', ['--from', run, '--unknown', 'ignore'], /--unknown takes one of error, skip, replace/);
sample('--replacement without replace', ['--from', run, '--replacement', 'a'], /--replacement only applies with --unknown replace/);
sample(
  '--replacement of two characters',
  ['--from', run, '--start', 'Zo', '--unknown', 'replace', '--replacement', 'ab'],
  /replacement "ab" must be a single character/,
);
sample(
  '--replacement outside the vocabulary',
  ['--from', run, '--start', 'Zo', '--unknown', 'replace', '--replacement', 'Q'],
  /replacement "Q" is not in the vocabulary/,
);
const sampleNumbers: [string, string[]][] = [
  ['tokens', ['-1', 'x', '1.5', '10000001']],
  ['temperature', ['-1', '101', 'hot', 'NaN']],
  ['top-k', ['-1', '1.5', 'all']],
  ['top-p', ['1.5', '-0.1', 'half']],
  ['num-samples', ['0', '10001', 'two']],
  ['seed', ['-1', '4294967296', '1.5']],
];
for (const [flag, values] of sampleNumbers) {
  for (const v of values) sample(`--${flag} ${v}`, ['--from', run, `--${flag}=${v}`], new RegExp(`--${flag} takes `));
}
sample('unknown sample option', ['--from', run, '--temprature', '1'], /unknown option --temprature.*did you mean --temperature/);
sample('sample positional', ['--from', run, 'hello'], /unexpected argument "hello"/);
cases.push({ what: 'unknown command', args: ['frobnicate'], pattern: /unknown command "frobnicate"/ });
cases.push({ what: 'unknown command that looks like a flag', args: ['--frobnicate'], pattern: /unknown command "--frobnicate"/ });

async function runAll(list: Case[], parallel: number): Promise<CliResult[]> {
  const results: CliResult[] = new Array(list.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < list.length; i = next++) {
      const started = performance.now();
      results[i] = await new CliProcess(dir, list[i]!.args).done;
      if (process.env.TSGPT_INPUTS_TIMING) console.log(`# ${Math.round(performance.now() - started)} ms: ${list[i]!.what}`);
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return results;
}

test('a large table of bad inputs: each is one clear line, a non-zero exit, and nothing written', { timeout: 300_000 }, async () => {
  const trained = runCli(dir, [
    'train',
    '--data',
    corpus,
    '--out',
    run,
    '--n-layer',
    '1',
    '--n-head',
    '2',
    '--n-embd',
    '8',
    '--block-size',
    '8',
    '--batch-size',
    '2',
    '--max-iters',
    '20',
    '--eval-interval',
    '10',
    '--eval-iters',
    '1',
    '--warmup-iters',
    '2',
    '--lr-decay-iters',
    '20',
  ]);
  assert.equal(trained.code, 0, trained.stderr);
  const before = readdirSync(dir).sort();

  const results = await runAll(cases, 4);
  const failures: string[] = [];
  results.forEach((r, i) => {
    const c = cases[i]!;
    const lines = r.stderr.trim().split('\n');
    const problem =
      r.code === 0 || r.code === null
        ? `exit ${r.code} (signal ${r.signal})`
        : lines.length !== 1
          ? `${lines.length} lines on stderr`
          : !/^tsgpt: /.test(lines[0]!)
            ? 'the line does not start with "tsgpt: "'
            : /\n\s+at /.test(r.stderr)
              ? 'a stack trace'
              : !c.pattern.test(lines[0]!)
                ? `the message does not match ${c.pattern}`
                : null;
    if (problem !== null) failures.push(`${c.what} (${c.args.join(' ')}): ${problem}\n    ${r.stderr.trim().split('\n').join('\n    ')}`);
  });
  assert.deepEqual(failures, [], `${failures.length} of ${cases.length} cases failed:\n${failures.join('\n')}`);
  // Nothing written: no run folders, no stray files; the one run untouched and still unlocked.
  assert.deepEqual(readdirSync(dir).sort(), before);
  assert.ok(!existsSync(join(run, '.lock')));
  console.log(`# bad inputs tried through the CLI: ${cases.length}`);
});
