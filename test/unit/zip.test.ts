/**
 * Zip archives: ours unpack with their CRCs right, Info-ZIP's (stored and deflated, with a folder entry) read
 * back, and damaged archives fail with one clear line.
 */
import assert from 'node:assert/strict';
import { crc32, decodeStoredZip, encodeStoredZip, readZip } from '../../src/io/zip.js';
import { test } from 'node:test';
import { TsgptError } from '../../src/errors.js';

/** Made by Info-ZIP's zip 3.0: run/a.txt stored, run/sub/ (a folder entry), run/sub/b.txt deflated at -9. */
const INFO_ZIP =
  'UEsDBAoAAAAAAPGUgV1jqxWPDgAAAA4AAAAJAAAAcnVuL2EudHh0aGVsbG8sIHN0b3JlZApQSwMECgAAAAAA8ZSBXQAAAAAAAAAAAAAAAAgAAABydW4vc3ViL1BLAwQUAAIACADxlIFd9XMIlBwAAAAhAwAADQAAAHJ1bi9zdWIvYi50eHQryVdISlXIL1LIyy9RKAFxdCDUqNio2KiYAhcAUEsBAh4DCgAAAAAA8ZSBXWOrFY8OAAAADgAAAAkAAAAAAAAAAAAAAKSBAAAAAHJ1bi9hLnR4dFBLAQIeAwoAAAAAAPGUgV0AAAAAAAAAAAAAAAAIAAAAAAAAAAAAEADtQTUAAABydW4vc3ViL1BLAQIeAxQAAgAIAPGUgV31cwiUHAAAACEDAAANAAAAAAAAAAEAAACkgVsAAABydW4vc3ViL2IudHh0UEsFBgAAAAADAAMAqAAAAKIAAAAAAA==';

const text = (s: string) => new TextEncoder().encode(s);
const decode = (b: Uint8Array) => new TextDecoder().decode(b);

test('crc32: the check value of "123456789"', () => {
  assert.equal(crc32(text('123456789')), 0xcbf43926);
  assert.equal(crc32(new Uint8Array(0)), 0);
});

test('encodeStoredZip then readZip gives the files back, names in UTF-8 and bytes exact', async () => {
  const entries = [
    { name: 'run/config.json', bytes: text('{"a": 1}\n') },
    { name: 'run/model.safetensors', bytes: Uint8Array.from({ length: 70000 }, (_, i) => (i * 31) & 0xff) },
    { name: 'run/résumé/é.txt', bytes: new Uint8Array(0) },
  ];
  const zip = encodeStoredZip(entries);
  assert.deepEqual([...zip.subarray(0, 4)], [0x50, 0x4b, 0x03, 0x04]);
  const back = await readZip(zip, 'our zip');
  assert.deepEqual(
    back.map((e) => e.name),
    entries.map((e) => e.name),
  );
  back.forEach((e, i) => assert.deepEqual(e.bytes, entries[i]!.bytes));
  // The same entries make the same bytes: no timestamps or random fields.
  assert.deepEqual(encodeStoredZip(entries), zip);
});

test("readZip reads Info-ZIP's archive: a stored file, a deflated one, and no folder entries", async () => {
  const files = await readZip(Buffer.from(INFO_ZIP, 'base64'), 't.zip');
  assert.deepEqual(
    files.map((f) => f.name),
    ['run/a.txt', 'run/sub/b.txt'],
  );
  assert.equal(decode(files[0]!.bytes), 'hello, stored\n');
  assert.equal(decode(files[1]!.bytes), `${'to be or not to be, '.repeat(40)}\n`);
});

test('damaged archives fail with one line naming the archive', async () => {
  const good = encodeStoredZip([{ name: 'a.txt', bytes: text('hello') }]);
  const flipped = good.slice();
  flipped[decodeStoredZip(good, 'x.zip').read('a.txt').byteOffset]! ^= 1; // the first byte of a.txt's data
  const cases: [Uint8Array, RegExp][] = [
    [text('not a zip at all, just text'), /not a zip archive \(no end-of-directory record\)/],
    [new Uint8Array(0), /not a zip archive/],
    [flipped, /entry "a\.txt" does not match its CRC-32: the file is damaged/],
    [good.subarray(10), /damaged|truncated|outside the file/],
  ];
  for (const [bytes, pattern] of cases) {
    await assert.rejects(readZip(bytes, 'x.zip'), (e: Error) => {
      assert.ok(e instanceof TsgptError, String(e));
      assert.match(e.message, /^x\.zip: /);
      assert.match(e.message, pattern);
      return true;
    });
  }
});
