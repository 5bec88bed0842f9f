import { test } from 'node:test';
import assert from 'node:assert/strict';
import { concatSplits, exampleSize, gatherBatch, subsetSplit } from '../../../worker/data/split-ops.js';
import type { Split } from '../../../worker/data/types.js';
import { ConfigError } from '../../../common/errors.js';

/** A split whose example i has pixels [i, i + 0.5] and label i mod 10. */
function makeSplit(n: number, offset = 0): Split {
  const x = new Float32Array(n * 2);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    x[2 * i] = offset + i;
    x[2 * i + 1] = offset + i + 0.5;
    y[i] = (offset + i) % 10;
  }
  return { n, x, y };
}

test('gatherBatch copies the examples at the given indices, in order', () => {
  const s = makeSplit(10);
  const b = gatherBatch(s, [7, 2, 2]);
  assert.equal(b.n, 3);
  assert.deepEqual([...b.x], [7, 7.5, 2, 2.5, 2, 2.5]);
  assert.deepEqual([...b.y], [7, 2, 2]);
});

test('gatherBatch reuses buffers that are large enough and allocates otherwise', () => {
  const s = makeSplit(10);
  const out = { x: new Float32Array(8), y: new Int32Array(4) };
  const b = gatherBatch(s, Int32Array.from([1, 3]), out);
  assert.equal(b.x.buffer, out.x.buffer);
  assert.equal(b.x.length, 4);
  assert.deepEqual([...b.y], [1, 3]);
  const big = gatherBatch(s, [0, 1, 2, 3, 4], out);
  assert.notEqual(big.x.buffer, out.x.buffer);
  assert.equal(big.n, 5);
});

test('gatherBatch rejects an out-of-range index', () => {
  assert.throws(() => gatherBatch(makeSplit(3), [3]), ConfigError);
  assert.throws(() => gatherBatch(makeSplit(3), [-1]), /example index -1 out of range \[0, 3\)/);
});

test('subsetSplit and concatSplits', () => {
  const a = makeSplit(4);
  const b = makeSplit(3, 100);
  const c = concatSplits(a, { n: 0, x: new Float32Array(0), y: new Int32Array(0) }, b);
  assert.equal(c.n, 7);
  assert.equal(exampleSize(c), 2);
  assert.deepEqual([...c.y], [0, 1, 2, 3, 0, 1, 2]);
  assert.deepEqual([...subsetSplit(c, [4, 0]).x], [100, 100.5, 0, 0.5]);
  const wide: Split = { n: 1, x: new Float32Array(3), y: new Int32Array(1) };
  assert.throws(() => concatSplits(a, wide), /cannot concatenate splits with 3 and 2 values per example/);
});
