/** Half precision: every half value round-trips, and float32 values round to the nearest half, ties to even. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fromHalfBits, toHalfBits } from '../../src/io/float16.js';
import { decodeSafetensors, encodeSafetensors } from '../../src/io/safetensors.js';

test('every one of the 65,536 half values round-trips through its float value', () => {
  for (let h = 0; h < 0x10000; h++) {
    const x = fromHalfBits(h);
    if (Number.isNaN(x)) {
      assert.ok((h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0, `bits ${h.toString(16)}`);
      assert.ok(Number.isNaN(fromHalfBits(toHalfBits(x))));
      continue;
    }
    assert.equal(toHalfBits(x), h, `bits ${h.toString(16)} (${x})`);
  }
  assert.equal(fromHalfBits(0x3c00), 1);
  assert.equal(fromHalfBits(0x7bff), 65504);
  assert.equal(fromHalfBits(0x0001), 2 ** -24);
});

test('values between two halves go to the nearer, and a tie to the one with an even last bit', () => {
  // Consecutive positive finite halves h and h + 1: a point a quarter of the way goes to h, three quarters to
  // h + 1, the midpoint to whichever is even.
  for (let h = 0; h < 0x7bff; h++) {
    const lo = fromHalfBits(h),
      hi = fromHalfBits(h + 1);
    const at = (f: number) => toHalfBits(Math.fround(lo + (hi - lo) * f));
    assert.equal(at(0.25), h, `quarter above ${lo}`);
    assert.equal(at(0.75), h + 1, `three quarters above ${lo}`);
    assert.equal(at(0.5), h % 2 === 0 ? h : h + 1, `midpoint above ${lo}`);
    assert.equal(toHalfBits(-Math.fround(lo + (hi - lo) * 0.25)), h | 0x8000);
  }
  assert.equal(toHalfBits(65520), 0x7c00, 'halfway past the largest half rounds to infinity');
  assert.equal(toHalfBits(65519), 0x7bff);
  assert.equal(toHalfBits(1e10), 0x7c00);
  assert.equal(toHalfBits(-Infinity), 0xfc00);
  assert.equal(toHalfBits(2 ** -26), 0, 'below half the smallest subnormal: zero');
  assert.equal(toHalfBits(-0), 0x8000);
});

test('safetensors stores F16 tensors at two bytes a value and reads them back as float32', () => {
  const data = Float32Array.from([0, 1, -2.5, 0.1, 65504, 1e-7]);
  const bytes = encodeSafetensors([{ name: 'x', dtype: 'F16', shape: [2, 3], data }]);
  const { tensors } = decodeSafetensors(bytes, 'f16.safetensors');
  const x = tensors.get('x')!;
  assert.equal(x.dtype, 'F16');
  assert.deepEqual(x.shape, [2, 3]);
  assert.deepEqual(
    Array.from(x.data),
    Array.from(data, (v) => fromHalfBits(toHalfBits(v))),
  );
  const f32 = encodeSafetensors([{ name: 'x', dtype: 'F32', shape: [2, 3], data }]);
  assert.equal(f32.length - bytes.length, 12, 'six values, two bytes each saved');
});
