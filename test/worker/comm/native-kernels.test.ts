/**
 * worker/comm/native-kernels.ts and the C kernels behind it: each native kernel gives the
 * same bits as its TypeScript twin (reduce-kernels.ts, half.ts, compression/qsgd8.ts) on
 * ordinary values, non-finite ones, every edge of binary16, unaligned views and per-layer
 * segments; the loader says why it fell back. With DAT_REQUIRE_NATIVE_KERNELS=1 (scripts/test.sh builds the addon) a missing
 * addon fails instead of skipping.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadNativeKernels, nativeKernelsStatus, NATIVE_KERNELS_PATH } from '../../../worker/comm/native-kernels.js';
import { addHalfInto, addHalfIntoJs, decodeHalf, decodeHalfJs, encodeHalf, encodeHalfJs } from '../../../worker/comm/half.js';
import { addDequantizedQsgd8, addDequantizedQsgd8Js, quantizeQsgd8, quantizeQsgd8Js } from '../../../worker/comm/compression/qsgd8.js';
import { Rng } from '../../../worker/util/rng.js';
import { addDecodedPieces, addDecodedPiecesJs, compressPiecesWithFeedback, compressPiecesWithFeedbackJs, decodePieces } from '../../../worker/comm/compression/sign-ef.js';
import { addIntoChecked, addIntoCheckedJs, firstNonFinite, firstNonFiniteJs, sumIntoChecked, sumIntoCheckedJs } from '../../../worker/comm/reduce-kernels.js';

const required = process.env['DAT_REQUIRE_NATIVE_KERNELS'] === '1';
const native = nativeKernelsStatus.kernels;
const skip = native === undefined && !required ? `native kernels ${nativeKernelsStatus.reason}` : false;

/** Normal-ish values with a spread of magnitudes (seeded). */
function gradient(n: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (rng.next() - 0.5) * 10 ** Math.floor(rng.next() * 12 - 8);
  return out;
}

/** Every float32 edge of binary16 conversion. */
const EDGES = new Float32Array([
  0, -0, 1, -1, 65504, 65519.99, 65520, -65520, 1e9, Infinity, -Infinity, NaN,
  2 ** -14, 2 ** -14 * (1 - 2 ** -11), 2 ** -24, 2 ** -25, 2 ** -25 * 1.0001, 3 * 2 ** -26, 1e-30, 1e-45, -1e-45,
  1 + 2 ** -11, 1 + 3 * 2 ** -11, 2048 + 1, 2048 + 3, 0.1, -0.3333,
]);
function withNaNPayloads(): Float32Array {
  const out = new Float32Array(4);
  new Uint32Array(out.buffer).set([0x7fc00001, 0xffffffff, 0x7f800001, 0x7fa00000]);
  return out;
}

/**
 * The same float32 bits, except that any NaN equals any NaN: V8 may quiet a NaN's payload
 * when a value passes through a JavaScript number (it depends on the JIT tier), so only
 * the C side keeps payloads reliably, and a NaN gradient fails the step either way.
 */
function assertSameFloats(a: Float32Array, b: Float32Array): void {
  assert.equal(a.length, b.length);
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < a.length; i++) {
    if (Number.isNaN(a[i]) && Number.isNaN(b[i])) continue;
    if (ua[i] !== ub[i]) assert.fail(`element ${i}: ${a[i]} (0x${ua[i]!.toString(16)}) vs ${b[i]} (0x${ub[i]!.toString(16)})`);
  }
}

describe('native kernels: binary16', { skip }, () => {
  const inputs = [
    { name: 'ordinary values', x: gradient(100_003, 1) },
    { name: 'the edges of binary16', x: EDGES },
    { name: 'NaN payloads', x: withNaNPayloads() },
  ];
  for (const { name, x } of inputs) {
    test(`encodeHalf matches TypeScript: ${name}`, () => {
      assert.deepEqual(encodeHalf(x), encodeHalfJs(x));
    });
    test(`addHalfInto matches TypeScript: ${name}`, () => {
      const bytes = encodeHalfJs(x);
      const a = gradient(x.length, 2);
      const b = a.slice();
      addHalfInto(a, bytes);
      addHalfIntoJs(b, bytes);
      assertSameFloats(a, b);
    });
  }

  test('decodeHalf matches TypeScript on all 65,536 codes', () => {
    const bytes = new Uint8Array(new Uint16Array(65536).map((_, i) => i).buffer);
    assertSameFloats(decodeHalf(bytes), decodeHalfJs(bytes));
  });

  test('an output at an odd byte offset is written byte by byte, the same bytes', () => {
    const x = gradient(1001, 3);
    const backing = new Uint8Array(2 * x.length + 1);
    const out = backing.subarray(1);
    encodeHalf(x, out);
    assert.deepEqual(out, encodeHalfJs(x));
    assertSameFloats(decodeHalf(out), decodeHalfJs(encodeHalfJs(x)));
  });

  test('wrong argument types and short buffers throw instead of writing past the end', () => {
    assert.ok(native !== undefined);
    assert.throws(() => native.encodeHalf(new Float32Array(4), new Uint8Array(7)), RangeError);
    assert.throws(() => native.decodeHalf(new Uint8Array(7), new Float32Array(4), false), RangeError);
    assert.throws(() => native.encodeHalf(new Float64Array(4) as unknown as Float32Array, new Uint8Array(8)), TypeError);
  });
});

describe('native kernels: qsgd8', { skip }, () => {
  const cases = [
    { name: 'one segment', n: 50_000, segments: [50_000], seed: 11 },
    { name: 'per-layer segments, an empty one among them', n: 10_000, segments: [3, 0, 4997, 5000], seed: 12 },
    { name: 'an all-zero gradient', n: 1000, segments: [1000], seed: 13, zero: true },
  ];
  for (const c of cases) {
    test(`codes, norms and the RNG state match TypeScript: ${c.name}`, () => {
      const g = c.zero === true ? new Float32Array(c.n) : gradient(c.n, c.seed);
      const r1 = new Rng(c.seed);
      const r2 = new Rng(c.seed);
      const a = quantizeQsgd8(g, c.segments, r1);
      const b = quantizeQsgd8Js(g, c.segments, r2);
      assert.deepEqual(a, b);
      assert.equal(r1.state, r2.state);
      const acc1 = gradient(c.n, c.seed + 100);
      const acc2 = acc1.slice();
      addDequantizedQsgd8(a, c.segments, 1 / 3, acc1);
      addDequantizedQsgd8Js(a, c.segments, 1 / 3, acc2);
      assertSameFloats(acc1, acc2);
    });
  }

  test('a range outside its array throws', () => {
    assert.ok(native !== undefined);
    assert.throws(() => native.quantizeSegment(new Float32Array(4), 0, 5, 1, new Uint8Array(9), 4, 0), RangeError);
    assert.throws(() => native.addCodes(new Uint8Array(8), 4, 0, 5, new Float64Array(256), new Float32Array(5)), RangeError);
  });
});

describe('native kernels: ring sums', { skip }, () => {
  const withBad = (x: Float32Array, at: number, v: number): Float32Array => {
    const y = x.slice();
    y[at] = v;
    return y;
  };
  const x = gradient(100_001, 21);
  const y = gradient(100_001, 22);
  const cases = [
    { name: 'finite values', a: x, b: y },
    { name: 'a NaN', a: withBad(x, 777, NaN), b: y },
    { name: 'an infinity on each side, the later one first', a: withBad(x, 90_000, Infinity), b: withBad(y, 5, -Infinity) },
    { name: 'an overflow to infinity in the sum', a: withBad(x, 42, 3e38), b: withBad(y, 42, 3e38) },
  ];
  for (const c of cases) {
    test(`sums and the first non-finite index match TypeScript: ${c.name}`, () => {
      const d1 = new Float32Array(c.a.length);
      const d2 = new Float32Array(c.a.length);
      assert.equal(sumIntoChecked(d1, c.a, c.b), sumIntoCheckedJs(d2, c.a, c.b));
      assertSameFloats(d1, d2);
      const e1 = c.a.slice();
      const e2 = c.a.slice();
      assert.equal(addIntoChecked(e1, c.b), addIntoCheckedJs(e2, c.b));
      assertSameFloats(e1, e2);
      assert.equal(firstNonFinite(c.a), firstNonFiniteJs(c.a));
    });
  }

  test('a short source throws before anything is written', () => {
    const dst = new Float32Array(4);
    assert.throws(() => sumIntoChecked(dst, new Float32Array(4), new Float32Array(3)), RangeError);
    assert.ok(native !== undefined);
    assert.throws(() => native.sumIntoChecked(dst, new Float32Array(4), new Float32Array(3)), RangeError);
  });
});

describe('native kernels: sign-ef', { skip }, () => {
  const cases = [
    { name: 'one piece, error memory fed by a gradient', n: 10_007, pieces: [10_007], withG: true },
    { name: 'pieces off word boundaries, an empty one among them', n: 5_000, pieces: [31, 0, 33, 1, 4_935], withG: true },
    { name: 'no gradient (compress e alone), a NaN and zeros', n: 1_000, pieces: [500, 500], withG: false, bad: true },
  ];
  for (const c of cases) {
    test(`encode (block and residual) and decode match TypeScript: ${c.name}`, () => {
      assert.ok(native !== undefined);
      const e0 = gradient(c.n, 31);
      if (c.bad === true) {
        e0[3] = NaN;
        e0.fill(0, 10, 50);
        e0[60] = -0;
      }
      const g = c.withG ? gradient(c.n, 32) : undefined;
      const eJs = e0.slice();
      const eC = e0.slice();
      const blockJs = compressPiecesWithFeedbackJs(eJs, g, c.pieces);
      const blockC = compressPiecesWithFeedback(eC, g, c.pieces);
      assert.deepEqual(blockC, blockJs);
      assertSameFloats(eC, eJs);
      const accJs = gradient(c.n, 33);
      const accC = accJs.slice();
      addDecodedPiecesJs(blockJs, c.pieces, 3, accJs);
      addDecodedPieces(blockJs, c.pieces, 3, accC);
      assertSameFloats(accC, accJs);
      // Overwriting: the bits of adding into zeros, whatever the buffer held.
      const zerosJs = new Float32Array(c.n);
      addDecodedPiecesJs(blockJs, c.pieces, 3, zerosJs);
      const overC = gradient(c.n, 34);
      decodePieces(blockJs, c.pieces, 3, overC);
      assertSameFloats(overC, zerosJs);
    });
  }

  test('overwriting decode of a zero-scale piece gives +0, as adding -0 into +0 does', () => {
    const e = new Float32Array(80);
    e.fill(1, 40);
    const block = compressPiecesWithFeedbackJs(e, undefined, [40, 40]);
    const want = new Float32Array(80);
    addDecodedPiecesJs(block, [40, 40], 1, want);
    const got = new Float32Array(80).fill(-7);
    decodePieces(block, [40, 40], 1, got);
    assertSameFloats(got, want);
    assert.ok(got.subarray(0, 40).every((v) => Object.is(v, 0)), 'zeros are +0');
  });

  test('pieces that do not cover the buffer, or a wrong block size, throw', () => {
    assert.ok(native !== undefined);
    assert.throws(() => native.signEfEncode(new Float32Array(8), null, Float64Array.from([4, 3]), new Uint8Array(9)), RangeError);
    assert.throws(() => native.signEfAddDecoded(new Uint8Array(6), Float64Array.from([8]), 1, new Float32Array(8)), RangeError);
    assert.throws(() => native.signEfDecode(new Uint8Array(6), Float64Array.from([8]), 1, new Float32Array(8)), RangeError);
  });
});

describe('native kernels: the scalar loops (hosts without AVX2)', { skip: skip !== false ? skip : process.env['DAT_NATIVE_KERNELS_SCALAR'] !== undefined ? 'this is the scalar run' : false }, () => {
  test('every equality test above passes with DAT_NATIVE_KERNELS_SCALAR=1', () => {
    // Without NODE_TEST_CONTEXT, or the child would report to this runner instead of printing.
    const { NODE_TEST_CONTEXT: _, ...env } = process.env;
    const r = spawnSync(process.execPath, ['--test', '--test-reporter=tap', fileURLToPath(import.meta.url)], { env: { ...env, DAT_NATIVE_KERNELS_SCALAR: '1' }, encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 0, r.stdout.slice(-3000) + r.stderr.slice(-2000));
    assert.match(r.stdout, /^# fail 0$/m);
  });
});

describe('loadNativeKernels', () => {
  const dir = mkdtempSync(join(tmpdir(), 'native-kernels-'));
  const broken = join(dir, 'broken.node');
  writeFileSync(broken, 'not a shared object');
  // An addon built from older sources: it loads, but lacks functions the TypeScript now calls.
  const stale = join(dir, 'stale.js');
  writeFileSync(stale, 'module.exports = { encodeHalf() {}, decodeHalf() {} };');
  const cases = [
    { name: 'turned off', path: NATIVE_KERNELS_PATH, env: { DAT_NATIVE_KERNELS: '0' }, reason: /^off \(DAT_NATIVE_KERNELS=0\)$/ },
    { name: 'not built', path: join(dir, 'missing.node'), env: {}, reason: /^not built \(.*missing\.node; scripts\/build-native-kernels\.sh\)$/ },
    { name: 'a file that does not load', path: broken, env: {}, reason: /^does not load: / },
    { name: 'a stale build', path: stale, env: {}, reason: /^stale build without sumSquares, .*signEfDecode \(.*stale\.js; rerun scripts\/build-native-kernels\.sh\)$/ },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const status = loadNativeKernels(c.path, c.env);
      assert.equal(status.kernels, undefined);
      assert.match(status.reason, c.reason);
    });
  }
  test('cleanup', () => rmSync(dir, { recursive: true, force: true }));
});
