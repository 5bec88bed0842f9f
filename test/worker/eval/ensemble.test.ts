import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { runEnsemble, type EnsembleStep } from '../../../worker/eval/ensemble.js';
import { DatError } from '../../../common/errors.js';

await tf.setBackend('cpu');

// A fixed linear 3-class model on [1, 1, 2] inputs: the class is the larger of the two pixels, or class 2 when both are small.
const model = tf.sequential({ layers: [tf.layers.flatten({ inputShape: [1, 1, 2] }), tf.layers.dense({ units: 3, useBias: true })] });
model.layers[1]!.setWeights([tf.tensor2d([[10, 0, 0], [0, 10, 0]]), tf.tensor1d([0, 0, 3])]);

const X = [
  [0.9, 0.1], // class 0
  [0.1, 0.9], // class 1
  [0.8, 0.2], // class 0
  [0.2, 0.1], // class 2
  [0.1, 0.1], // labelled 0 below: a clean mistake
];
const LABELS = [0, 1, 0, 2, 0];

/** Which row of X an input [1][1][2] is. */
function indexOf(r: number[][][]): number {
  return X.findIndex((p) => Math.abs(p[0]! - r[0]![0]![0]!) < 1e-6 && Math.abs(p[1]! - r[0]![0]![1]!) < 1e-6);
}

/** A mock attack that moves the examples with the listed pixel values to a point of the other class and records what it saw. */
function mockAttack(name: EnsembleStep['name'], breaks: readonly number[], seen: number[][]): EnsembleStep {
  return {
    name,
    run: async (_m, x) => {
      const rows = x.arraySync() as number[][][][];
      seen.push(rows.map(indexOf));
      return tf.tidy(() => {
        const flip = rows.map((r) => {
          const i = indexOf(r);
          // Swapping the two pixels changes class 0 ↔ 1; stays within eps = 0.8.
          return breaks.includes(i) ? [[[r[0]![0]![1]!, r[0]![0]![0]!]]] : r;
        });
        return tf.tensor4d(flip.flat(3), x.shape);
      });
    },
  };
}

test('ensemble: each attack sees only the still-robust examples and the result is the per-example worst case', async () => {
  const seen: number[][] = [];
  const x = tf.tensor4d(X.flat(), [X.length, 1, 1, 2]);
  const y = tf.tensor1d(LABELS, 'int32');
  const out = await runEnsemble(model, x, y, [mockAttack('apgd-ce', [0], seen), mockAttack('apgd-t', [1, 2], seen)], 0.8, () => 1);
  assert.deepEqual(Array.from(out.clean), [1, 1, 1, 1, 0]);
  // The first attack gets the 4 clean-correct examples; the second the 3 left.
  assert.deepEqual(seen, [
    [0, 1, 2, 3],
    [1, 2, 3],
  ]);
  assert.deepEqual(out.robustAfter.map((r) => Array.from(r)), [
    [0, 1, 1, 1, 0],
    [0, 0, 0, 1, 0],
  ]);
  tf.dispose([x, y]);
});

test('ensemble: an attack that leaves the eps-ball is reported as a bug, and nothing leaks', async () => {
  const x = tf.tensor4d(X.flat(), [X.length, 1, 1, 2]);
  const y = tf.tensor1d(LABELS, 'int32');
  const cheat: EnsembleStep = { name: 'square', run: async (_m, xs) => tf.tidy(() => tf.clipByValue(tf.add(xs, 0.5), 0, 1) as tf.Tensor4D) };
  const before = tf.memory().numTensors;
  await assert.rejects(runEnsemble(model, x, y, [cheat], 0.1, () => 1), (e: unknown) => e instanceof DatError && /square left the threat model/.test(e.message));
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([x, y]);
});

test('ensemble: at eps 0 no attack runs and every row is the clean accuracy', async () => {
  const x = tf.tensor4d(X.flat(), [X.length, 1, 1, 2]);
  const y = tf.tensor1d(LABELS, 'int32');
  const seen: number[][] = [];
  const before = tf.memory().numTensors;
  const out = await runEnsemble(model, x, y, [mockAttack('apgd-ce', [0, 1, 2], seen), mockAttack('square', [0, 1, 2], seen)], 0, () => 1);
  assert.deepEqual(seen, [], 'the ball at eps 0 is x itself: nothing to attack');
  assert.deepEqual(out.robustAfter.map((r) => Array.from(r)), [Array.from(out.clean), Array.from(out.clean)]);
  assert.deepEqual(Array.from(out.clean), [1, 1, 1, 1, 0]);
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([x, y]);
});
