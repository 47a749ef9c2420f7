/**
 * CRC-32 as zip files use it (the IEEE polynomial, reflected, 0xEDB88320): each entry of a zip archive records
 * the CRC of its bytes, so a flipped bit in a checkpoint is caught before its numbers are believed. Browser-safe.
 */

/** The remainders of every byte, computed once: the byte-at-a-time method. */
const TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** The CRC-32 of `bytes`, an unsigned 32-bit number. */
export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
