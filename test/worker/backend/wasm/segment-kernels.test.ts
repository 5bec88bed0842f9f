import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackends } from '../_compare.js';

describe('UnsortedSegmentSum on wasm', () => {
  before(initBackends);

  const cases = [
    {
      name: '1-D ids over rows, out-of-range ids dropped',
      x: [[1, 2], [3, 4], [5, 6], [7, 8]],
      ids: [2, 0, 2, -1],
      numSegments: 3,
      want: [[3, 4], [0, 0], [6, 8]],
    },
    { name: 'scalar rows, id past the end dropped', x: [1, 10, 100, 1000], ids: [1, 1, 0, 5], numSegments: 2, want: [100, 11] },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      for (const backend of ['cpu', 'wasm'] as const) {
        await tf.setBackend(backend);
        const got = tf.tidy(() => tf.unsortedSegmentSum(tf.tensor(c.x), tf.tensor1d(c.ids, 'int32'), c.numSegments).arraySync());
        assert.deepEqual(got, c.want, `backend ${backend}`);
      }
    });
  }
});
