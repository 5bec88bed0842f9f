/** The ring's float32 kernels against a plain per-element reference: sums, float32 rounding, overflow, NaN positions. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addIntoChecked, copyChecked, firstNonFinite, sumIntoChecked } from '../../../worker/comm/reduce-kernels.js';

const MAX_F32 = 3.4028234663852886e38;

test('addIntoChecked and sumIntoChecked match float32 += and name the first non-finite sum', () => {
  const cases: Array<{ name: string; dst: number[]; src: number[]; want: number }> = [
    { name: 'finite', dst: [1, 2.5, -3], src: [0.1, 0.2, 0.3], want: -1 },
    { name: 'float32 rounding', dst: [16777216, 1e-8], src: [1, 1], want: -1 },
    { name: 'overflow to +Inf', dst: [0, MAX_F32, MAX_F32], src: [0, MAX_F32, 0], want: 1 },
    { name: 'NaN from the source', dst: [1, 2, 3, 4], src: [0, 0, NaN, Infinity], want: 2 },
    { name: 'Inf - Inf', dst: [Infinity], src: [-Infinity], want: 0 },
    { name: 'empty', dst: [], src: [], want: -1 },
  ];
  for (const c of cases) {
    const dst = Float32Array.from(c.dst);
    const ref = Float32Array.from(c.dst);
    for (let i = 0; i < ref.length; i++) ref[i] += c.src[i]!;
    assert.equal(addIntoChecked(dst, Float32Array.from(c.src)), c.want, c.name);
    assert.deepEqual(dst, ref, `${c.name}: -want +got`);
    const fresh = new Float32Array(c.dst.length);
    assert.equal(sumIntoChecked(fresh, Float32Array.from(c.dst), Float32Array.from(c.src)), c.want, `${c.name} (sumInto)`);
    assert.deepEqual(fresh, ref, `${c.name} (sumInto): -want +got`);
  }
});

test('firstNonFinite and copyChecked find NaN and both infinities at any position', () => {
  const cases: Array<{ name: string; input: number[]; want: number }> = [
    { name: 'finite', input: [0, -0, 1e-45, MAX_F32, -MAX_F32], want: -1 },
    { name: 'NaN first', input: [NaN, 1], want: 0 },
    { name: '-Inf last', input: [1, 2, -Infinity], want: 2 },
    { name: 'two bad, first wins', input: [1, Infinity, NaN], want: 1 },
  ];
  for (const c of cases) {
    const src = Float32Array.from(c.input);
    assert.equal(firstNonFinite(src), c.want, c.name);
    const dst = new Float32Array(src.length);
    assert.equal(copyChecked(dst, src), c.want, `${c.name} (copy)`);
    assert.deepEqual(dst, src, `${c.name}: copied`);
  }
});

test('addIntoChecked refuses a source shorter than the destination', () => {
  assert.throws(() => addIntoChecked(new Float32Array(4), new Float32Array(3)), /shorter/);
});
