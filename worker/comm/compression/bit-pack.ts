/**
 * Sign bit packing: 1 bit per value on the wire, 8 values per byte, LSB first.
 * Bit set means sgn = +1; sgn(0) = sgn(−0) = +1 (as in 1-bit Adam), so every
 * value has a sign; NaN (x >= 0 is false) packs as −1.
 *
 * Speed: signs are packed 32 to a Uint32 word and stored as one word where
 * the output is 4-byte aligned on a little-endian host (the same bytes as the
 * LSB-first byte layout), and the bit tests are arithmetic, not branches
 * (`+(x >= 0)`, not `x >= 0 ? 1 : 0`, which V8 compiles to a branch):
 * gradient signs are close to random, so a branch per value mispredicts about
 * half the time.
 */

/** Whether Uint32 views store the wire's (little-endian) byte order. */
export const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Uint32 words of the packed bits when `bits` is aligned on a little-endian host, else undefined. */
export function signWords(bits: Uint8Array, length: number): Uint32Array | undefined {
  return LITTLE_ENDIAN && bits.byteOffset % 4 === 0 ? new Uint32Array(bits.buffer, bits.byteOffset, length >>> 5) : undefined;
}

/** The 32 sign bits of x[base .. base+32). */
function packWord(x: Float32Array, base: number): number {
  let w = 0;
  for (let b = 0; b < 32; b++) w |= +(x[base + b]! >= 0) << b;
  return w;
}

/** Writes word `w` as the 4 bytes at `bits[4k..4k+4)`, LSB first. */
function storeWordBytes(bits: Uint8Array, k: number, w: number): void {
  bits[4 * k] = w & 0xff;
  bits[4 * k + 1] = (w >>> 8) & 0xff;
  bits[4 * k + 2] = (w >>> 16) & 0xff;
  bits[4 * k + 3] = w >>> 24;
}

/** Packs the signs of `x` into `out` (ceil(length/8) bytes, zeroed tail bits); returns `out`. */
export function packSignsInto(x: Float32Array, out: Uint8Array): Uint8Array {
  const n = x.length;
  if (out.length < Math.ceil(n / 8)) throw new RangeError(`packSigns: ${out.length} bytes cannot hold ${n} signs`);
  const full = n >>> 5;
  const words = signWords(out, n);
  for (let k = 0; k < full; k++) {
    const w = packWord(x, 32 * k);
    if (words !== undefined) words[k] = w;
    else storeWordBytes(out, k, w);
  }
  for (let j = 4 * full; j < Math.ceil(n / 8); j++) out[j] = 0;
  for (let i = 32 * full; i < n; i++) out[i >>> 3] |= +(x[i]! >= 0) << (i & 7);
  return out;
}

/** Packs the signs of `x` (bit i set when x[i] >= 0) into ceil(length/8) bytes. */
export function packSigns(x: Float32Array): Uint8Array {
  return packSignsInto(x, new Uint8Array(Math.ceil(x.length / 8)));
}

/** The sign (+1 / -1) of element `i` of packed `bits`. */
export function signAt(bits: Uint8Array, i: number): number {
  return (bits[i >>> 3]! >>> (i & 7)) & 1 ? 1 : -1;
}

/** Word k of packed bits (whole 32-value words only), from the aligned view or the bytes. */
export function loadWord(bits: Uint8Array, words: Uint32Array | undefined, k: number): number {
  return words !== undefined ? words[k]! : bits[4 * k]! | (bits[4 * k + 1]! << 8) | (bits[4 * k + 2]! << 16) | (bits[4 * k + 3]! << 24);
}

/**
 * acc[from+i] += bit_i ? w : −w for the values [from, to) of packed `bits`
 * (bit i of the stream is value i); `words` from {@link signWords}.
 * (2·bit − 1)·w is ±w exactly, so the sum equals the branchy form bit for bit.
 */
export function addSignedInto(bits: Uint8Array, words: Uint32Array | undefined, from: number, to: number, w: number, acc: Float32Array, accOffset: number): void {
  let i = from;
  for (; i < to && (i & 31) !== 0; i++) acc[i - accOffset] += (((bits[i >>> 3]! >>> (i & 7)) & 1) * 2 - 1) * w;
  for (; i + 32 <= to; i += 32) {
    const word = loadWord(bits, words, i >>> 5);
    const base = i - accOffset;
    for (let b = 0; b < 32; b++) acc[base + b] += (((word >>> b) & 1) * 2 - 1) * w;
  }
  for (; i < to; i++) acc[i - accOffset] += (((bits[i >>> 3]! >>> (i & 7)) & 1) * 2 - 1) * w;
}

/** Unpacks `length` signs as +1 / -1. */
export function unpackSigns(bits: Uint8Array, length: number, out: Float32Array = new Float32Array(length)): Float32Array {
  if (bits.length < Math.ceil(length / 8)) throw new RangeError(`unpackSigns: ${bits.length} bytes cannot hold ${length} signs`);
  out.fill(0, 0, length);
  addSignedInto(bits, signWords(bits, length), 0, length, 1, out, 0);
  return out;
}

/** A block on the wire: a float32 scale followed by packed signs. */
export function encodeScaledSigns(scale: number, x: Float32Array): Uint8Array {
  const out = new Uint8Array(4 + Math.ceil(x.length / 8));
  new DataView(out.buffer).setFloat32(0, scale, true);
  packSignsInto(x, out.subarray(4));
  return out;
}

/** Reads a block written by {@link encodeScaledSigns}; throws when it cannot hold `length` signs. */
export function decodeScaledSigns(block: Uint8Array, length: number): { scale: number; bits: Uint8Array } {
  const want = 4 + Math.ceil(length / 8);
  if (block.length !== want) throw new RangeError(`scaled-sign block has ${block.length} bytes, expected ${want} for ${length} values`);
  return { scale: new DataView(block.buffer, block.byteOffset, 4).getFloat32(0, true), bits: block.subarray(4) };
}
