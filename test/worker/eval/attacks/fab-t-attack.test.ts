import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { fabTargetedRun, projectLinfHyperplane } from '../../../../worker/eval/attacks/fab-t-attack.js';

await tf.setBackend('cpu');

const D = 16;

/** A linear 2-class model on [4, 4, 1] inputs: z = W x + b. */
function linearModel(w0: number[], w1: number[], b: [number, number]): tf.LayersModel {
  const model = tf.sequential({ layers: [tf.layers.flatten({ inputShape: [4, 4, 1] }), tf.layers.dense({ units: 2 })] });
  const kernel = tf.tensor2d(Array.from({ length: D }, (_, i) => [w0[i]!, w1[i]!]));
  model.layers[1]!.setWeights([kernel, tf.tensor1d(b)]);
  kernel.dispose();
  return model;
}

test('fab-t: finds the minimal L-inf perturbation of a linear model', async () => {
  const w0 = Array.from({ length: D }, (_, i) => Math.sin(i + 1));
  const w1 = Array.from({ length: D }, (_, i) => Math.cos(2 * i + 1));
  const model = linearModel(w0, w1, [0.3, 0]);
  const xs = [0.5, 0.45, 0.55].map((v) => Array.from({ length: D }, (_, i) => v + 0.01 * Math.sin(3 * i)));
  // Exact distance to z1 = z0 without the box: |g(x)| / ‖w1 − w0‖₁ (the box is inactive this close to 0.5).
  const wd = w1.map((v, i) => v - w0[i]!);
  const exact = xs.map((xi) => {
    const g = wd.reduce((s, v, i) => s + v * xi[i]!, 0) - 0.3;
    return Math.abs(g) / wd.reduce((s, v) => s + Math.abs(v), 0);
  });
  const x = tf.tensor4d(xs.flat(), [xs.length, 4, 4, 1]);
  const pred = tf.tidy(() => tf.argMax(model.apply(x) as tf.Tensor2D, 1).toInt() as tf.Tensor1D);
  const target = tf.tidy(() => tf.sub(1, pred).toInt() as tf.Tensor1D);
  const { adv, dist } = await fabTargetedRun(model, x, pred, target, { steps: 100 });
  const flipped = tf.tidy(() => tf.notEqual(tf.argMax(model.apply(adv) as tf.Tensor2D, 1).toInt(), pred).dataSync());
  exact.forEach((e, i) => {
    assert.equal(flipped[i], 1, `example ${i} not flipped`);
    assert.ok(dist[i]! >= e * (1 - 1e-3) && dist[i]! <= e * 1.01, `example ${i}: exact ${e}, found ${dist[i]}`);
  });
  tf.dispose([x, pred, target, adv]);
});

test('fab-t: the hyperplane projection is exact and respects the box', () => {
  const cases = [
    // w·z = b from p = 0.5: |c| = 0.5, ‖w‖₁ = 2 → step 0.25 on every coordinate.
    { name: 'interior', p: [0.5, 0.5], w: [1, 1], b: 1.5, want: [0.25, 0.25] },
    // Coordinate 0 can rise only 0.1; coordinate 1 makes up the rest: 0.1 + t = 0.5 → t = 0.4.
    { name: 'box active', p: [0.9, 0.5], w: [1, 1], b: 1.9, want: [0.1, 0.4] },
    { name: 'negative direction', p: [0.5, 0.5], w: [1, -1], b: -0.5, want: [-0.25, 0.25] },
  ];
  for (const c of cases) {
    const got = tf.tidy(() => projectLinfHyperplane(tf.tensor2d([c.p]), tf.tensor2d([c.w]), tf.tensor1d([c.b])).dataSync());
    c.want.forEach((v, i) => assert.ok(Math.abs(got[i]! - v) < 1e-6, `${c.name}: -want ${c.want} +got ${Array.from(got)}`));
  }
});
