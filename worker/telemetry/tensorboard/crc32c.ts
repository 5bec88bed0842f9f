/**
 * CRC-32C (Castagnoli), the checksum of TFRecord framing, and the "masked"
 * form TFRecord stores: a CRC over data that itself holds CRCs is weak, so
 * TensorFlow rotates and offsets it (tensorflow/core/lib/hash/crc32c.h).
 */

/** Reflected Castagnoli polynomial. */
const POLY = 0x82f63b78;
/** TFRecord's mask offset (crc32c.h, kMaskDelta). */
const MASK_DELTA = 0xa282ead8;

const TABLE: Uint32Array = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();

/** CRC-32C of `data`, as an unsigned 32-bit integer. */
export function crc32c(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (let i = 0; i < data.length; i++) crc = TABLE[(crc ^ data[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** The masked CRC-32C TFRecord stores: rotate right by 15 bits, then add a constant (mod 2^32). */
export function maskedCrc32c(data: Uint8Array): number {
  const crc = crc32c(data);
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + MASK_DELTA) >>> 0;
}
