import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeSafetensors, encodeSafetensors, MAX_HEADER_BYTES } from '../../src/io/safetensors.js';
import type { NamedTensor } from '../../src/io/safetensors.js';
import { TsgptError } from '../../src/errors.js';

/** A file from raw header text, so tests can write headers the encoder would never produce. */
function rawFile(headerText: string, data: Uint8Array = new Uint8Array(0)): Uint8Array {
  const json = new TextEncoder().encode(headerText);
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

function headerFile(header: unknown, dataBytes = 0): Uint8Array {
  return rawFile(JSON.stringify(header), new Uint8Array(dataBytes));
}

function rejects(bytes: Uint8Array, message: string | RegExp, label?: string): void {
  assert.throws(
    () => decodeSafetensors(bytes, label),
    (err: unknown) => {
      assert.ok(err instanceof TsgptError, `expected TsgptError, got ${String(err)}`);
      if (typeof message === 'string') assert.equal(err.message, message);
      else assert.match(err.message, message);
      return true;
    },
  );
}

const entry = (dtype: unknown, shape: unknown, offsets: unknown) => ({ dtype, shape, data_offsets: offsets });

test('F32 and I32 round trip, including zero-size and scalar tensors', () => {
  const tensors: NamedTensor[] = [
    { name: 'wte', dtype: 'F32', shape: [3, 2], data: new Float32Array([0.5, -1.25, 3e38, -0, Infinity, NaN]) },
    { name: 'empty', dtype: 'F32', shape: [0, 4], data: new Float32Array(0) },
    { name: 'step', dtype: 'I32', shape: [], data: new Int32Array([123456]) },
    { name: 'ids', dtype: 'I32', shape: [4], data: new Int32Array([-2147483648, -1, 0, 2147483647]) },
    { name: 'empty_i', dtype: 'I32', shape: [0], data: new Int32Array(0) },
  ];
  const bytes = encodeSafetensors(tensors);
  const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert.equal((8 + headerLength) % 8, 0);
  assert.equal(bytes.length, 8 + headerLength + 6 * 4 + 4 + 4 * 4);

  const { metadata, tensors: back } = decodeSafetensors(bytes);
  assert.deepEqual(metadata, {});
  assert.deepEqual([...back.keys()].sort(), tensors.map((t) => t.name).sort());
  for (const t of tensors) {
    const got = back.get(t.name)!;
    assert.equal(got.dtype, t.dtype);
    assert.deepEqual(got.shape, t.shape);
    assert.equal(got.data.constructor, t.data.constructor);
    assert.deepEqual(new Uint8Array(got.data.buffer), new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  }
  assert.ok(Object.is(back.get('wte')!.data[3], -0));
  assert.ok(Number.isNaN(back.get('wte')!.data[5]));
});

test('encodes typed-array views at an offset and decodes from an unaligned buffer', () => {
  const backing = new Float32Array([9, 1, 2, 3, 9]);
  const bytes = encodeSafetensors([{ name: 'v', dtype: 'F32', shape: [3], data: backing.subarray(1, 4) }]);
  const shifted = new Uint8Array(bytes.length + 1);
  shifted.set(bytes, 1);
  const got = decodeSafetensors(shifted.subarray(1)).tensors.get('v')!;
  assert.deepEqual([...got.data], [1, 2, 3]);
});

test('metadata round trip', () => {
  const metadata = { format: 'pt', config: JSON.stringify({ nLayer: 2, note: 'é😀' }), __proto__x: '', '': 'empty key' };
  const bytes = encodeSafetensors([{ name: 'x', dtype: 'I32', shape: [1], data: new Int32Array([7]) }], metadata);
  assert.deepEqual(decodeSafetensors(bytes).metadata, metadata);
  assert.deepEqual(decodeSafetensors(encodeSafetensors([], {})).metadata, {});
});

test('a "__proto__" metadata key stays a plain entry', () => {
  const bytes = rawFile('{"__metadata__":{"__proto__":"x"}}');
  const { metadata } = decodeSafetensors(bytes);
  assert.equal(Object.getPrototypeOf(metadata), Object.prototype);
  assert.deepEqual(Object.entries(metadata), [['__proto__', 'x']]);
});

test('exact bytes of a small file, built by hand', () => {
  const header = '{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}';
  assert.equal(header.length, 54); // padded with two spaces to 56, so the data starts at byte 64
  const expected = new Uint8Array([
    56,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    ...[...header].map((c) => c.charCodeAt(0)),
    0x20,
    0x20,
    0x00,
    0x00,
    0x80,
    0x3f, // 1.0f = 0x3f800000, little-endian
    0x00,
    0x00,
    0x00,
    0xc0, // -2.0f = 0xc0000000
  ]);
  assert.equal(expected.length, 72);
  const encoded = encodeSafetensors([{ name: 'w', dtype: 'F32', shape: [2], data: new Float32Array([1, -2]) }]);
  assert.deepEqual(encoded, expected);
  const got = decodeSafetensors(expected).tensors.get('w')!;
  assert.deepEqual(got, { dtype: 'F32', shape: [2], data: new Float32Array([1, -2]) });
});

test('a hand-built file with metadata and unpadded header decodes', () => {
  // Other writers need not pad; the decoder must not assume 8-byte alignment.
  const header = '{"__metadata__":{"format":"pt"},"n":{"dtype":"I32","shape":[],"data_offsets":[0,4]}}';
  const bytes = rawFile(header, new Uint8Array([0x01, 0x02, 0x00, 0x80]));
  const { metadata, tensors } = decodeSafetensors(bytes);
  assert.deepEqual(metadata, { format: 'pt' });
  assert.deepEqual(tensors.get('n'), { dtype: 'I32', shape: [], data: new Int32Array([0x80000201 | 0]) });
});

test('encoder rejects inconsistent input', () => {
  assert.throws(() => encodeSafetensors([{ name: 'a', dtype: 'F32', shape: [3], data: new Float32Array(2) }]), /holds 3 values/);
  assert.throws(() => encodeSafetensors([{ name: 'a', dtype: 'I32', shape: [2], data: new Float32Array(2) }]), /does not match/);
  const t: NamedTensor = { name: 'a', dtype: 'F32', shape: [1], data: new Float32Array(1) };
  assert.throws(() => encodeSafetensors([t, t]), /duplicate tensor name "a"/);
  assert.throws(() => encodeSafetensors([{ ...t, name: '__metadata__' }]), /reserved/);
});

test('file size and header length problems', () => {
  rejects(new Uint8Array(0), 'safetensors file: file is 0 bytes, too short to hold the 8-byte header length');
  rejects(new Uint8Array(7), /file is 7 bytes/, undefined);
  rejects(new Uint8Array(5), /^run\/ckpt\.safetensors: file is 5 bytes/, 'run/ckpt.safetensors');
  const beyond = rawFile('{}');
  new DataView(beyond.buffer).setBigUint64(0, 3n, true);
  rejects(beyond, 'safetensors file: header length 3 runs past the end of the file (10 bytes)');
  const huge = new Uint8Array(16);
  new DataView(huge.buffer).setBigUint64(0, 0xffffffffffffffffn, true);
  rejects(huge, /header length 18446744073709551615 is over the 100000000-byte limit/);
  new DataView(huge.buffer).setBigUint64(0, BigInt(MAX_HEADER_BYTES + 1), true);
  rejects(huge, /is over the 100000000-byte limit/);
});

test('header text problems', () => {
  const bad = new Uint8Array([2, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xfe]);
  rejects(bad, 'safetensors file: header is not valid UTF-8');
  rejects(rawFile('{"a":'), /header is not valid JSON/);
  rejects(rawFile(''), /header is not valid JSON/);
  rejects(rawFile('[]'), 'safetensors file: header is an array, not a JSON object');
  rejects(rawFile('null'), /header is null, not a JSON object/);
  rejects(rawFile('42'), /header is number 42, not a JSON object/);
  rejects(rawFile('"x"'), /header is "x", not a JSON object/);
  rejects(rawFile('{\n\u2028"a"\n:\n\n'), /^safetensors file: header is not valid JSON \([^\n\u2028]*\)$/);
  const longName = 'n'.repeat(100_000);
  assert.throws(
    () => decodeSafetensors(headerFile({ [longName]: 1 })),
    (err: Error) => err.message.length < 200,
  );
});

test('tensor entry problems', () => {
  rejects(headerFile({ w: 5 }), 'safetensors file: tensor "w" is number 5, not an object');
  rejects(headerFile({ w: [] }), /tensor "w" is an array, not an object/);
  rejects(headerFile({ w: { dtype: 'F32', shape: [] } }, 4), 'safetensors file: tensor "w" is missing "data_offsets"');
  rejects(headerFile({ w: { ...entry('F32', [1], [0, 4]), extra: 1 } }, 4), 'safetensors file: tensor "w" has unknown field "extra"');
  rejects(headerFile({ w: entry(32, [1], [0, 4]) }, 4), /tensor "w" has dtype number 32, not a string/);
  for (const dtype of ['BF16', 'F64', 'I64', 'U8', 'BOOL', 'f32', 'f16', 'WHAT']) {
    rejects(
      headerFile({ w: entry(dtype, [1], [0, 4]) }, 4),
      `safetensors file: tensor "w" has unsupported dtype "${dtype}" (tsgpt reads F32, F16 and I32)`,
    );
  }
  // F16 is two bytes a value: one value in four bytes is a size mismatch, not an unknown type.
  rejects(headerFile({ w: entry('F16', [1], [0, 4]) }, 4), /tensor "w" has shape \[1\] of F16, which needs 2 bytes/);
});

test('shape problems', () => {
  rejects(headerFile({ w: entry('F32', 4, [0, 16]) }, 16), /tensor "w" has shape number 4, not an array/);
  rejects(
    headerFile({ w: entry('F32', [2, -2], [0, 16]) }, 16),
    'safetensors file: tensor "w" has shape[1] = number -2, not a non-negative integer',
  );
  rejects(headerFile({ w: entry('F32', [1.5], [0, 16]) }, 16), /shape\[0\] = number 1.5/);
  rejects(headerFile({ w: entry('F32', ['4'], [0, 16]) }, 16), /shape\[0\] = "4"/);
  rejects(headerFile({ w: entry('F32', [2 ** 53], [0, 16]) }, 16), /shape\[0\] = number 9007199254740992/);
  rejects(rawFile('{"w":{"dtype":"F32","shape":[1e999],"data_offsets":[0,16]}}', new Uint8Array(16)), /shape\[0\] = number Infinity/);
});

test('data_offsets problems', () => {
  rejects(headerFile({ w: entry('F32', [1], 'x') }, 4), /tensor "w" has data_offsets "x", not \[begin, end\]/);
  rejects(headerFile({ w: entry('F32', [1], [0]) }, 4), /not \[begin, end\]/);
  rejects(headerFile({ w: entry('F32', [1], [0, 4, 8]) }, 4), /not \[begin, end\]/);
  rejects(headerFile({ w: entry('F32', [1], [0, '4']) }, 4), /data_offsets that are not integers/);
  rejects(headerFile({ w: entry('F32', [1], [0.5, 4]) }, 4), /data_offsets that are not integers/);
  rejects(headerFile({ w: entry('F32', [1], [8, 4]) }, 8), /data_offsets \[8, 4\] with begin after end/);
  rejects(headerFile({ w: entry('F32', [1], [-4, 0]) }, 8), /data_offsets \[-4, 0\]/);
  rejects(
    headerFile({ w: entry('F32', [2], [0, 8]) }, 4),
    'safetensors file: tensor "w" ends at byte 8 of the data but the data is only 4 bytes',
  );
});

test('byte length must match the shape, without overflowing', () => {
  rejects(
    headerFile({ w: entry('F32', [2, 3], [0, 20]) }, 20),
    'safetensors file: tensor "w" has shape [2, 3] of F32, which needs 24 bytes, but data_offsets [0, 20] span 20',
  );
  rejects(headerFile({ w: entry('I32', [], [0, 8]) }, 8), /shape \[\] of I32, which needs 4 bytes/);
  // 2^26 cubed is 2^78, far beyond exact doubles: must be refused, not wrapped into something that fits.
  rejects(headerFile({ w: entry('F32', [2 ** 26, 2 ** 26, 2 ** 26], [0, 16]) }, 16), /needs more than 2\^53 bytes/);
  rejects(headerFile({ w: entry('F32', [2 ** 52, 2 ** 52, 1], [0, 16]) }, 16), /needs more than 2\^53 bytes/);
  rejects(headerFile({ w: entry('F32', [2 ** 20, 2 ** 20], [0, 16]) }, 16), /needs 4398046511104 bytes/);
  rejects(
    headerFile({ w: entry('F32', new Array(1000).fill(1), [0, 16]) }, 16),
    /shape \[1, 1, 1, 1, 1, 1, 1, 1, … \(1000 dimensions\)\] of F32, which needs 4 bytes/,
  );
  // A zero anywhere makes an empty tensor, however large the other dimensions.
  const z = decodeSafetensors(headerFile({ w: entry('F32', [2 ** 52, 0], [0, 0]) }));
  assert.equal(z.tensors.get('w')!.data.length, 0);
});

test('tensors may not overlap or leave bytes unclaimed', () => {
  rejects(
    headerFile({ a: entry('F32', [2], [0, 8]), b: entry('F32', [2], [4, 12]) }, 12),
    'safetensors file: tensor "b" (bytes 4 to 12) overlaps tensor "a"',
  );
  rejects(headerFile({ a: entry('F32', [2], [0, 8]), b: entry('F32', [2], [0, 8]) }, 8), /overlaps/);
  rejects(headerFile({ a: entry('F32', [2], [0, 8]), z: entry('F32', [0], [4, 4]) }, 8), /tensor "z" \(bytes 4 to 4\) overlaps tensor "a"/);
  rejects(
    headerFile({ a: entry('F32', [1], [0, 4]), b: entry('F32', [1], [8, 12]) }, 12),
    'safetensors file: data bytes 4 to 8 belong to no tensor',
  );
  rejects(headerFile({ a: entry('F32', [1], [0, 4]) }, 12), 'safetensors file: data bytes 4 to 12 belong to no tensor');
  rejects(headerFile({}, 1), /data bytes 0 to 1 belong to no tensor/);
  // Listed out of order in the header is fine as long as the bytes tile.
  const ok = decodeSafetensors(headerFile({ b: entry('F32', [1], [4, 8]), e: entry('I32', [0], [4, 4]), a: entry('F32', [1], [0, 4]) }, 8));
  assert.equal(ok.tensors.size, 3);
});

test('metadata problems', () => {
  rejects(headerFile({ __metadata__: [] }), 'safetensors file: __metadata__ is an array, not an object of strings');
  rejects(headerFile({ __metadata__: 'x' }), /__metadata__ is "x"/);
  rejects(headerFile({ __metadata__: { a: 'ok', b: 3 } }), 'safetensors file: __metadata__ entry "b" is number 3, not a string');
  rejects(headerFile({ __metadata__: { n: null } }), /entry "n" is null/);
});

test('fuzz: random mutations either decode or throw TsgptError', () => {
  // mulberry32: a tiny seeded generator, so a failure is reproducible from the iteration number.
  let seed = 0x5eed1234;
  const rand = (): number => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number): number => Math.floor(rand() * n);

  const valid = encodeSafetensors(
    [
      { name: 'a', dtype: 'F32', shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6]) },
      { name: 'b', dtype: 'I32', shape: [], data: new Int32Array([9]) },
      { name: 'c', dtype: 'F32', shape: [0], data: new Float32Array(0) },
      { name: 'd', dtype: 'I32', shape: [3], data: new Int32Array([1, 20, 300]) },
    ],
    { note: 'fuzz', n: '12' },
  );
  const headerEnd = 8 + Number(new DataView(valid.buffer).getBigUint64(0, true));
  const digits = '0123456789';
  let decoded = 0;
  let rejected = 0;
  for (let iter = 0; iter < 4000; iter++) {
    let bytes = valid.slice();
    const rounds = 1 + int(3);
    for (let r = 0; r < rounds; r++) {
      const kind = int(6);
      if (kind === 0) {
        bytes = bytes.slice(0, int(bytes.length + 1));
      } else if (kind === 1 && bytes.length > 0) {
        const at = int(bytes.length);
        bytes[at] = bytes[at]! ^ (1 << int(8));
      } else if (kind === 2 && bytes.length >= 8) {
        const choice = int(3);
        const value =
          choice === 0 ? BigInt(int(bytes.length + 16)) : choice === 1 ? BigInt(int(2 ** 31)) * BigInt(int(2 ** 31)) : BigInt(int(256));
        new DataView(bytes.buffer, bytes.byteOffset).setBigUint64(0, value, true);
      } else if (kind === 3 && headerEnd <= bytes.length) {
        // Swap a digit inside the header: keeps the JSON valid but breaks shapes and offsets.
        const positions: number[] = [];
        for (let i = 8; i < headerEnd; i++) if (bytes[i]! >= 0x30 && bytes[i]! <= 0x39) positions.push(i);
        if (positions.length > 0) bytes[positions[int(positions.length)]!] = digits.charCodeAt(int(10));
      } else if (kind === 4) {
        const extra = new Uint8Array(int(9));
        for (let i = 0; i < extra.length; i++) extra[i] = int(256);
        const grown = new Uint8Array(bytes.length + extra.length);
        grown.set(bytes);
        grown.set(extra, bytes.length);
        bytes = grown;
      } else if (bytes.length > 8) {
        // Random byte anywhere after the length prefix, often landing in tensor data, which must still decode.
        bytes[8 + int(bytes.length - 8)] = int(256);
      }
    }
    try {
      decodeSafetensors(bytes);
      decoded++;
    } catch (err) {
      if (!(err instanceof TsgptError)) assert.fail(`iteration ${iter}: ${String(err)}`);
      rejected++;
    }
  }
  assert.ok(decoded > 0 && rejected > 0, `decoded ${decoded}, rejected ${rejected}`);
});
