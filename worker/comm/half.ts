/**
 * IEEE 754 binary16 conversion (Node 20 has no Float16Array). Used by the
 * all-reduce's f16 wire format and by the `fp16` compressor.
 */

const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);

/** Float32 to binary16 bits, round to nearest even; overflow gives infinity. */
export function toHalfBits(x: number): number {
  F32[0] = x;
  const b = U32[0]!;
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  let mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    // Subnormal half: value = m * 2^-24, so shift the 24-bit significand right by 14 - e.
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rem > halfway || (rem === halfway && (half & 1) === 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  // A carry out of the mantissa correctly bumps the exponent (up to infinity).
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1) === 1)) half++;
  return sign | half;
}

/** Every binary16 value as float32, indexed by its bits. */
const HALF_TO_F32 = (() => {
  const table = new Float32Array(65536);
  const u = new Uint32Array(table.buffer);
  for (let h = 0; h < 65536; h++) {
    const sign = (h & 0x8000) << 16;
    const e = (h >>> 10) & 0x1f;
    const m = h & 0x3ff;
    if (e === 0) table[h] = (sign !== 0 ? -1 : 1) * m * 2 ** -24;
    else if (e === 31) u[h] = (sign | 0x7f800000 | (m << 13)) >>> 0;
    else u[h] = (sign | ((e - 15 + 127) << 23) | (m << 13)) >>> 0;
  }
  return table;
})();

/** binary16 bits to a number. */
export function fromHalfBits(h: number): number {
  return HALF_TO_F32[h & 0xffff]!;
}

/** Encodes `src` as little-endian binary16 into `out` (2 bytes per element). */
export function encodeHalf(src: Float32Array, out: Uint8Array = new Uint8Array(src.length * 2)): Uint8Array {
  for (let i = 0, j = 0; i < src.length; i++, j += 2) {
    const h = toHalfBits(src[i]!);
    out[j] = h & 0xff;
    out[j + 1] = h >>> 8;
  }
  return out;
}

/** Decodes little-endian binary16 bytes into `out` (length bytes/2). */
export function decodeHalf(bytes: Uint8Array, out: Float32Array = new Float32Array(bytes.length >>> 1)): Float32Array {
  for (let i = 0, j = 0; i < out.length; i++, j += 2) out[i] = HALF_TO_F32[bytes[j]! | (bytes[j + 1]! << 8)]!;
  return out;
}

/** Adds decoded binary16 bytes into `acc` element-wise. */
export function addHalfInto(acc: Float32Array, bytes: Uint8Array): void {
  for (let i = 0, j = 0; i < acc.length; i++, j += 2) acc[i] += HALF_TO_F32[bytes[j]! | (bytes[j + 1]! << 8)]!;
}
