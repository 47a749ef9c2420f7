/**
 * The playground's throttle: however many redraws are requested, one runs per interval, the first without
 * waiting, and one requested now runs at once and cancels the pending one. Timers are node:test's mock timers,
 * and the clock is the test's own, so nothing here depends on how fast the machine is.
 */
import assert from 'node:assert/strict';
import { mock, test } from 'node:test';
import { Throttled } from '../../playground/throttled.js';

function setup(intervalMs: number) {
  mock.timers.enable({ apis: ['setTimeout'] });
  let clock = 1_000;
  const runs: number[] = [];
  const throttled = new Throttled(
    intervalMs,
    () => runs.push(clock),
    () => clock,
  );
  const advance = (ms: number) => {
    clock += ms;
    mock.timers.tick(ms);
  };
  return { throttled, runs, advance };
}

test('a burst of requests runs once at once, then once per interval however many arrive', (t) => {
  t.after(() => mock.timers.reset());
  const { throttled, runs, advance } = setup(500);
  for (let i = 0; i < 5; i++) throttled.request();
  assert.deepEqual(runs, []);
  advance(0);
  assert.deepEqual(runs, [1_000]);
  // A request every 100 ms for a second: a run at 1,500 and at 2,000, none in between.
  for (let i = 0; i < 10; i++) {
    advance(100);
    throttled.request();
  }
  assert.deepEqual(runs, [1_000, 1_500, 2_000]);
  advance(499);
  assert.deepEqual(runs, [1_000, 1_500, 2_000]);
  advance(1);
  assert.deepEqual(runs, [1_000, 1_500, 2_000, 2_500]);
  // Nothing requested since: nothing more runs.
  advance(5_000);
  assert.equal(runs.length, 4);
});

test('now() runs at once, cancels the pending run, and the interval counts from it', (t) => {
  t.after(() => mock.timers.reset());
  const { throttled, runs, advance } = setup(500);
  throttled.request();
  advance(0);
  advance(100);
  throttled.request();
  throttled.now();
  assert.deepEqual(runs, [1_000, 1_100]);
  advance(1_000);
  assert.deepEqual(runs, [1_000, 1_100], 'the request before now() is not run a second time');
  throttled.request();
  advance(0);
  assert.deepEqual(runs, [1_000, 1_100, 2_100]);
  throttled.request();
  advance(499);
  assert.equal(runs.length, 3);
  advance(1);
  assert.deepEqual(runs, [1_000, 1_100, 2_100, 2_600]);
});
