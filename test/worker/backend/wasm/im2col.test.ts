import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { backend_util } from '@tensorflow/tfjs';
import { buildConvGeometry, col2imRows, im2colCols, im2colRows, isPointwiseIdentity, patchCols, patchRows, type ConvGeometry } from '../../../../worker/backend/wasm/im2col.js';

function geometry(x: [number, number, number, number], k: number, stride: number, pad: 'same' | 'valid', dilation = 1): ConvGeometry {
  return buildConvGeometry(backend_util.computeConv2DInfo(x, [k, k, x[3], 2], stride, dilation, pad));
}

/** Deterministic, distinct, non-zero values. */
function ramp(n: number, mul: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => ((i * mul) % 97) - 48.5);
}

const CASES = [
  { name: '3x3 s1 same', g: geometry([2, 5, 6, 3], 3, 1, 'same') },
  { name: '4x4 s2 same', g: geometry([1, 9, 8, 2], 4, 2, 'same') },
  { name: '2x2 s2 valid', g: geometry([2, 6, 7, 1], 2, 2, 'valid') },
  { name: '3x3 s1 same dilation 2', g: geometry([1, 7, 7, 2], 3, 1, 'same', 2) },
  { name: '1x1 s1 valid', g: geometry([2, 3, 3, 4], 1, 1, 'valid') },
];

describe('im2col', () => {
  test('the geometry of a 4x4 stride-2 same convolution on 28x28', () => {
    const g = geometry([3, 28, 28, 1], 4, 2, 'same');
    assert.deepEqual([g.outH, g.outW, g.padTop, g.padLeft, patchRows(g), patchCols(g)], [14, 14, 1, 1, 3 * 14 * 14, 16]);
  });

  test('isPointwiseIdentity', () => {
    assert.equal(isPointwiseIdentity(geometry([1, 4, 4, 2], 1, 1, 'valid')), true);
    assert.equal(isPointwiseIdentity(geometry([1, 4, 4, 2], 1, 2, 'valid')), false);
    assert.equal(isPointwiseIdentity(geometry([1, 4, 4, 2], 3, 1, 'same')), false);
  });

  for (const c of CASES) {
    const m = patchRows(c.g);
    const k = patchCols(c.g);
    const xSize = c.g.batch * c.g.inH * c.g.inW * c.g.inC;

    test(`im2colCols is the transpose of im2colRows (${c.name})`, () => {
      const x = ramp(xSize, 7);
      const rows = new Float32Array(m * k).fill(NaN);
      const cols = new Float32Array(m * k).fill(NaN);
      im2colRows(x, c.g, rows);
      im2colCols(x, c.g, cols);
      for (let i = 0; i < m; i++) for (let j = 0; j < k; j++) assert.equal(cols[j * m + i], rows[i * k + j], `row ${i} col ${j}`);
    });

    test(`col2im is the adjoint of im2col: <im2col(x), d> = <x, col2im(d)> (${c.name})`, () => {
      const x = ramp(xSize, 5);
      const d = ramp(m * k, 11);
      const rows = new Float32Array(m * k);
      im2colRows(x, c.g, rows);
      const back = new Float32Array(xSize).fill(NaN);
      col2imRows(d, c.g, back);
      let lhs = 0;
      let rhs = 0;
      for (let i = 0; i < m * k; i++) lhs += (rows[i] ?? 0) * (d[i] ?? 0);
      for (let i = 0; i < xSize; i++) rhs += (x[i] ?? 0) * (back[i] ?? 0);
      assert.ok(Math.abs(lhs - rhs) <= 1e-6 * Math.abs(lhs), `${lhs} != ${rhs}`);
    });
  }
});
