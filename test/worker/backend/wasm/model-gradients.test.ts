// One training-mode gradient step per model on wasm against the cpu backend:
// the loss, its gradient w.r.t. every weight, and w.r.t. the input (what the
// attacks need). Any kernel missing on wasm fails here with "not registered".
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackends, maxAbsDiff, REL_TOL, runOn } from '../_compare.js';
import { buildMadryCnn, buildMlp, buildPreactResnet, buildSmallCnn } from '../_models.js';

interface ModelCase {
  readonly name: string;
  readonly build: () => tf.LayersModel;
  readonly input: readonly number[];
}

const CASES: readonly ModelCase[] = [
  { name: 'mlp', build: buildMlp, input: [4, 28, 28, 1] },
  { name: 'small-cnn', build: buildSmallCnn, input: [4, 28, 28, 1] },
  { name: 'madry-cnn', build: buildMadryCnn, input: [3, 28, 28, 1] },
  { name: 'preact-resnet', build: buildPreactResnet, input: [3, 32, 32, 3] },
];

/** Loss, d loss/d input, then d loss/d each trainable weight (in model order). */
function gradientStep(model: tf.LayersModel, inputShape: readonly number[]): tf.Tensor[] {
  const batch = inputShape[0] ?? 0;
  const x = tf.randomUniform([...inputShape], 0, 1, 'float32', 42);
  const y = tf.oneHot(tf.tensor1d(Array.from({ length: batch }, (_, i) => (i * 3) % 10), 'int32'), 10);
  const loss = (inp: tf.Tensor): tf.Scalar => tf.losses.softmaxCrossEntropy(y, model.apply(inp, { training: true }) as tf.Tensor) as tf.Scalar;
  const dx = tf.grad(loss)(x);
  const weights = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const { value, grads } = tf.variableGrads(() => loss(x), weights);
  return [value, dx, ...weights.map((w) => grads[w.name] ?? tf.scalar(NaN))];
}

describe('one gradient step per model on wasm matches cpu', () => {
  before(initBackends);

  for (const c of CASES) {
    test(c.name, async () => {
      await tf.setBackend('cpu');
      const model = c.build();
      const want = await runOn('cpu', () => gradientStep(model, c.input));
      const got = await runOn('wasm', () => gradientStep(model, c.input));
      // Per output, so a small gradient is not hidden behind a large one.
      want.forEach((w, i) => {
        const { diff, scale } = maxAbsDiff([w], [got[i] ?? new Float32Array()]);
        assert.ok(diff <= REL_TOL * Math.max(1, scale), `output ${i}: max |diff| ${diff} > tol for scale ${scale}`);
      });
      await tf.setBackend('wasm');
      const before = tf.memory().numTensors;
      tf.dispose(tf.tidy(() => gradientStep(model, c.input)));
      assert.equal(tf.memory().numTensors, before, 'tensors leaked by a wasm gradient step');
      model.dispose();
    });
  }
});
