/**
 * GPT-2 encoding speed: tsgpt's tokenizer against js-tiktoken and gpt-tokenizer (dev dependencies), on the same
 * texts in the same process, taking turns so that a slow minute of a shared machine falls on all of them.
 *
 *   node dist/bench/tokenizer.js [--rounds 7] [--data PATH] [--cpu] [--json]
 *
 * Texts: Tiny Shakespeare (or --data) and the tests' torture text (its unpaired surrogates made U+FFFD, as
 * TextEncoder does, so every contender gets the same valid text; names of special tokens are encoded as text).
 * MB/s is UTF-8 megabytes (10^6 bytes) a second. "cold" is an encode with every cache emptied (a fresh tsgpt
 * tokenizer, gpt-tokenizer's merge cache cleared; js-tiktoken keeps none), "warm" one right after another of
 * the same text; each figure is the median over the rounds (best in brackets). Timed by the wall clock, or
 * with --cpu by this process's CPU time (steadier when other processes share the cores). The ids of every
 * contender are checked to be equal before anything is timed.
 */
import { loadavg } from 'node:os';
import { readFileSync } from 'node:fs';
import { clearMergeCache, encode as gptTokenizerEncode } from 'gpt-tokenizer/encoding/gpt2';
import { Tiktoken } from 'js-tiktoken/lite';
import ranks from 'js-tiktoken/ranks/gpt2';
import { GPT2Tokenizer } from '../src/tokenizers/gpt2.js';
import { gpt2VocabFiles } from '../test/helpers/gpt2_vocab.js';
import { tortureText } from '../test/helpers/torture_text.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : fallback;
};
const ROUNDS = Number(option('rounds', '7'));
const DATA = option('data', new URL('../../../shared/data/tinyshakespeare.txt', import.meta.url).pathname);
const CPU = args.includes('--cpu');
const JSON_OUTPUT = args.includes('--json');
const now = CPU
  ? () => {
      const u = process.cpuUsage();
      return (u.user + u.system) / 1000;
    }
  : () => performance.now();

interface Contender {
  name: string;
  /** Empties whatever the contender caches between calls. */
  reset: () => void;
  encode: (text: string) => ArrayLike<number>;
}

const { encoderJson, vocabBpe } = gpt2VocabFiles();
let tsgpt = GPT2Tokenizer.fromVocabFiles(encoderJson, vocabBpe);
const tiktoken = new Tiktoken(ranks);
const contenders: Contender[] = [
  {
    name: 'tsgpt',
    reset: () => {
      tsgpt = GPT2Tokenizer.fromVocabFiles(encoderJson, vocabBpe);
    },
    encode: (text) => tsgpt.encode(text, { special: 'ordinary' }),
  },
  { name: 'js-tiktoken', reset: () => {}, encode: (text) => tiktoken.encode(text, [], []) },
  { name: 'gpt-tokenizer', reset: () => clearMergeCache(), encode: (text) => gptTokenizerEncode(text, { disallowedSpecial: new Set() }) },
];

const texts: { name: string; text: string }[] = [
  { name: DATA.split('/').pop()!, text: readFileSync(DATA, 'utf8') },
  { name: 'torture text', text: tortureText(4000).replace(/[\ud800-\udfff]/gu, '\ufffd') },
];

function sameIds(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Seconds for one encode. */
function time(contender: Contender, text: string): number {
  const start = now();
  contender.encode(text);
  return (now() - start) / 1000;
}

/** Three significant digits, so that js-tiktoken's 0.0031 MB/s on long pieces does not print as 0.0. */
const figure = (x: number) => (x >= 100 ? x.toFixed(0) : x.toPrecision(3));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const results: { text: string; bytes: number; contender: string; coldMBps: number; warmMBps: number; bestWarmMBps: number }[] = [];
for (const { name, text } of texts) {
  const bytes = new TextEncoder().encode(text).length;
  const reference = contenders[1]!.encode(text);
  for (const c of contenders) {
    if (!sameIds(c.encode(text), reference)) throw new Error(`${c.name} disagrees with js-tiktoken on ${name}`);
  }
  const cold = new Map<string, number[]>(contenders.map((c) => [c.name, []]));
  const warm = new Map<string, number[]>(contenders.map((c) => [c.name, []]));
  for (let round = 0; round < ROUNDS; round++) {
    // A different contender goes first each round.
    for (let k = 0; k < contenders.length; k++) {
      const c = contenders[(round + k) % contenders.length]!;
      c.reset();
      cold.get(c.name)!.push(time(c, text));
      warm.get(c.name)!.push(time(c, text));
    }
  }
  for (const c of contenders) {
    const mbps = (s: number) => bytes / 1e6 / s;
    results.push({
      text: name,
      bytes,
      contender: c.name,
      coldMBps: mbps(median(cold.get(c.name)!)),
      warmMBps: mbps(median(warm.get(c.name)!)),
      bestWarmMBps: mbps(Math.min(...warm.get(c.name)!)),
    });
  }
}

if (JSON_OUTPUT) {
  process.stdout.write(`${JSON.stringify({ rounds: ROUNDS, clock: CPU ? 'cpu' : 'wall', loadavg: loadavg(), results })}\n`);
} else {
  console.log(`GPT-2 encoding, MB/s (median of ${ROUNDS} rounds, ${CPU ? 'CPU' : 'wall'} time; load average ${loadavg()[0]!.toFixed(1)})`);
  for (const { name } of texts) {
    const rows = results.filter((r) => r.text === name);
    console.log(`\n${name} (${rows[0]!.bytes.toLocaleString('en-US')} bytes)`);
    for (const r of rows) {
      const vs = (r.warmMBps / rows[0]!.warmMBps).toFixed(2);
      console.log(
        `  ${r.contender.padEnd(14)} cold ${figure(r.coldMBps).padStart(6)}   warm ${figure(r.warmMBps).padStart(6)} (best ${figure(r.bestWarmMBps)})` +
          (r.contender === 'tsgpt' ? '' : `   ${vs}x tsgpt's warm speed`),
      );
    }
  }
}
