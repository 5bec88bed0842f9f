import { before, describe } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackends, testAgainstCpu } from '../_compare.js';

interface TileCase {
  readonly name: string;
  readonly shape: readonly number[];
  readonly reps: readonly number[];
  readonly dtype: 'float32' | 'int32' | 'bool';
}

const CASES: readonly TileCase[] = [
  { name: 'batch-norm broadcast [1,1,1,C] -> [N,H,W,C]', shape: [1, 1, 1, 5], reps: [3, 4, 2, 1], dtype: 'float32' },
  { name: 'inner axis repeated', shape: [2, 3], reps: [1, 4], dtype: 'float32' },
  { name: 'every axis repeated, odd counts', shape: [2, 3, 2], reps: [3, 1, 5], dtype: 'float32' },
  { name: 'reps all 1 (a copy)', shape: [4, 3], reps: [1, 1], dtype: 'float32' },
  { name: '1-D', shape: [7], reps: [6], dtype: 'float32' },
  { name: 'int32', shape: [2, 1, 3], reps: [2, 3, 2], dtype: 'int32' },
  { name: 'bool', shape: [3, 2], reps: [2, 3], dtype: 'bool' },
  { name: 'zero-size output', shape: [2, 3], reps: [0, 2], dtype: 'float32' },
];

/** Tile only copies, so every backend must give the very same values. */
function exact(want: readonly Float32Array[], got: readonly Float32Array[]): void {
  assert.deepEqual(got, want);
}

describe('Tile on wasm and tensorflow matches cpu exactly', () => {
  before(initBackends);

  for (const c of CASES) {
    const n = c.shape.reduce((a, b) => a * b, 1);
    testAgainstCpu(
      c.name,
      () => {
        const values: number[] | boolean[] =
          c.dtype === 'bool' ? Array.from({ length: n }, (_, i) => i % 3 === 0) : Array.from({ length: n }, (_, i) => i * 7 - 3);
        return tf.tile(tf.tensor(values, [...c.shape], c.dtype), [...c.reps]);
      },
      { check: exact },
    );
  }

  testAgainstCpu('tile gradient (a sum over the repeats) matches', () => tf.grad((x: tf.Tensor) => tf.tile(x, [2, 3, 1]).square().sum())(tf.tensor3d([[[1, 2]], [[3, -4]]])), {
    check: exact,
  });
});
