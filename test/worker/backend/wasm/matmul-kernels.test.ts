import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { swapLastTwoAxes, TransposeCache } from '../../../../worker/backend/wasm/matmul-kernels.js';
import { asWasmBackend } from '../../../../worker/backend/wasm/wasm-backend-handle.js';
import { buildWasmPrimitives } from '../../../../worker/backend/wasm/wasm-primitives.js';
import { initBackends, randomValues, testAgainstCpu } from '../_compare.js';

interface MatMulCase {
  readonly name: string;
  /** Shapes of a and b as stored (before the transpose flags apply). */
  readonly a: readonly number[];
  readonly b: readonly number[];
}

// Every case runs with all four transpose combinations; shapes are given for
// the untransposed product and swapped per flag below.
const CASES: readonly MatMulCase[] = [
  { name: '2-D square', a: [16, 16], b: [16, 16] },
  { name: '2-D dense-layer shaped', a: [5, 37], b: [37, 11] },
  { name: '2-D vector-ish', a: [1, 9], b: [9, 3] },
  { name: '3-D batch 1', a: [1, 6, 7], b: [1, 7, 4] },
  { name: '3-D batch 3', a: [3, 6, 7], b: [3, 7, 4] },
  { name: '3-D broadcast b', a: [3, 5, 4], b: [1, 4, 6] },
];

function stored(shape: readonly number[], transpose: boolean): number[] {
  const s = [...shape];
  if (!transpose) return s;
  const n = s.length;
  [s[n - 2], s[n - 1]] = [s[n - 1] ?? 0, s[n - 2] ?? 0];
  return s;
}

const FLAGS = [
  [false, false],
  [true, false],
  [false, true],
  [true, true],
] as const;

describe('matmul kernels on wasm and tensorflow match the cpu backend', () => {
  before(initBackends);

  test('swapLastTwoAxes', () => {
    assert.deepEqual(swapLastTwoAxes(2), [1, 0]);
    assert.deepEqual(swapLastTwoAxes(4), [0, 1, 3, 2]);
  });

  for (const c of CASES) {
    for (const [ta, tb] of FLAGS) {
      testAgainstCpu(`BatchMatMul ${c.name} transposeA=${ta} transposeB=${tb}`, () =>
        tf.matMul(randomValues(stored(c.a, ta), 1), randomValues(stored(c.b, tb), 2), ta, tb),
      );
    }
  }

  for (const [ta, tb] of FLAGS) {
    testAgainstCpu(`_FusedMatMul bias+relu transposeA=${ta} transposeB=${tb}`, () =>
        tf.fused.matMul({
          a: randomValues(stored([6, 9], ta), 3),
          b: randomValues(stored([9, 5], tb), 4),
          transposeA: ta,
          transposeB: tb,
          bias: randomValues([5], 5),
          activation: 'relu',
        }),
    );
  }

  testAgainstCpu('dense-layer gradients (the transposed products) match', () => {
      const x = randomValues([8, 20], 6);
      const w = randomValues([20, 7], 7);
      const b = randomValues([7], 8);
      const f = (xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor): tf.Tensor =>
        tf.fused.matMul({ a: xx as tf.Tensor2D, b: ww as tf.Tensor2D, bias: bb, activation: 'relu' }).square().sum();
      return tf.grads(f)([x, w, b]);
  });

  // Several products with the same W (cache hits), then with an updated W (a new tensor).
  testAgainstCpu('dy x W^T stays right across weight updates (transpose cache keyed by tensor)', () => {
      const dy = randomValues([6, 5], 9);
      const w1 = randomValues([8, 5], 10);
      const w2 = w1.add(0.5);
      return [tf.matMul(dy, w1, false, true), tf.matMul(dy.mul(2), w1, false, true), tf.matMul(dy, w2, false, true)];
  });

  test('TransposeCache reuses a copy while its source lives and frees it after', async () => {
    await tf.setBackend('wasm');
    const backend = asWasmBackend(tf.backend());
    const unused = (): never => {
      throw new Error('not used by TransposeCache');
    };
    const transpose = tf.getKernel('Transpose', 'wasm')?.kernelFunc;
    assert.ok(transpose);
    const prims = buildWasmPrimitives({ batchMatMul: unused, fusedMatMul: unused, conv2d: unused, identity: unused, tile: unused, transpose });
    const cache = new TransposeCache();
    const w = tf.tensor2d([[1, 2, 3], [4, 5, 6]]);
    const first = cache.get(backend, prims, w);
    assert.equal(cache.get(backend, prims, w), first, 'second lookup must hit');
    assert.deepEqual(Array.from(backend.typedArrayFromHeap(first)), [1, 4, 2, 5, 3, 6]);
    w.dispose();
    const other = tf.tensor2d([[7, 8]]);
    cache.get(backend, prims, other);
    assert.equal(cache.size, 1, 'the disposed source must have been dropped');
    other.dispose();
  });
});
