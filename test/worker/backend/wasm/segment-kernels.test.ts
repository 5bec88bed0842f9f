import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { COMPARED_BACKENDS, initBackends, REFERENCE_BACKEND, skipIfUnavailable, type AgainstCpuOptions } from '../_compare.js';

describe('UnsortedSegmentSum on wasm and tensorflow', () => {
  before(initBackends);

  const cases: readonly { name: string; x: number[] | number[][]; ids: number[]; numSegments: number; want: number[] | number[][]; exclude?: AgainstCpuOptions['exclude'] }[] = [
    {
      name: '1-D ids over rows, out-of-range ids dropped',
      x: [[1, 2], [3, 4], [5, 6], [7, 8]],
      ids: [2, 0, 2, -1],
      numSegments: 3,
      want: [[3, 4], [0, 0], [6, 8]],
    },
    {
      name: 'scalar rows, id past the end dropped',
      x: [1, 10, 100, 1000],
      ids: [1, 1, 0, 5],
      numSegments: 2,
      want: [100, 11],
      // gather's gradient (the project's only use) never produces such ids.
      exclude: { tensorflow: 'TF rejects segment ids >= numSegments instead of dropping them' },
    },
  ];
  for (const c of cases) {
    for (const backend of [REFERENCE_BACKEND, ...COMPARED_BACKENDS] as const) {
      test(`${c.name} [${backend}]`, async (t) => {
        if (backend !== REFERENCE_BACKEND) {
          const excluded = c.exclude?.[backend];
          if (excluded !== undefined) {
            t.skip(excluded);
            return;
          }
          if (skipIfUnavailable(t, backend)) return;
        }
        await tf.setBackend(backend);
        const got = tf.tidy(() => tf.unsortedSegmentSum(tf.tensor(c.x), tf.tensor1d(c.ids, 'int32'), c.numSegments).arraySync());
        assert.deepEqual(got, c.want);
      });
    }
  }
});
