// One training-mode gradient step per model on wasm and native tensorflow
// against the cpu backend: the loss, its gradient w.r.t. every weight, and
// w.r.t. the input (what the attacks need). Any kernel missing on a backend
// fails here with "not registered".
import { after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { assertEachClose, initBackends, testAgainstCpu } from '../_compare.js';
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

describe('one gradient step per model on wasm and tensorflow matches cpu', () => {
  before(initBackends);

  const built: tf.LayersModel[] = [];
  after(() => built.forEach((m) => m.dispose()));

  for (const c of CASES) {
    // One model per case, shared by its tests: seeded weights, moved to each backend on first use there.
    let model: tf.LayersModel | undefined;
    const get = (): tf.LayersModel => {
      if (model === undefined) {
        model = c.build();
        built.push(model);
      }
      return model;
    };
    testAgainstCpu(c.name, () => gradientStep(get(), c.input), {
      check: assertEachClose,
      after: async (backend) => {
        await tf.setBackend(backend);
        const before = tf.memory().numTensors;
        tf.dispose(tf.tidy(() => gradientStep(get(), c.input)));
        assert.equal(tf.memory().numTensors, before, `tensors leaked by a ${backend} gradient step`);
      },
    });
  }
});
