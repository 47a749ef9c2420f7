/**
 * Where a retrieval head's pairs come from: the pair sets of a text (damaged lines, replies), a passage's state
 * read by a model (the decoder's state at its last position, batched or not, the same bits), pairs from two
 * tables of vectors, the three-way split, unit length, and the synthetic set.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Rng } from '../../src/engine/random.js';
import { TsgptError } from '../../src/errors.js';
import { passageStates } from '../../src/memory/passage_states.js';
import { damage, textPairs } from '../../src/memory/text_pairs.js';
import { makePairs, normalizePairs, splitPairs, syntheticPairs } from '../../src/memory/vector_pairs.js';
import { createModel } from '../../src/models/index.js';
import { CharTokenizer } from '../../src/tokenizers/char.js';

const PLAY = `ROMEO:
But soft, what light through yonder window breaks?
It is the east, and Juliet is the sun.

JULIET:
O Romeo, Romeo, wherefore art thou Romeo?

ROMEO:
Shall I hear more, or shall I speak at this?

JULIET:
O Romeo, Romeo, wherefore art thou Romeo?

NURSE:
Madam!
`;

test('damage drops and swaps characters, never returns the line unchanged, and repeats with the seed', () => {
  const line = 'But soft, what light through yonder window breaks?';
  const a = damage(line, 0.1, new Rng(1)),
    b = damage(line, 0.1, new Rng(1));
  assert.equal(a, b);
  assert.notEqual(a, line);
  assert.ok(a.length <= line.length);
  for (const ch of a) assert.ok(line.includes(ch));
  // At rate 0 nothing is dropped or swapped by chance, so one character goes.
  const once = damage('abcdef', 0, new Rng(2));
  assert.equal(once.length, 5);
  // At rate 0.2 about a fifth of the characters go (a little less: the second of a swapped pair is never dropped).
  const rng = new Rng(3);
  let kept = 0;
  for (let i = 0; i < 300; i++) kept += damage('abcdefghijklmnopqrstuvwxyz', 0.2, rng).length;
  const share = kept / (300 * 26);
  assert.ok(share > 0.78 && share < 0.86, `kept ${share}`);
});

test('damaged-lines: distinct lines long enough, speaker lines left out, each with a damaged copy', () => {
  const pairs = textPairs('damaged-lines', PLAY, new Rng(4), { count: 100, minLineLength: 20 });
  assert.deepEqual([...pairs.items].sort(), [
    'But soft, what light through yonder window breaks?',
    'It is the east, and Juliet is the sun.',
    'O Romeo, Romeo, wherefore art thou Romeo?',
    'Shall I hear more, or shall I speak at this?',
  ]);
  pairs.queries.forEach((q, i) => assert.notEqual(q, pairs.items[i]));
  const two = textPairs('damaged-lines', PLAY, new Rng(4), { count: 2, minLineLength: 20 });
  assert.equal(two.items.length, 2);
  assert.deepEqual(textPairs('damaged-lines', PLAY, new Rng(4), { count: 2, minLineLength: 20 }), two);
  assert.throws(
    () => textPairs('damaged-lines', 'short\nlines\n', new Rng(5), { count: 10 }),
    (e: unknown) => e instanceof TsgptError && /no line of 24 characters or more to damage: no pairs/.test(e.message),
  );
});

test('replies: each paragraph and the one after it, a repeated reply kept where it first appears', () => {
  const pairs = textPairs('replies', PLAY, new Rng(6), { count: 100 });
  const seen = pairs.queries.map((q, i) => [q.split('\n')[1], pairs.items[i]!.split('\n')[0]]);
  // ROMEO's second speech is answered by JULIET's first again: a reply seen before, so not a pair.
  assert.deepEqual(
    seen.sort(),
    [
      ['But soft, what light through yonder window breaks?', 'JULIET:'],
      ['O Romeo, Romeo, wherefore art thou Romeo?', 'ROMEO:'],
      ['O Romeo, Romeo, wherefore art thou Romeo?', 'NURSE:'],
    ].sort(),
  );
  assert.equal(new Set(pairs.items).size, 3);
  assert.throws(
    () => textPairs('replies', 'one paragraph only\n', new Rng(7), { count: 10 }),
    (e: unknown) => e instanceof TsgptError && /no speech followed by a reply/.test(e.message),
  );
});

test("a passage's state is the decoder's hidden state at its last position, the same bits batched or alone", () => {
  const tokenizer = CharTokenizer.fromText(PLAY);
  const model = createModel(
    {
      kind: 'gpt',
      style: 'nanogpt',
      vocabSize: tokenizer.vocabSize,
      blockSize: 16,
      nLayer: 2,
      nHead: 2,
      nEmbd: 16,
      dropout: 0,
      bias: false,
    },
    new Rng(8),
  );
  model.eval();
  // Passages of mixed lengths (some longer than the block size, so cropped to their last 16 characters).
  const passages = PLAY.split('\n').filter((l) => l !== '');
  const table = passageStates(model, tokenizer, passages, 'ffn_input');
  assert.deepEqual([table.rows, table.width], [passages.length, 16]);
  const alone = model.decoder(1, { hidden: 'ffn_input' });
  passages.forEach((p, i) => {
    const ids = tokenizer.encode(p);
    alone.step([ids.subarray(Math.max(0, ids.length - 16))]);
    assert.deepEqual(table.data.subarray(i * 16, (i + 1) * 16), alone.hidden(), `passage ${i}`);
  });
  alone.dispose();
  // Another point gives other states; a passage that ends the same way as a longer one (past the block size) reads the same.
  const other = passageStates(model, tokenizer, passages, 'block_output');
  assert.notDeepEqual(other.data, table.data);
  const long = passages[1]!;
  assert.ok(long.length > 16);
  const cropped = passageStates(model, tokenizer, [long, long.slice(-16)], 'ffn_input');
  assert.deepEqual(cropped.data.subarray(0, 16), cropped.data.subarray(16));
  model.dispose();
});

test('pairs from two tables: one width, one row count, at least one pair, each refused with one line', () => {
  const t = (rows: number, width: number) => ({ rows, width, data: new Float32Array(rows * width) });
  const p = makePairs(t(3, 2), t(3, 2), 'q', 'k');
  assert.deepEqual([p.count, p.width], [3, 2]);
  const cases: [() => unknown, RegExp][] = [
    [
      () => makePairs(t(3, 2), t(3, 4), 'queries file a.npy', 'items file b.npy'),
      /^queries file a\.npy holds vectors of width 2 but items file b\.npy of width 4/,
    ],
    [
      () => makePairs(t(3, 2), t(4, 2), 'queries file a.npy', 'items file b.npy'),
      /^queries file a\.npy holds 3 vectors but items file b\.npy 4; row i/,
    ],
    [() => makePairs(t(0, 2), t(0, 2), 'queries file a.npy', 'items file b.npy'), /hold no vectors: there are no pairs/],
  ];
  for (const [fn, pattern] of cases) assert.throws(fn, (e: unknown) => e instanceof TsgptError && pattern.test(e.message));
});

test('the split: held out first, validation from the rest, disjoint, every pair once; too few refused', () => {
  const pairs = syntheticPairs(100, 3, 0.5, new Rng(9));
  const { train, validation, heldOut } = splitPairs(pairs, 0.2, 0.1, new Rng(10));
  assert.deepEqual([train.count, validation!.count, heldOut.count], [72, 8, 20]);
  const rows = (s: { count: number; queries: Float32Array }) =>
    Array.from({ length: s.count }, (_, i) => s.queries.subarray(i * 3, i * 3 + 3).join());
  const all = [...rows(train), ...rows(validation!), ...rows(heldOut)].sort();
  assert.deepEqual(all, rows(pairs).sort());
  // Each item stays with its query.
  for (const part of [train, validation!, heldOut]) {
    for (let i = 0; i < part.count; i++) {
      const j = rows(pairs).indexOf(rows(part)[i]!);
      assert.deepEqual(part.items.subarray(i * 3, i * 3 + 3), pairs.items.subarray(j * 3, j * 3 + 3));
    }
  }
  assert.equal(splitPairs(pairs, 0.2, 0, new Rng(10)).validation, null);
  assert.throws(
    () => splitPairs(syntheticPairs(5, 3, 0.5, new Rng(11)), 0.2, 0.1, new Rng(12)),
    (e: unknown) =>
      e instanceof TsgptError &&
      /^5 pairs split into 4 to train on, 0 to validate on, 1 held out; each part needs at least 2$/.test(e.message),
  );
});

test('unit length: every row scaled to norm 1; a zero row refused', () => {
  const pairs = makePairs(
    { rows: 2, width: 2, data: Float32Array.of(3, 4, 0, 2) },
    { rows: 2, width: 2, data: Float32Array.of(1, 0, 5, 12) },
    'q',
    'k',
  );
  normalizePairs(pairs);
  assert.deepEqual([...pairs.queries], [0.6, 0.8, 0, 1].map(Math.fround));
  assert.deepEqual([...pairs.items], [1, 0, 5 / 13, 12 / 13].map(Math.fround));
  const zero = makePairs({ rows: 1, width: 2, data: Float32Array.of(1, 1) }, { rows: 1, width: 2, data: Float32Array.of(0, 0) }, 'q', 'k');
  assert.throws(
    () => normalizePairs(zero),
    (e: unknown) => e instanceof TsgptError && /^item 0 is all zeros/.test(e.message),
  );
});

test('the synthetic set: queries are a hidden linear map of their items plus noise, the same for a seed', () => {
  const a = syntheticPairs(50, 4, 0, new Rng(13));
  assert.deepEqual(syntheticPairs(50, 4, 0, new Rng(13)), a);
  // Without noise the map is exactly linear, q = A x for one A: rows [x | q] then span at most 4 dimensions.
  const rows = Array.from({ length: 5 }, (_, i) => [...a.items.subarray(i * 4, i * 4 + 4), ...a.queries.subarray(i * 4, i * 4 + 4)]);
  assert.equal(rank(rows), 4);
  const noisy = syntheticPairs(50, 4, 0.5, new Rng(13));
  const noisyRows = Array.from({ length: 8 }, (_, i) => [
    ...noisy.items.subarray(i * 4, i * 4 + 4),
    ...noisy.queries.subarray(i * 4, i * 4 + 4),
  ]);
  assert.equal(rank(noisyRows), 8);
});

/** Rank of a small matrix by Gaussian elimination with partial pivoting. */
function rank(m: number[][]): number {
  const a = m.map((r) => r.slice());
  let r = 0;
  for (let c = 0; c < a[0]!.length && r < a.length; c++) {
    let p = r;
    for (let i = r + 1; i < a.length; i++) if (Math.abs(a[i]![c]!) > Math.abs(a[p]![c]!)) p = i;
    if (Math.abs(a[p]![c]!) < 1e-4) continue;
    [a[r], a[p]] = [a[p]!, a[r]!];
    for (let i = r + 1; i < a.length; i++) {
      const f = a[i]![c]! / a[r]![c]!;
      for (let j = c; j < a[0]!.length; j++) a[i]![j]! -= f * a[r]![j]!;
    }
    r++;
  }
  return r;
}
