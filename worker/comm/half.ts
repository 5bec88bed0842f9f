/**
 * IEEE 754 binary16 conversion (Node 20 has no Float16Array). Used by the
 * all-reduce's f16 wire format and by the `fp16` compressor.
 */

import { nativeKernelsStatus } from './native-kernels.js';

/** The C kernels when built (native/kernels; bit-identical to the TypeScript below). */
const native = nativeKernelsStatus.kernels;

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

/**
 * Whether typed-array views share the wire's byte order (little-endian), so
 * binary16 can be written and read as Uint16 words; otherwise byte by byte.
 */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** A Uint16 view of `bytes` when it is 2-byte aligned on a little-endian host, else undefined (use bytes). */
function halfWords(bytes: Uint8Array, count: number): Uint16Array | undefined {
  return LITTLE_ENDIAN && bytes.byteOffset % 2 === 0 ? new Uint16Array(bytes.buffer, bytes.byteOffset, count) : undefined;
}

/**
 * Encodes `src` as little-endian binary16 into `out` (2 bytes per element),
 * bit-identical to {@link toHalfBits} on every input.
 *
 * Why not toHalfBits per element: a call, a scratch-array store and a
 * branchy exponent decode per value ran at 0.45 GB/s. Here, on the float's
 * bits (an Int32 view, so V8 stays in int32):
 * - half-normal range [2^-14, 65520): rebias the exponent by subtracting
 *   112 << 23 and round to nearest even by adding 0xfff + the kept LSB before
 *   the shift; a carry out of the mantissa bumps the exponent (up to
 *   infinity at 65520, as IEEE rounding requires);
 * - below 2^-14 (half subnormals and zero): the half is round(|x|·2^24) with
 *   ties to even, exact in double arithmetic;
 * - 65520 and above: infinity; NaN stays a quiet NaN.
 */
export function encodeHalf(src: Float32Array, out: Uint8Array = new Uint8Array(src.length * 2)): Uint8Array {
  if (native !== undefined && out.length >= 2 * src.length) {
    native.encodeHalf(src, out);
    return out;
  }
  return encodeHalfJs(src, out);
}

/** {@link encodeHalf} in TypeScript (the path without the native addon, and its reference). */
export function encodeHalfJs(src: Float32Array, out: Uint8Array = new Uint8Array(src.length * 2)): Uint8Array {
  const bits = new Int32Array(src.buffer, src.byteOffset, src.length);
  const words = halfWords(out, src.length);
  // Two loops, so the aligned one has no per-value test of the output path.
  if (words !== undefined) for (let i = 0; i < src.length; i++) words[i] = halfAt(bits, src, i);
  else {
    for (let i = 0; i < src.length; i++) {
      const h = halfAt(bits, src, i);
      out[2 * i] = h & 0xff;
      out[2 * i + 1] = h >>> 8;
    }
  }
  return out;
}

/** The binary16 bits of src[i], whose float32 bits are bits[i] (the cases of {@link encodeHalf}); src is read only below 2^-14. */
function halfAt(bits: Int32Array, src: Float32Array, i: number): number {
  const b = bits[i]!;
  const abs = b & 0x7fffffff;
  let h: number;
  if (abs >= 0x38800000) {
    if (abs < 0x47800000) h = (abs - 0x38000000 + 0xfff + ((abs >>> 13) & 1)) >>> 13;
    else h = abs > 0x7f800000 ? 0x7e00 : 0x7c00;
  } else {
    const v = Math.abs(src[i]!) * 16777216;
    h = Math.floor(v + 0.5);
    if (h - v === 0.5 && (h & 1) === 1) h--;
  }
  return h | ((b >>> 16) & 0x8000);
}

/** Decodes little-endian binary16 bytes into `out` (length bytes/2) through the 65536-entry table. */
export function decodeHalf(bytes: Uint8Array, out: Float32Array = new Float32Array(bytes.length >>> 1)): Float32Array {
  if (native !== undefined) {
    native.decodeHalf(bytes, out, false);
    return out;
  }
  return decodeHalfJs(bytes, out);
}

/** {@link decodeHalf} in TypeScript. */
export function decodeHalfJs(bytes: Uint8Array, out: Float32Array = new Float32Array(bytes.length >>> 1)): Float32Array {
  const words = halfWords(bytes, out.length);
  const table = HALF_TO_F32; // a local: a module binding is reloaded on every use in the loop
  if (words !== undefined) for (let i = 0; i < out.length; i++) out[i] = table[words[i]!]!;
  else for (let i = 0, j = 0; i < out.length; i++, j += 2) out[i] = table[bytes[j]! | (bytes[j + 1]! << 8)]!;
  return out;
}

/** Adds decoded binary16 bytes into `acc` element-wise. */
export function addHalfInto(acc: Float32Array, bytes: Uint8Array): void {
  if (native !== undefined) native.decodeHalf(bytes, acc, true);
  else addHalfIntoJs(acc, bytes);
}

/** {@link addHalfInto} in TypeScript. */
export function addHalfIntoJs(acc: Float32Array, bytes: Uint8Array): void {
  const words = halfWords(bytes, acc.length);
  const table = HALF_TO_F32;
  if (words !== undefined) for (let i = 0; i < acc.length; i++) acc[i] += table[words[i]!]!;
  else for (let i = 0, j = 0; i < acc.length; i++, j += 2) acc[i] += table[bytes[j]! | (bytes[j + 1]! << 8)]!;
}
