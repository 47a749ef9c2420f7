/**
 * GPT.forwardHidden: a memory's keys. Its logits are forward()'s, and its hidden state at every position is,
 * bit for bit, what the decoder hands out for a window ending there: keys built from a text and the queries
 * sampling makes are the same function of the context.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { noGrad } from '../../src/engine/autograd.js';
import { Rng } from '../../src/engine/random.js';
import { intTensor, tidy } from '../../src/engine/tensor.js';
import type { HiddenPoint } from '../../src/models/decoder.js';
import { GPT, type GPTConfig } from '../../src/models/gpt.js';
import { LADDER } from '../../src/train/ladder.js';
import { exactnessKernelSets, withKernels } from '../helpers/kernel_sets.js';

const V = 11,
  T = 7;
const small = { kind: 'gpt', vocabSize: V, blockSize: T, nLayer: 2, nHead: 2, nEmbd: 12, dropout: 0.1, bias: true } as const;
const configs: [string, GPTConfig][] = [
  ['nanogpt', { ...small, style: 'nanogpt' }],
  ['lecture', { ...small, style: 'lecture' }],
  ['ladder feed_forward', LADDER.find((s) => s.name === 'feed_forward')!.model(V) as GPTConfig],
];
const points: HiddenPoint[] = ['ffn_input', 'block_output', 'head_input'];

for (const [name, kernels] of exactnessKernelSets()) {
  test(`forwardHidden on ${name}: forward()'s logits, and the decoder's hidden state at every position`, () => {
    withKernels(kernels, () => {
      for (const [form, config] of configs) {
        const blockSize = config.blockSize;
        const model = new GPT(config, new Rng(3));
        for (const p of model.parameters()) for (let i = 0; i < p.size; i++) p.data[i] = p.data[i]! * 10;
        model.eval();
        const rng = new Rng(5);
        const windows = [0, 1].map(() => Array.from({ length: blockSize }, () => rng.int(V)));
        const C = config.nEmbd;
        for (const point of points) {
          const { hidden, logits, expected } = tidy(() =>
            noGrad(() => {
              const idx = intTensor(windows.flat(), [2, blockSize]);
              const out = model.forwardHidden(idx, point);
              return { hidden: out.hidden.data.slice(), logits: out.logits.data.slice(), expected: model.forward(idx).logits.data.slice() };
            }),
          );
          assert.deepEqual(logits, expected, `${form} ${point}: logits`);
          const decoder = model.decoder(2, { hidden: point, cache: false });
          try {
            for (let t = 0; t < blockSize; t++) {
              decoder.step(windows.map((w) => w.slice(0, t + 1)));
              const got = decoder.hidden();
              for (let b = 0; b < 2; b++) {
                const row = hidden.subarray((b * blockSize + t) * C, (b * blockSize + t + 1) * C);
                assert.deepEqual(got.subarray(b * C, (b + 1) * C), row, `${form} ${point}: sequence ${b}, position ${t}`);
              }
            }
          } finally {
            decoder.dispose();
          }
        }
        assert.throws(() => {
          model.train();
          model.forwardHidden(intTensor(windows[0]!, [1, blockSize]), 'ffn_input');
        }, /eval mode/);
        model.dispose();
      }
    });
  });
}
