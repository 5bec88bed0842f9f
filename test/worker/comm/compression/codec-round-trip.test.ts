/**
 * The fast codecs against float64 references written from the definitions:
 * binary16 round to nearest even, packed signs, sign-ef's scale and error
 * feedback, qsgd8's levels and its seeded stream; every size class (0, 1,
 * odd, not a multiple of 32) and the awkward values (±0, subnormals,
 * infinities, NaN, large magnitudes); aligned and unaligned buffers.
 * Then every compression over a real in-process gRPC ring: the reduced
 * gradient is bit-identical on every rank.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addHalfInto, decodeHalf, encodeHalf, toHalfBits } from '../../../../worker/comm/half.js';
import { packSigns, packSignsInto, unpackSigns } from '../../../../worker/comm/compression/bit-pack.js';
import { addDecodedPieces, compressPiecesWithFeedback } from '../../../../worker/comm/compression/sign-ef.js';
import { addDequantizedQsgd8, QSGD_LEVELS, quantizeQsgd8 } from '../../../../worker/comm/compression/qsgd8.js';
import { createGradientReducer } from '../../../../worker/comm/compression/create-reducer.js';
import { startLocalGrpcRing } from '../../../../worker/comm/start-grpc-ring.js';
import { COMPRESSIONS } from '../../../../common/contract.js';
import { Rng } from '../../../../worker/util/rng.js';

const f = Math.fround;
const SIZES = [0, 1, 7, 31, 32, 33, 100, 1001];
const SPECIAL = [0, -0, 1, -1, 1 / 3, -2.5e-8, 1e-45, -1e-45, 2 ** -24, 3 * 2 ** -25, 2 ** -25, 2 ** -14, 6.1e-5, 65504, 65519.99, 65520, -1e10, 3e38, Infinity, -Infinity, NaN];

/** Values of `size` cycling through the special values, the rest random across exponents. */
function values(size: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: size }, (_, i) => (i % 3 === 0 ? SPECIAL[(i / 3) % SPECIAL.length]! : (rng.next() - 0.5) * 2 ** Math.floor(rng.next() * 60 - 40)));
}

/** Gradient-like values for the ring: ±0, tiny and up to 16 in magnitude (fp16's wire holds their sums). */
function gradient(size: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: size }, (_, i) => (i % 17 === 0 ? (i % 2 ? -0 : 0) : (rng.next() - 0.5) * 2 ** Math.floor(rng.next() * 34 - 30)));
}

/** Finite values only (the gradient codecs' domain). */
function finiteValues(size: number, seed: number): Float32Array {
  return values(size, seed).map((v) => (Number.isFinite(v) && Math.abs(v) < 1e30 ? v : 0.75));
}

/** Nearest binary16 value of x in float64, ties to even; ±65520 and beyond are ±infinity; NaN stays NaN. */
function referenceHalf(x: number): number {
  if (Number.isNaN(x) || !Number.isFinite(x)) return x;
  const a = Math.abs(x);
  if (a >= 65520) return Math.sign(x) * Infinity;
  const e = a === 0 ? -14 : Math.max(-14, Math.floor(Math.log2(a)));
  const ulp = 2 ** (e - 10);
  const q = a / ulp;
  let r = Math.floor(q);
  if (q - r > 0.5 || (q - r === 0.5 && r % 2 === 1)) r++;
  const v = r * ulp;
  return x < 0 || Object.is(x, -0) ? -v : v;
}

/** Copies `bytes` to an odd byte offset (the unaligned paths). */
function unaligned(bytes: Uint8Array): Uint8Array {
  const buf = new Uint8Array(bytes.length + 1);
  buf.set(bytes, 1);
  return buf.subarray(1);
}

test('fp16: encode then decode equals the float64 round-to-nearest-even reference, aligned or not', () => {
  for (const size of SIZES) {
    const x = values(size, size + 1);
    const want = Array.from(x, (v) => referenceHalf(v));
    const bytes = encodeHalf(x);
    const got = decodeHalf(bytes);
    for (let i = 0; i < size; i++) assert.ok(Object.is(got[i], f(want[i]!)) || (Number.isNaN(got[i]) && Number.isNaN(want[i])), `size ${size} i=${i}: ${x[i]} -> ${got[i]}, want ${want[i]}`);
    const odd = encodeHalf(x, unaligned(new Uint8Array(2 * size)));
    assert.deepEqual(odd, bytes, `size ${size}: unaligned encode writes the same bytes`);
    assert.deepEqual(decodeHalf(odd), got, `size ${size}: unaligned decode`);
    const acc = Float32Array.from({ length: size }, () => 0.5);
    addHalfInto(acc, odd);
    assert.deepEqual(acc, got.map((v) => v + 0.5), `size ${size}: add-decode`);
  }
});

test('fp16: the fast encoder equals toHalfBits on a sweep of float32 bit patterns', () => {
  const stride = 4099; // prime: every exponent, and mantissas of every rounding case
  const n = Math.floor(2 ** 32 / stride);
  const bits = Uint32Array.from({ length: n }, (_, i) => i * stride);
  const x = new Float32Array(bits.buffer);
  const got = new Uint16Array(encodeHalf(x).buffer);
  for (let i = 0; i < n; i++) if (got[i] !== toHalfBits(x[i]!)) assert.fail(`bits 0x${bits[i]!.toString(16)}: ${got[i]} != ${toHalfBits(x[i]!)}`);
});

test('packed signs: bit i is x[i] >= 0 (so ±0 is +1 and NaN is -1), aligned or not', () => {
  for (const size of SIZES) {
    const x = values(size, 100 + size);
    const want = Float32Array.from(x, (v) => (v >= 0 ? 1 : -1));
    const bits = packSigns(x);
    assert.equal(bits.length, Math.ceil(size / 8));
    assert.deepEqual(unpackSigns(bits, size), want, `size ${size}`);
    const odd = packSignsInto(x, unaligned(new Uint8Array(bits.length).fill(0xff)));
    assert.deepEqual(odd, bits, `size ${size}: unaligned pack (stale bits cleared)`);
    assert.deepEqual(unpackSigns(odd, size), want, `size ${size}: unaligned unpack`);
  }
});

test('sign-ef: scales from the float64 L1 norm per piece, decode gives ±scale, residual = (e + g) − decoded exactly', () => {
  const cases: Array<{ size: number; pieces: number[] }> = [
    { size: 0, pieces: [0] },
    { size: 1, pieces: [1] },
    { size: 33, pieces: [33] },
    { size: 100, pieces: [5, 0, 40, 1, 54] },
    { size: 1001, pieces: [31, 33, 937] },
  ];
  for (const { size, pieces } of cases) {
    const e = finiteValues(size, 200 + size).map((v) => v / 4);
    const g = finiteValues(size, 300 + size);
    const p = Float32Array.from(e, (v, i) => v + g[i]!);
    const block = compressPiecesWithFeedback(e, g, pieces);
    const decoded = new Float32Array(size);
    addDecodedPieces(unaligned(block), pieces, 1, decoded);
    let at = 0;
    for (const len of pieces) {
      let l1 = 0;
      for (let i = at; i < at + len; i++) l1 += Math.abs(p[i]!);
      const scale = len === 0 ? 0 : f(l1 / len);
      for (let i = at; i < at + len; i++) {
        const want = p[i]! >= 0 ? scale : -scale;
        assert.equal(decoded[i], want, `size ${size} i=${i}: decoded`);
        assert.equal(e[i], f(p[i]! - decoded[i]!), `size ${size} i=${i}: residual = input − decoded`);
      }
      at += len;
    }
    const again = new Float32Array(size);
    addDecodedPieces(block, pieces, 4, again);
    assert.deepEqual(again, decoded.map((v) => v / 4), `size ${size}: divisor`);
  }
});

test('qsgd8: decoded values are norm·sign·level/127 within one level of the input; same seed, same codes', () => {
  for (const size of SIZES) {
    const g = finiteValues(size, 400 + size).map((v) => Math.max(-1e3, Math.min(1e3, v)));
    const segments = size > 10 ? [3, size - 3] : [size];
    const rngA = new Rng(9);
    const codes = quantizeQsgd8(g, segments, rngA);
    assert.deepEqual(quantizeQsgd8(g, segments, new Rng(9)), codes, `size ${size}: seeded`);
    // The inlined generator is the Rng's own stream: one draw per value, state handed back.
    const rngB = new Rng(9);
    for (let i = 0; i < size; i++) rngB.next();
    assert.equal(rngA.state, rngB.state, `size ${size}: one draw per value`);
    const out = new Float32Array(size);
    addDequantizedQsgd8(unaligned(codes), segments, 1, out);
    let at = 0;
    for (const len of segments) {
      let sq = 0;
      for (let i = at; i < at + len; i++) sq += g[i]! * g[i]!;
      const norm = f(Math.sqrt(sq));
      for (let i = at; i < at + len; i++) {
        const code = codes[4 * segments.length + i]!;
        const level = code >>> 1;
        assert.ok(level <= QSGD_LEVELS);
        assert.equal(out[i], 0 + f(((code & 1 ? 1 : -1) * norm * level) / QSGD_LEVELS), `size ${size} i=${i}: decode (added to 0)`);
        assert.ok(Math.abs(out[i]! - g[i]!) <= (norm / QSGD_LEVELS) * (1 + 1e-6), `size ${size} i=${i}: ${g[i]} -> ${out[i]} more than one level (${norm / QSGD_LEVELS}) away`);
        if (g[i] === 0) assert.equal(out[i], 0, 'zero stays zero');
      }
      at += len;
    }
    if (size > 100) assert.notDeepEqual(quantizeQsgd8(g, segments, new Rng(10)), codes, 'another seed rounds differently');
  }
});

test('every compression over the gRPC ring: the reduced gradient is bit-identical on every rank', { timeout: 60_000 }, async () => {
  const n = 3;
  const ring = await startLocalGrpcRing(n, { timeoutMs: 10_000, maxMessageBytes: 4096 });
  try {
    for (const compression of COMPRESSIONS) {
      for (const d of [1, 33, 10_007]) {
        const reducers = ring.map((collective) => createGradientReducer({ collective, compression, seed: 5 }).reducer);
        for (let step = 0; step < 3; step++) {
          const grads = ring.map((_, r) => gradient(d, 1000 * step + 10 * r + d));
          const outs = await Promise.all(reducers.map((reduce, r) => reduce(grads[r]!, step)));
          for (const [r, out] of outs.entries()) assert.deepEqual(new Uint8Array(out.buffer, out.byteOffset, out.byteLength), new Uint8Array(outs[0]!.buffer, outs[0]!.byteOffset, outs[0]!.byteLength), `${compression} d=${d} step ${step}: rank ${r} differs from rank 0`);
        }
      }
    }
  } finally {
    await Promise.all(ring.map((c) => c.close()));
  }
});
