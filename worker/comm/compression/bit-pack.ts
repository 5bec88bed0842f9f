/**
 * Sign bit packing: 1 bit per value on the wire, 8 values per byte, LSB first.
 * Bit set means sgn = +1; sgn(0) = +1 (as in 1-bit Adam), so every value has a sign.
 */

/** Packs the signs of `x` (bit i set when x[i] >= 0) into ceil(length/8) bytes. */
export function packSigns(x: Float32Array): Uint8Array {
  const out = new Uint8Array(Math.ceil(x.length / 8));
  for (let i = 0; i < x.length; i++) if (x[i]! >= 0) out[i >>> 3] |= 1 << (i & 7);
  return out;
}

/** The sign (+1 / -1) of element `i` of packed `bits`. */
export function signAt(bits: Uint8Array, i: number): number {
  return (bits[i >>> 3]! >>> (i & 7)) & 1 ? 1 : -1;
}

/** Unpacks `length` signs as +1 / -1. */
export function unpackSigns(bits: Uint8Array, length: number, out: Float32Array = new Float32Array(length)): Float32Array {
  if (bits.length < Math.ceil(length / 8)) throw new RangeError(`unpackSigns: ${bits.length} bytes cannot hold ${length} signs`);
  for (let i = 0; i < length; i++) out[i] = (bits[i >>> 3]! >>> (i & 7)) & 1 ? 1 : -1;
  return out;
}

/** A block on the wire: a float32 scale followed by packed signs. */
export function encodeScaledSigns(scale: number, x: Float32Array): Uint8Array {
  const bits = packSigns(x);
  const out = new Uint8Array(4 + bits.length);
  new DataView(out.buffer).setFloat32(0, scale, true);
  out.set(bits, 4);
  return out;
}

/** Reads a block written by {@link encodeScaledSigns}; throws when it cannot hold `length` signs. */
export function decodeScaledSigns(block: Uint8Array, length: number): { scale: number; bits: Uint8Array } {
  const want = 4 + Math.ceil(length / 8);
  if (block.length !== want) throw new RangeError(`scaled-sign block has ${block.length} bytes, expected ${want} for ${length} values`);
  return { scale: new DataView(block.buffer, block.byteOffset, 4).getFloat32(0, true), bits: block.subarray(4) };
}
