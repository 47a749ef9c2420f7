/**
 * The vector file readers (src/io/npy.ts, vector_jsonl.ts, vector_file.ts and the Node edge that reads them):
 * files NumPy itself wrote (test/fixtures/npy, made by scripts/npy_fixtures.py), JSONL in both forms,
 * safetensors, then every kind of bad file, one clear line each, and thousands of truncated and corrupted
 * files that must decode or fail with a TsgptError naming the file, never anything else.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Rng } from '../../src/engine/random.js';
import { TsgptError } from '../../src/errors.js';
import { decodeNpy } from '../../src/io/npy.js';
import { encodeSafetensors } from '../../src/io/safetensors.js';
import { decodeVectorFile, type VectorFormat, vectorFormatOf } from '../../src/io/vector_file.js';
import { decodeVectorJsonl } from '../../src/io/vector_jsonl.js';
import { MAX_VECTOR_FILE_BYTES, readVectorFile } from '../../src/node/vector_file.js';
import { FIXTURES } from '../helpers/fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'tsgpt-vectors-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** v[i, j] = 10 i + j + 0.5, 3 rows of width 4: what every fixture holds. */
const TABLE = Float32Array.from({ length: 12 }, (_, k) => 10 * Math.floor(k / 4) + (k % 4) + 0.5);

const fixture = (name: string) => new Uint8Array(readFileSync(new URL(`npy/${name}`, FIXTURES)));

/** Asserts that fn throws a one-line TsgptError matching `pattern`. */
function refuses(fn: () => unknown, pattern: RegExp, what: string): void {
  assert.throws(
    fn,
    (e: unknown) => {
      assert.ok(e instanceof TsgptError, `${what}: threw ${String(e)}`);
      assert.ok(!e.message.includes('\n'), `${what}: message of several lines`);
      assert.match(e.message, pattern, what);
      return true;
    },
    what,
  );
}

/** A .npy file as NumPy lays it out, with the header given. */
function npyBytes(header: string, data: Uint8Array, major = 1): Uint8Array {
  const lengthBytes = major === 1 ? 2 : 4;
  let h = header;
  while ((8 + lengthBytes + h.length + 1) % 64 !== 0) h += ' ';
  h += '\n';
  const out = new Uint8Array(8 + lengthBytes + h.length + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, major, 0]);
  const view = new DataView(out.buffer);
  if (major === 1) view.setUint16(8, h.length, true);
  else view.setUint32(8, h.length, true);
  out.set(new TextEncoder().encode(h), 8 + lengthBytes);
  out.set(data, 8 + lengthBytes + h.length);
  return out;
}

const f4 = (values: number[]) => new Uint8Array(Float32Array.from(values).buffer);

test('.npy files as NumPy writes them: float32 and float64, either byte order, versions 1.0, 2.0 and 3.0', () => {
  for (const name of ['f4_v1.npy', 'f8_v1.npy', 'f4_big_endian.npy', 'f8_big_endian_v2.npy', 'f4_v3.npy']) {
    const t = decodeNpy(fixture(name), name);
    assert.equal(t.rows, 3, name);
    assert.equal(t.width, 4, name);
    assert.deepEqual(t.data, TABLE, name);
  }
  const empty = decodeNpy(fixture('empty.npy'), 'empty.npy');
  assert.deepEqual([empty.rows, empty.width, empty.data.length], [0, 4, 0]);
  // Python 2's NumPy wrote long integers with an L; a header may use double quotes.
  const old = decodeNpy(npyBytes(`{"descr": "<f4", "fortran_order": False, "shape": (1L, 2L)}`, f4([1, 2])), 'old.npy');
  assert.deepEqual([...old.data], [1, 2]);
});

test('.npy files tsgpt does not read are refused with one line each', () => {
  const cases: [string, Uint8Array, RegExp][] = [
    ['fortran.npy', fixture('fortran.npy'), /Fortran order; save it in C order/],
    ['f2.npy', fixture('f2.npy'), /dtype "<f2" is not supported \(tsgpt reads float32 and float64/],
    ['i4.npy', fixture('i4.npy'), /dtype "<i4" is not supported/],
    ['one_d.npy', fixture('one_d.npy'), /shape \(4\); tsgpt reads 2-D arrays/],
    ['three_d.npy', fixture('three_d.npy'), /shape \(3, 2, 2\); tsgpt reads 2-D arrays/],
    ['structured.npy', fixture('structured.npy'), /structured dtype/],
    ['not npy', new TextEncoder().encode('0.5, 1.5\n'), /not a NumPy \.npy file/],
    ['empty file', new Uint8Array(0), /not a NumPy \.npy file/],
    [
      'version 4.0',
      npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2), }", f4([1, 2]), 4),
      /version 4\.0 is not supported/,
    ],
    ['truncated data', fixture('f4_v1.npy').subarray(0, 170), /truncated: shape \(3, 4\) needs 48 bytes of data, it has 42/],
    ['bytes after the data', Uint8Array.from([...fixture('f4_v1.npy'), 0, 0, 0, 0]), /4 bytes follow the data/],
    ['header past the end', fixture('f4_v1.npy').subarray(0, 40), /header length 118 runs past the end of the file \(40 bytes\)/],
    [
      'a NaN',
      npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2), }", f4([1, NaN])),
      /row 0 holds NaN, which is not a finite float32/,
    ],
    [
      'a float64 too large for float32',
      npyBytes("{'descr': '<f8', 'fortran_order': False, 'shape': (1, 1), }", new Uint8Array(Float64Array.of(1e300).buffer)),
      /holds 1e\+300/,
    ],
    ['a header that is code', npyBytes("__import__('os').system('true')", new Uint8Array(0)), /header is not the dict numpy writes/],
    [
      'an extra key',
      npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1), 'x': 1}", f4([1])),
      /header has keys descr, fortran_order, shape, x/,
    ],
    ['a missing key', npyBytes("{'descr': '<f4', 'shape': (1, 1)}", f4([1])), /header has keys descr, shape;/],
    ['a key twice', npyBytes("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1, 1)}", f4([1])), /key "descr" twice/],
    [
      'shape of strings',
      npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': ('1', '1')}", f4([1])),
      /shape is not a tuple of integers/,
    ],
    [
      'fortran_order of 0',
      npyBytes("{'descr': '<f4', 'fortran_order': 0, 'shape': (1, 1)}", f4([1])),
      /fortran_order is not True or False/,
    ],
    ['an unclosed dict', npyBytes("{'descr': '<f4', 'fortran_order': False", new Uint8Array(0)), /it ends early/],
    ['width 0', npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 0), }", new Uint8Array(0)), /width 0/],
    ['a huge shape', npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (999999999999999, 999999999), }", f4([1])), /too large/],
    ['a non-ASCII header', npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1), }\u00e9", f4([1])), /not ASCII/],
  ];
  for (const [what, bytes, pattern] of cases) refuses(() => decodeNpy(bytes, 'q.npy'), new RegExp(`^q\\.npy: .*${pattern.source}`), what);
});

test('JSONL: a bare array a line, or an object a line with "embedding", "vector" or a named field', () => {
  const bare = decodeVectorJsonl('[0.5, 1.5]\n[2.5, -3]\n', 'a.jsonl');
  assert.deepEqual([bare.rows, bare.width, ...bare.data], [2, 2, 0.5, 1.5, 2.5, -3]);
  const objects = decodeVectorJsonl('{"id": 1, "embedding": [1, 2, 3]}\r\n{"embedding": [4, 5, 6], "vector": [0]}', 'b.jsonl');
  assert.deepEqual([objects.rows, objects.width, ...objects.data], [2, 3, 1, 2, 3, 4, 5, 6]);
  const vector = decodeVectorJsonl('{"vector": [1]}\n{"vector": [2]}\n', 'c.jsonl');
  assert.deepEqual([...vector.data], [1, 2]);
  const named = decodeVectorJsonl('{"e5": [1, 2], "embedding": [9, 9]}\n', 'd.jsonl', 'e5');
  assert.deepEqual([...named.data], [1, 2]);
  // Numbers are rounded to float32 as the engine holds them.
  assert.equal(decodeVectorJsonl('[0.1]', 'e.jsonl').data[0], Math.fround(0.1));
});

test('bad JSONL files are refused with one line naming the line', () => {
  const cases: [string, string, RegExp, string?][] = [
    ['empty', '', /holds no vectors \(it is empty\)/],
    ['only a newline', '\n', /line 1 is empty/],
    ['a blank line between', '[1]\n\n[2]\n', /line 2 is empty; every line holds one vector/],
    ['not JSON', '[1, 2]\n[1, 2\n', /line 2 is not valid JSON/],
    ['a string', '"hello"\n', /line 1 is "hello", not an array of numbers or an object holding one/],
    ['no known field', '{"emb": [1]}\n', /line 1 has no "embedding" or "vector" field/],
    ['the named field missing', '{"embedding": [1]}\n', /line 1 has no "e5" field/, 'e5'],
    ['a field on a bare array', '[1]\n', /line 1 is a bare array, but the field "e5" was asked for/, 'e5'],
    ['widths differ', '[1, 2]\n[1, 2, 3]\n', /line 2: a vector of width 3, but line 1's has width 2/],
    ['forms mixed', '[1]\n{"embedding": [1]}\n', /line 2 is an object, not an array of numbers like the first line/],
    ['forms mixed the other way', '{"embedding": [1]}\n[1]\n', /line 2 is an array, not an object with a "embedding" field/],
    ['the field missing later', '{"embedding": [1]}\n{"vector": [1]}\n', /line 2 has no "embedding" field/],
    ['a string in the vector', '[1, "2"]\n', /line 1: value 1 is "2", not a finite float32 number/],
    ['null in the vector', '[1, null]\n', /line 1: value 1 is null, not a finite float32 number/],
    ['an overflow', '[1e999]\n', /line 1: value 0 is null|line 1: value 0 is Infinity/],
    ['too large for float32', '[1e39]\n', /line 1: value 0 is 1e\+39, not a finite float32 number/],
    ['an empty vector', '[]\n', /line 1: the vector is empty/],
    ['a vector that is not an array', '{"embedding": {"0": 1}}\n', /line 1: the vector is an object, not an array of numbers/],
  ];
  for (const [what, text, pattern, field] of cases)
    refuses(() => decodeVectorJsonl(text, 'v.jsonl', field), new RegExp(`^v\\.jsonl.*${pattern.source}`), what);
});

test('safetensors: the only F32 tensor, or the one named; anything else refused', () => {
  const one = encodeSafetensors([{ name: 'emb', dtype: 'F32', shape: [3, 4], data: TABLE }]);
  assert.deepEqual(decodeVectorFile(one, 'safetensors', 'a.safetensors').data, TABLE);
  const two = encodeSafetensors([
    { name: 'queries', dtype: 'F32', shape: [3, 4], data: TABLE },
    { name: 'items', dtype: 'F32', shape: [2, 2], data: Float32Array.of(1, 2, 3, 4) },
  ]);
  assert.deepEqual([...decodeVectorFile(two, 'safetensors', 'b.safetensors', 'items').data], [1, 2, 3, 4]);
  const cases: [string, Uint8Array, RegExp, string?][] = [
    ['two tensors, none named', two, /holds 2 tensors \("queries", "items"\); name the one with the vectors/],
    ['a name it lacks', two, /has no tensor "keys"/, 'keys'],
    ['no tensors', encodeSafetensors([]), /holds no tensors/],
    [
      'integers',
      encodeSafetensors([{ name: 'ids', dtype: 'I32', shape: [2, 1], data: Int32Array.of(1, 2) }]),
      /tensor "ids" is I32, not F32 vectors/,
    ],
    [
      '1-D',
      encodeSafetensors([{ name: 'v', dtype: 'F32', shape: [4], data: TABLE.subarray(0, 4) }]),
      /tensor "v" has shape \[4\], not \[rows, width\]/,
    ],
    ['width 0', encodeSafetensors([{ name: 'v', dtype: 'F32', shape: [3, 0], data: new Float32Array(0) }]), /width 0/],
    [
      'infinity',
      encodeSafetensors([{ name: 'v', dtype: 'F32', shape: [1, 2], data: Float32Array.of(1, Infinity) }]),
      /row 0 of "v" holds Infinity/,
    ],
    ['truncated', one.subarray(0, one.length - 1), /ends at byte 48 of the data but the data is only 47 bytes/],
    ['a field for .npy', fixture('f4_v1.npy'), /a \.npy file holds one array; there is no field "x" to pick/, 'x'],
  ];
  for (const [what, bytes, pattern, field] of cases) {
    const format: VectorFormat = what === 'a field for .npy' ? 'npy' : 'safetensors';
    refuses(() => decodeVectorFile(bytes, format, 'f', field), new RegExp(`^f.*${pattern.source}`), what);
  }
  refuses(
    () => decodeVectorFile(new Uint8Array([0x5b, 0xff, 0x5d]), 'jsonl', 'g.jsonl'),
    /^g\.jsonl is not valid UTF-8 text$/,
    'latin-1 JSONL',
  );
});

test('the format comes from the extension; files are read with their size checked first', () => {
  assert.equal(vectorFormatOf('a/b.NPY'), 'npy');
  assert.equal(vectorFormatOf('x.ndjson'), 'jsonl');
  assert.equal(vectorFormatOf('x.jsonl'), 'jsonl');
  assert.equal(vectorFormatOf('x.safetensors'), 'safetensors');
  assert.equal(vectorFormatOf('x.json'), null);
  assert.equal(vectorFormatOf('npy'), null);
  const good = join(dir, 'good.npy');
  writeFileSync(good, fixture('f4_v1.npy'));
  assert.deepEqual(readVectorFile(good, 'queries file good.npy').data, TABLE);
  const huge = join(dir, 'huge.npy');
  writeFileSync(huge, '');
  truncateSync(huge, MAX_VECTOR_FILE_BYTES + 1); // sparse: no disk used
  mkdirSync(join(dir, 'folder.npy'));
  writeFileSync(join(dir, 'vectors.txt'), '[1]\n');
  const cases: [string, string, RegExp][] = [
    ['missing', join(dir, 'none.npy'), /^cannot read queries file: no such file$/],
    ['a folder', join(dir, 'folder.npy'), /^queries file is a folder, not a file$/],
    [
      'too large',
      huge,
      new RegExp(`^queries file is ${MAX_VECTOR_FILE_BYTES + 1} bytes, more than the ${MAX_VECTOR_FILE_BYTES} it can be$`),
    ],
    [
      'an unknown extension',
      join(dir, 'vectors.txt'),
      /^queries file: tsgpt tells vector files by their extension, one of \.npy, \.jsonl, \.ndjson, \.safetensors$/,
    ],
  ];
  for (const [what, path, pattern] of cases) refuses(() => readVectorFile(path, 'queries file'), pattern, what);
});

test('truncated and corrupted vector files decode to finite tables or fail with one line naming the file', () => {
  const rng = new Rng(21);
  const templates: [VectorFormat, Uint8Array][] = [
    ['npy', fixture('f4_v1.npy')],
    ['npy', fixture('f8_big_endian_v2.npy')],
    ['jsonl', new TextEncoder().encode('{"id": "a", "embedding": [0.5, 1.5, -2]}\n{"id": "b", "embedding": [3, 4e-3, 5]}\n')],
    ['jsonl', new TextEncoder().encode('[0.5, 1.5]\n[2.5, 3.5]\n')],
    ['safetensors', encodeSafetensors([{ name: 'emb', dtype: 'F32', shape: [3, 4], data: TABLE }], { note: 'x' })],
  ];
  let decoded = 0,
    refused = 0;
  const attempt = (format: VectorFormat, bytes: Uint8Array, what: string) => {
    try {
      const t = decodeVectorFile(bytes, format, 'mutant');
      assert.equal(t.data.length, t.rows * t.width, what);
      assert.ok(t.data.every(Number.isFinite), what);
      decoded++;
    } catch (e) {
      assert.ok(e instanceof TsgptError, `${what}: threw ${String(e)}`);
      assert.ok(e.message.startsWith('mutant') && !e.message.includes('\n'), `${what}: ${e.message}`);
      refused++;
    }
  };
  for (const [format, bytes] of templates) {
    for (let n = 0; n < bytes.length; n++) attempt(format, bytes.subarray(0, n), `${format} cut to ${n} bytes`);
    for (let i = 0; i < 400; i++) {
      const mutant = bytes.slice();
      for (let flips = 1 + rng.int(3); flips > 0; flips--) {
        const at = rng.int(mutant.length);
        mutant[at] = rng.uniform() < 0.5 ? mutant[at]! ^ (1 << rng.int(8)) : rng.int(256);
      }
      attempt(format, mutant, `${format} mutant ${i}`);
    }
  }
  assert.ok(refused > 1000 && decoded > 100, `${decoded} decoded, ${refused} refused`);
  console.log(`# vector files: ${decoded} mutants decoded, ${refused} refused with one line`);
});
