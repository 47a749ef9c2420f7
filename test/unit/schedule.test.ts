import assert from 'node:assert/strict';
import { test } from 'node:test';
import { learningRateAt, type ScheduleConfig } from '../../src/train/schedule.js';

const c: ScheduleConfig = { learningRate: 1e-3, minLr: 1e-4, warmupIters: 100, lrDecayIters: 2000, decayLr: true };
const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-12, `${a} != ${b}`);

test('linear warm-up reaches the peak rate at the end of warm-up', () => {
  close(learningRateAt(0, c), 1e-3 / 101);
  close(learningRateAt(49, c), (1e-3 * 50) / 101);
  close(learningRateAt(100, c), 1e-3);
});

test('cosine decay: half-way is the mean of peak and minimum; the end and beyond are the minimum', () => {
  close(learningRateAt(1050, c), (1e-3 + 1e-4) / 2);
  close(learningRateAt(2000, c), 1e-4);
  close(learningRateAt(5000, c), 1e-4);
  // A quarter of the way: min + (1 + cos(pi/4))/2 (max - min)
  close(learningRateAt(575, c), 1e-4 + ((1 + Math.SQRT1_2) / 2) * 9e-4);
});

test('with decay off the rate is constant', () => {
  for (const step of [0, 10, 100, 5000]) close(learningRateAt(step, { ...c, decayLr: false }), 1e-3);
});
