/**
 * The retrieval head (src/memory/retrieval_head.ts and its training): its scores and in-batch loss with real
 * values, the gradient reaching W_q, W_k and the log-temperature (central differences), the metrics on small
 * cases worked by hand, the starting temperature, training raising held-out recall on the synthetic set,
 * keeping the best weights, bit-for-bit repeatability, and the exported file.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { noGrad } from '../../src/engine/autograd.js';
import { Rng } from '../../src/engine/random.js';
import { tensor, tidy, type Tensor } from '../../src/engine/tensor.js';
import { TsgptError } from '../../src/errors.js';
import { encodeSafetensors } from '../../src/io/safetensors.js';
import { RetrievalHead } from '../../src/memory/retrieval_head.js';
import { decodeRetrievalHead, encodeRetrievalHead, HEAD_FORMAT } from '../../src/memory/retrieval_head_file.js';
import { answerRanks, evaluateRetrieval, metricsFromRanks } from '../../src/memory/retrieval_metrics.js';
import { calibratedTemperature, trainRetrievalHead, type HeadTrainingConfig } from '../../src/memory/retrieval_training.js';
import { divideByTemperature } from '../../src/memory/temperature.js';
import { splitPairs, syntheticPairs, type VectorPairs } from '../../src/memory/vector_pairs.js';
import { assertGradCheck, gradCheck, normals } from '../helpers/gradcheck.js';

const CONFIG: HeadTrainingConfig = { steps: 300, batchSize: 64, learningRate: 3e-3, weightDecay: 0.01, gradClip: 1, evalInterval: 50 };

/** Swaps a head's weights for the given tensors, so a gradient check perturbs what the head itself computes with. */
function withWeights(head: RetrievalHead, wq: Tensor, wk: Tensor, logT: Tensor): RetrievalHead {
  (head.query as unknown as { weight: Tensor }).weight = wq;
  (head.key as unknown as { weight: Tensor }).weight = wk;
  (head as unknown as { logTemperature: Tensor }).logTemperature = logT;
  return head;
}

function inBatchLoss(head: RetrievalHead, q: ArrayLike<number>, k: ArrayLike<number>, B: number): number {
  return noGrad(() => tidy(() => head.loss(tensor(q, [B, head.width]), tensor(k, [B, head.width])).item()));
}

test('the scores are (W_q q).(W_k k) / (sqrt(r) T), and the loss is the cross-entropy of each query over the batch', () => {
  const head = new RetrievalHead(2, new Rng(1), { rank: 2, temperature: 0.5 });
  head.query.weight.data.set([1, 2, 0, 1]); // W_q = [[1, 2], [0, 1]]
  head.key.weight.data.set([1, 0, 1, 1]); // W_k = [[1, 0], [1, 1]]
  const q = [1, 0, 0, 1],
    k = [2, 1, 0, 3];
  // W_q q: (1, 0), (2, 1); W_k k: (2, 3), (0, 3). Scores / (sqrt(2) 0.5):
  const raw = [2, 0, 7, 3];
  const scale = 1 / (Math.sqrt(2) * 0.5);
  const s = noGrad(() => tidy(() => head.scores(tensor(q, [2, 2]), tensor(k, [2, 2])).toArray()));
  raw.forEach((r, i) => assert.ok(Math.abs(s[i]! - r * scale) < 1e-5, `score ${i}: ${s[i]} vs ${r * scale}`));
  const expected = (Math.log(Math.exp(2 * scale) + 1) - 2 * scale + Math.log(Math.exp(7 * scale) + Math.exp(3 * scale)) - 3 * scale) / 2;
  assert.ok(Math.abs(inBatchLoss(head, q, k, 2) - expected) < 1e-5);
  head.dispose();
});

test('a head with r = d starts as the identity: its scores are the raw dot products, scaled', () => {
  const rng = new Rng(2);
  const head = new RetrievalHead(5, rng, { temperature: 2 });
  const q = normals(15, rng),
    k = normals(20, rng);
  const s = noGrad(() => tidy(() => head.scores(tensor(q, [3, 5]), tensor(k, [4, 5])).toArray()));
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 4; j++) {
      let dot = 0;
      for (let c = 0; c < 5; c++) dot += q[i * 5 + c]! * k[j * 5 + c]!;
      assert.ok(Math.abs(s[i * 4 + j]! - dot / (Math.sqrt(5) * 2)) < 1e-5);
    }
  }
  head.dispose();
});

test('a head with r < d starts from orthonormal rows, the same for W_q and W_k', () => {
  const head = new RetrievalHead(12, new Rng(3), { rank: 4 });
  const w = head.query.weight.data;
  for (let a = 0; a < 4; a++) {
    for (let b = 0; b < 4; b++) {
      let dot = 0;
      for (let c = 0; c < 12; c++) dot += w[a * 12 + c]! * w[b * 12 + c]!;
      assert.ok(Math.abs(dot - (a === b ? 1 : 0)) < 1e-5, `rows ${a}, ${b}: ${dot}`);
    }
  }
  assert.deepEqual([...head.key.weight.data], [...w]);
  head.dispose();
  assert.throws(() => new RetrievalHead(4, new Rng(0), { rank: 5 }), /rank must be an integer from 1 to the width 4/);
});

test('the gradient of the in-batch loss reaches W_q, W_k and the log-temperature (central differences)', () => {
  const rng = new Rng(4);
  const B = 5,
    d = 4,
    r = 3;
  const head = new RetrievalHead(d, rng, { rank: r });
  const q = normals(B * d, rng),
    k = normals(B * d, rng);
  const r0 = assertGradCheck(
    'retrieval head loss',
    [
      { name: 'W_q', values: normals(r * d, rng, 0.7), shape: [r, d] },
      { name: 'W_k', values: normals(r * d, rng, 0.7), shape: [r, d] },
      { name: 'logT', values: [0.3], shape: [1] },
    ],
    ([wq, wk, logT]) => withWeights(head, wq!, wk!, logT!).loss(tensor(q, [B, d]), tensor(k, [B, d])),
  );
  for (const [i, name] of ['W_q', 'W_k', 'logT'].entries()) {
    assert.ok(
      r0.analytic[i]!.some((g) => Math.abs(g) > 1e-3),
      `${name}'s gradient is zero`,
    );
  }
  // The check can fail: a gradient off by 10% in one element of W_k is caught.
  const bad = gradCheck(
    [
      { name: 'W_q', values: normals(r * d, rng, 0.7), shape: [r, d] },
      { name: 'W_k', values: normals(r * d, rng, 0.7), shape: [r, d] },
      { name: 'logT', values: [0.3], shape: [1] },
    ],
    ([wq, wk, logT]) => withWeights(head, wq!, wk!, logT!).loss(tensor(q, [B, d]), tensor(k, [B, d])),
    { corrupt: (g) => void (g[1]![2]! *= 1.1) },
  );
  assert.ok(bad.worst > 1, 'a corrupted gradient passed the check');
});

test('divideByTemperature: y = x scale / exp(logT), with both gradients (central differences)', () => {
  const rng = new Rng(5);
  assertGradCheck(
    'divideByTemperature',
    [
      { name: 'x', values: normals(12, rng), shape: [3, 4] },
      { name: 'logT', values: [-0.4], shape: [1] },
    ],
    ([x, logT]) => divideByTemperature(x!, logT!, 0.7),
  );
  const y = noGrad(() => tidy(() => divideByTemperature(tensor([1, -2], [2]), tensor([Math.log(4)], [1]), 2).toArray()));
  assert.deepEqual(y, [0.5, -1]);
});

test('a fixed temperature is no parameter and gets no gradient', () => {
  const head = new RetrievalHead(3, new Rng(6), { temperature: 0.2, learnTemperature: false });
  assert.deepEqual(
    head.namedParameters().map(([n]) => n),
    ['query.weight', 'key.weight'],
  );
  tidy(() => head.loss(tensor(normals(6, new Rng(1)), [2, 3]), tensor(normals(6, new Rng(2)), [2, 3])).backward());
  assert.equal(head.logTemperature.grad, null);
  assert.ok(head.query.weight.grad!.data.some((g) => g !== 0));
  assert.ok(Math.abs(head.temperature - 0.2) < 1e-7);
  const learned = new RetrievalHead(3, new Rng(6));
  assert.deepEqual(
    learned.namedParameters().map(([n]) => n),
    ['log_temperature', 'query.weight', 'key.weight'],
  );
  head.dispose();
  learned.dispose();
});

test('ranks, recall@1, recall@5 and MRR on a case worked by hand; a tie counts against the answer', () => {
  // Items e1, e2, e3 (width 3). Query 0 = e1 (its item first), query 1 = e1 + 0.5 e2 (item 0 scores 1, item 1
  // scores 0.5: rank 2), query 2 = e1 + e3 (items 0 and 2 tie at 1: rank 2).
  const items = tensor([1, 0, 0, 0, 1, 0, 0, 0, 1], [3, 3]);
  const queries = tensor([1, 0, 0, 1, 0.5, 0, 1, 0, 1], [3, 3]);
  const ranks = answerRanks(queries, items);
  assert.deepEqual([...ranks], [1, 2, 2]);
  const m = metricsFromRanks(ranks);
  assert.equal(m.pairs, 3);
  assert.ok(Math.abs(m.recallAt1 - 1 / 3) < 1e-12);
  assert.equal(m.recallAt5, 1);
  assert.ok(Math.abs(m.mrr - (1 + 0.5 + 0.5) / 3) < 1e-12);
  const seven = metricsFromRanks([1, 6, 5, 7]);
  assert.deepEqual([seven.recallAt1, seven.recallAt5], [0.25, 0.5]);
  queries.dispose();
  items.dispose();
});

test('the metrics of a pair set rank each query against every item, in blocks, as one matrix would', () => {
  const pairs = syntheticPairs(300, 8, 0.8, new Rng(7));
  const m = evaluateRetrieval(pairs, null);
  // By hand: dot products of every query with every item.
  let top1 = 0,
    reciprocal = 0;
  for (let i = 0; i < 300; i++) {
    const dot = (j: number) => {
      let s = 0;
      for (let c = 0; c < 8; c++) s += pairs.queries[i * 8 + c]! * pairs.items[j * 8 + c]!;
      return Math.fround(s);
    };
    const answer = dot(i);
    let above = 0;
    for (let j = 0; j < 300; j++) if (j !== i && dot(j) >= answer) above++;
    if (above === 0) top1++;
    reciprocal += 1 / (1 + above);
  }
  assert.ok(Math.abs(m.recallAt1 - top1 / 300) <= 2 / 300, `${m.recallAt1} vs ${top1 / 300}`);
  assert.ok(Math.abs(m.mrr - reciprocal / 300) < 0.01);
  // The identity head ranks exactly as plain dot products do.
  const head = new RetrievalHead(8, new Rng(8));
  assert.deepEqual(evaluateRetrieval(pairs, head), m);
  head.dispose();
});

test('the starting temperature minimises the in-batch loss of the head as it starts', () => {
  const pairs = syntheticPairs(256, 16, 1, new Rng(9));
  const head = new RetrievalHead(16, new Rng(10));
  const T = calibratedTemperature(head, pairs, 64);
  const lossAt = (t: number) => {
    head.logTemperature.data[0] = Math.log(t);
    let sum = 0;
    for (let b = 0; b < 4; b++) {
      sum += inBatchLoss(
        head,
        pairs.queries.subarray(b * 64 * 16, (b + 1) * 64 * 16),
        pairs.items.subarray(b * 64 * 16, (b + 1) * 64 * 16),
        64,
      );
    }
    return sum;
  };
  const best = lossAt(T);
  for (const f of [0.8, 0.95, 1.05, 1.25]) assert.ok(lossAt(T * f) >= best - 1e-4, `loss at ${f} T is lower`);
  // Scaling every vector by 10 scales the right temperature by 100 (scores are products of two vectors).
  const scaled: VectorPairs = { ...pairs, queries: pairs.queries.map((v) => v * 10), items: pairs.items.map((v) => v * 10) };
  const T100 = calibratedTemperature(head, scaled, 64);
  assert.ok(Math.abs(T100 / T / 100 - 1) < 0.01, `${T100} vs 100 x ${T}`);
  head.dispose();
});

async function trainSynthetic(seed: number, validation: number) {
  const pairs = syntheticPairs(800, 16, 0.5, new Rng(seed));
  const split = splitPairs(pairs, 0.25, validation, new Rng(seed + 1));
  const head = new RetrievalHead(16, new Rng(seed + 2));
  head.logTemperature.data[0] = Math.log(calibratedTemperature(head, split.train, CONFIG.batchSize));
  const evals: number[] = [];
  const result = await trainRetrievalHead(head, split.train, split.validation, CONFIG, new Rng(seed + 3), {
    onEval: (e) => evals.push(e.step),
  });
  return { head, split, result, evals };
}

test('training on the synthetic set raises held-out recall@1 far above plain dot products', async () => {
  const { head, split, result, evals } = await trainSynthetic(11, 0.1);
  const before = evaluateRetrieval(split.heldOut, null);
  const after = evaluateRetrieval(split.heldOut, head);
  assert.ok(before.recallAt1 < 0.6, `before: ${before.recallAt1}`);
  assert.ok(after.recallAt1 > before.recallAt1 + 0.3, `after ${after.recallAt1}, before ${before.recallAt1}`);
  assert.ok(after.mrr > before.mrr + 0.2);
  assert.deepEqual(evals, [0, 50, 100, 150, 200, 250, 300]);
  assert.ok(result.bestStep > 0 && result.best !== null);
  assert.ok(result.lastLoss !== null && result.lastLoss < 1, `last loss ${result.lastLoss}`);
  head.dispose();
});

test('the same seed trains the same head, bit for bit', async () => {
  const a = await trainSynthetic(12, 0.1),
    b = await trainSynthetic(12, 0.1);
  for (const [name, p] of a.head.namedParameters()) {
    const other = b.head.namedParameters().find(([n]) => n === name)![1];
    assert.deepEqual(new Uint32Array(p.data.slice().buffer), new Uint32Array(other.data.slice().buffer), name);
  }
  a.head.dispose();
  b.head.dispose();
});

test('training keeps the weights that rank the validation pairs best, the start included', async () => {
  // Validation pairs the identity ranks perfectly (query i = item i = the i-th unit vector), and training
  // pairs whose "answers" are random: nothing beats the start, so training ends with the weights it began with.
  const rng = new Rng(13);
  const d = 8;
  const unit = new Float32Array(d * d);
  for (let i = 0; i < d; i++) unit[i * d + i] = 1;
  const validation: VectorPairs = { count: d, width: d, queries: unit, items: unit.slice() };
  const train: VectorPairs = { count: 200, width: d, queries: normals(200 * d, rng), items: normals(200 * d, rng) };
  const head = new RetrievalHead(d, new Rng(14));
  const start = head.parameters().map((p) => p.data.slice());
  const result = await trainRetrievalHead(head, train, validation, { ...CONFIG, steps: 100, evalInterval: 20 }, new Rng(15));
  assert.equal(result.bestStep, 0);
  assert.equal(result.best!.mrr, 1);
  head.parameters().forEach((p, i) => assert.deepEqual(p.data, start[i]));
  // Without validation pairs it ends where training ended.
  const last = await trainRetrievalHead(head, train, null, { ...CONFIG, steps: 100 }, new Rng(15));
  assert.equal(last.best, null);
  assert.notDeepEqual(head.query.weight.data, start[0]);
  head.dispose();
});

test('the exported file holds W_q, W_k and the temperature, scores as the head does, and is checked when read', () => {
  const head = new RetrievalHead(6, new Rng(16), { rank: 3, temperature: 0.25 });
  head.query.weight.data.set(normals(18, new Rng(17)));
  const bytes = encodeRetrievalHead(head, { source: 'test', metrics: '{"x":1}' });
  const { head: back, metadata } = decodeRetrievalHead(bytes, 'head.safetensors');
  assert.equal(metadata.format, HEAD_FORMAT);
  assert.equal(metadata.source, 'test');
  assert.equal(metadata.width, '6');
  assert.equal(metadata.rank, '3');
  assert.deepEqual(back.query.weight.data, head.query.weight.data);
  assert.deepEqual(back.key.weight.data, head.key.weight.data);
  assert.ok(Math.abs(back.temperature / head.temperature - 1) < 1e-6);
  const q = normals(12, new Rng(18)),
    k = normals(18, new Rng(19));
  const scores = (h: RetrievalHead) => noGrad(() => tidy(() => h.scores(tensor(q, [2, 6]), tensor(k, [3, 6])).toArray()));
  const a = scores(head),
    b = scores(back);
  a.forEach((v, i) => assert.ok(Math.abs(v - b[i]!) < 1e-6));
  back.dispose();

  const f32 = (shape: number[], fill = 0.5) => ({
    dtype: 'F32' as const,
    shape,
    data: new Float32Array(shape.reduce((x, y) => x * y, 1)).fill(fill),
  });
  const meta = { format: HEAD_FORMAT, version: '1' };
  const bad: [string, Uint8Array, RegExp][] = [
    ['another format', encodeSafetensors([{ name: 'W_q', ...f32([2, 3]) }], { format: 'x', version: '1' }), /not a tsgpt retrieval head/],
    ['a later version', encodeSafetensors([{ name: 'W_q', ...f32([2, 3]) }], { ...meta, version: '2' }), /version "2" is not supported/],
    [
      'no W_k',
      encodeSafetensors(
        [
          { name: 'W_q', ...f32([2, 3]) },
          { name: 'temperature', ...f32([1]) },
        ],
        meta,
      ),
      /needs W_q, W_k and temperature/,
    ],
    [
      'r > d',
      encodeSafetensors(
        [
          { name: 'W_q', ...f32([4, 3]) },
          { name: 'W_k', ...f32([4, 3]) },
          { name: 'temperature', ...f32([1]) },
        ],
        meta,
      ),
      /W_q is F32 \[4, 3\], not F32 \[r, d\]/,
    ],
    [
      'W_k of another shape',
      encodeSafetensors(
        [
          { name: 'W_q', ...f32([2, 3]) },
          { name: 'W_k', ...f32([3, 3]) },
          { name: 'temperature', ...f32([1]) },
        ],
        meta,
      ),
      /W_k is F32 \[3, 3\], not F32 \[2, 3\]/,
    ],
    [
      'a negative temperature',
      encodeSafetensors(
        [
          { name: 'W_q', ...f32([2, 3]) },
          { name: 'W_k', ...f32([2, 3]) },
          { name: 'temperature', ...f32([1], -1) },
        ],
        meta,
      ),
      /temperature must be one positive F32 number/,
    ],
    [
      'NaN weights',
      encodeSafetensors(
        [
          { name: 'W_q', ...f32([2, 3], NaN) },
          { name: 'W_k', ...f32([2, 3]) },
          { name: 'temperature', ...f32([1]) },
        ],
        meta,
      ),
      /W_q holds values that are not finite/,
    ],
    ['a truncated file', bytes.subarray(0, bytes.length - 3), /^head\.safetensors: /],
  ];
  for (const [what, file, pattern] of bad) {
    assert.throws(
      () => decodeRetrievalHead(file, 'head.safetensors'),
      (e: unknown) => e instanceof TsgptError && pattern.test(e.message) && !e.message.includes('\n'),
      what,
    );
  }
  head.dispose();
});
