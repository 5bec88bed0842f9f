import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeScaledSigns, encodeScaledSigns, packSigns, unpackSigns } from '../../../../worker/comm/compression/bit-pack.js';

const cases = [
  { name: 'empty', input: [] as number[] },
  { name: 'one negative', input: [-1] },
  { name: 'zero counts as +1', input: [0, -0.5, 3] },
  { name: 'exactly one byte', input: [1, -1, 1, -1, 1, -1, 1, -1] },
  { name: 'spills into a second byte', input: [1, 1, -2, 1, -3, -3, 4, 4, -5] },
];

for (const c of cases) {
  test(`sign bit packing round trip: ${c.name}`, () => {
    const x = Float32Array.from(c.input);
    const bits = packSigns(x);
    assert.equal(bits.length, Math.ceil(x.length / 8), '1 bit per value on the wire');
    const want = Float32Array.from(c.input, (v) => (v >= 0 ? 1 : -1));
    assert.deepEqual(unpackSigns(bits, x.length), want);
    const block = encodeScaledSigns(0.25, x);
    const { scale, bits: b2 } = decodeScaledSigns(block, x.length);
    assert.equal(scale, 0.25);
    assert.deepEqual(unpackSigns(b2, x.length), want);
  });
}

test('decodeScaledSigns rejects a block of the wrong size', () => {
  assert.throws(() => decodeScaledSigns(new Uint8Array(5), 100), /expected 17/);
});
