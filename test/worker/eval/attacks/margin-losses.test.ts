import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { dlrLoss, marginLoss, rankedClass, targetedDlrLoss } from '../../../../worker/eval/attacks/margin-losses.js';

await tf.setBackend('cpu');

// Logits sorted descending: 5 (class 1), 3 (class 2), 2 (class 3), 1 (class 0), 0 (class 4).
const LOGITS = [1, 5, 3, 2, 0];
const TOL = 1e-6;

function values(f: () => tf.Tensor): number[] {
  const t = tf.tidy(f);
  const out = Array.from(t.dataSync());
  t.dispose();
  return out;
}

const cases = [
  // −(z_y − max_{j≠y} z_j) / (π1 − π3)
  { name: 'dlr, true class second', fn: 'dlr', y: 2, want: -(3 - 5) / (5 - 2) },
  { name: 'dlr, true class on top', fn: 'dlr', y: 1, want: -(5 - 3) / (5 - 2) },
  // −(z_y − z_t) / (π1 − (π3 + π4) / 2)
  { name: 'targeted dlr towards class 0', fn: 'dlr-t', y: 2, t: 0, want: -(3 - 1) / (5 - (2 + 1) / 2) },
  { name: 'targeted dlr towards the top class', fn: 'dlr-t', y: 2, t: 1, want: -(3 - 5) / (5 - (2 + 1) / 2) },
  { name: 'margin, misclassified', fn: 'margin', y: 2, want: 3 - 5 },
  { name: 'margin, correct', fn: 'margin', y: 1, want: 5 - 3 },
] as const;

for (const c of cases) {
  test(`margin losses: ${c.name} matches the hand-computed value`, () => {
    const [got] = values(() => {
      const logits = tf.tensor2d([LOGITS]);
      const y = tf.tensor1d([c.y], 'int32');
      if (c.fn === 'dlr') return dlrLoss(logits, y);
      if (c.fn === 'margin') return marginLoss(logits, y);
      return targetedDlrLoss(logits, y, tf.tensor1d([c.t], 'int32'));
    });
    assert.ok(Math.abs(got! - c.want) < TOL, `-want ${c.want} +got ${got}`);
  });
}

test('margin losses: the DLR losses are shift- and scale-invariant', () => {
  const [a, b] = values(() => {
    const y = tf.tensor1d([2], 'int32');
    const base = tf.tensor2d([LOGITS]);
    return tf.concat([targetedDlrLoss(base, y, tf.tensor1d([0], 'int32')), targetedDlrLoss(tf.add(tf.mul(base, 7), 3), y, tf.tensor1d([0], 'int32'))]);
  });
  assert.ok(Math.abs(a! - b!) < TOL, `${a} vs ${b}`);
});

test('margin losses: the targeted DLR gradient matches finite differences', () => {
  const y = tf.tensor1d([2], 'int32');
  const t = tf.tensor1d([0], 'int32');
  const loss = (z: tf.Tensor): tf.Scalar => tf.sum(targetedDlrLoss(z as tf.Tensor2D, y, t));
  const grad = values(() => tf.grad(loss)(tf.tensor2d([LOGITS])));
  const h = 1e-2;
  LOGITS.forEach((_, k) => {
    const bumped = (s: number): number => values(() => loss(tf.tensor2d([LOGITS.map((v, j) => (j === k ? v + s * h : v))])))[0]!;
    const fd = (bumped(1) - bumped(-1)) / (2 * h);
    assert.ok(Math.abs(fd - grad[k]!) < 1e-3, `class ${k}: finite difference ${fd}, gradient ${grad[k]}`);
  });
  tf.dispose([y, t]);
});

test('margin losses: rankedClass picks the classes in decreasing logit order', () => {
  const got = [1, 2, 3, 4].map((r) => values(() => rankedClass(tf.tensor2d([LOGITS]), r))[0]);
  assert.deepEqual(got, [2, 3, 0, 4]);
});
