import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { squareAttack, squareFraction } from '../../../../worker/eval/attacks/square-attack.js';
import { tinyModel, SHAPE } from './_fixtures.js';

await tf.setBackend('cpu');

test('square: every query stays inside the eps-ball and [0, 1]', async () => {
  const inner = tinyModel();
  // Every example is the same image, so any subset of a query batch can be checked against it.
  const image = tf.tidy(() => tf.clipByValue(tf.randomUniform([1, ...SHAPE], -0.5, 1.5, 'float32', 4), 0, 1) as tf.Tensor4D);
  const n = 10;
  const x = tf.tidy(() => tf.tile(image, [n, 1, 1, 1]) as tf.Tensor4D);
  // Labels the model gets right, so the attack has work to do.
  const y = tf.tidy(() => tf.argMax(inner.apply(x) as tf.Tensor2D, 1).toInt() as tf.Tensor1D);
  const eps = 0.02;
  let queries = 0;
  let worst = 0;
  let outOfRange = 0;
  // A spy around the real model: records every input the attack queries.
  const spy = {
    outputs: inner.outputs,
    apply: (q: tf.Tensor, kw: unknown) => {
      const [d, lo, hi] = tf.tidy(() => [tf.max(tf.abs(tf.sub(q, image))), tf.min(q), tf.max(q)].map((t) => t.dataSync()[0]!));
      queries++;
      worst = Math.max(worst, d!);
      if (lo! < 0 || hi! > 1) outOfRange++;
      return inner.apply(q, kw as { training: boolean });
    },
  } as unknown as tf.LayersModel;
  (await squareAttack(spy, x, y, eps, 9, { queries: 200 })).dispose();
  assert.ok(queries > 10, `only ${queries} queries`);
  assert.ok(worst <= eps + 1e-6, `a query was ${worst} from x (eps ${eps})`);
  assert.equal(outOfRange, 0);
  tf.dispose([image, x, y]);
});

test('square: the square shrinks on AutoAttack schedule', () => {
  const cases = [
    { i: 0, want: 0.8 },
    { i: 5, want: 0.8 }, // it = 10: still p_init
    { i: 6, want: 0.4 }, // it = 12
    { i: 2500, want: 0.8 / 128 }, // it = 5000: 4000 < it <= 6000
    { i: 4999, want: 0.8 / 512 },
  ];
  for (const c of cases) assert.equal(squareFraction(c.i, 5000, 0.8), c.want, `query ${c.i}`);
});
