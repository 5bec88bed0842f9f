// Gradients of the ops that models, losses, attacks and optimisers use, on
// wasm and tensorflow against cpu. Most are the wasm backend's own kernels (a regression in
// the package is caught here); MaxPoolGrad and UnsortedSegmentSum (gather's
// gradient) are ours. Known gaps not used by this project's models:
// DepthwiseConv2dNativeBackprop* are missing and ResizeBilinearGrad returns a
// wrong shape on wasm 4.22.
import { before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { assertClose, initBackends, randomValues, runOn, skipIfUnavailable, testAgainstCpu, type AgainstCpuOptions } from '../_compare.js';

interface GradCase {
  readonly name: string;
  readonly shape: readonly number[];
  readonly f: (x: tf.Tensor) => tf.Tensor;
  /** Backends left out, with the reason. */
  readonly exclude?: AgainstCpuOptions['exclude'];
}

/**
 * tfjs's cpu (and stock wasm) AvgPoolGrad divides by the full window where
 * 'same' padding cuts it off, while the forward pass divides by the pixels
 * inside: TF's gradient is the right one (checked by hand below). No model
 * here average-pools with padding (global average pooling is a Mean).
 */
const CPU_AVGPOOL_SAME_GRAD_WRONG = { tensorflow: "tfjs cpu's AvgPoolGrad is wrong at 'same'-padded borders; TF's is checked against hand-computed values instead" };

const CASES: readonly GradCase[] = [
  { name: 'MaxPoolGrad 2x2 s2 valid', shape: [2, 8, 8, 3], f: (x) => tf.maxPool(x as tf.Tensor4D, 2, 2, 'valid') },
  { name: 'MaxPoolGrad 3x3 s2 same (odd)', shape: [2, 7, 9, 2], f: (x) => tf.maxPool(x as tf.Tensor4D, 3, 2, 'same') },
  { name: 'AvgPoolGrad 2x2 s2 valid', shape: [2, 8, 8, 3], f: (x) => tf.avgPool(x as tf.Tensor4D, 2, 2, 'valid') },
  { name: 'AvgPoolGrad 3x3 s1 same', shape: [1, 6, 5, 4], f: (x) => tf.avgPool(x as tf.Tensor4D, 3, 1, 'same'), exclude: CPU_AVGPOOL_SAME_GRAD_WRONG },
  { name: 'global average pooling (Mean over H,W)', shape: [3, 8, 8, 16], f: (x) => tf.mean(x, [1, 2]) },
  { name: 'ReluGrad', shape: [4, 33], f: (x) => tf.relu(x) },
  { name: 'Softmax grad', shape: [5, 10], f: (x) => tf.softmax(x) },
  { name: 'LogSoftmax grad', shape: [5, 10], f: (x) => tf.logSoftmax(x) },
  { name: 'clipByValue', shape: [4, 10], f: (x) => tf.clipByValue(x, -0.5, 0.5) },
  { name: 'minimum/maximum (L-inf projection)', shape: [4, 10], f: (x) => tf.minimum(tf.maximum(x, -0.3), 0.7) },
  { name: 'sign * x (FGSM step)', shape: [4, 10], f: (x) => tf.sign(x).mul(x) },
  { name: 'L2 normalisation (PGD-L2 step)', shape: [4, 10], f: (x) => x.div(x.square().sum(1, true).sqrt().add(1e-12)) },
  { name: 'norm', shape: [4, 10], f: (x) => tf.norm(x, 2, 1) },
  { name: 'KL divergence (TRADES)', shape: [4, 10], f: (x) => tf.softmax(x).mul(tf.logSoftmax(x).sub(tf.logSoftmax(x.mul(2)))) },
  { name: 'softmax cross-entropy', shape: [4, 10], f: (x) => tf.losses.softmaxCrossEntropy(tf.oneHot(tf.tensor1d([1, 2, 3, 4], 'int32'), 10), x) },
  { name: 'gather (UnsortedSegmentSum)', shape: [5, 6], f: (x) => tf.gather(x, tf.tensor1d([0, 2, 2, 4], 'int32')) },
  { name: 'gather axis 1 (UnsortedSegmentSum)', shape: [3, 7], f: (x) => tf.gather(x, tf.tensor1d([6, 0, 6], 'int32'), 1) },
  { name: 'pad/slice/reverse (augmentation)', shape: [2, 6, 6, 3], f: (x) => tf.reverse(tf.slice(tf.pad(x, [[0, 0], [2, 2], [2, 2], [0, 0]]), [0, 1, 3, 0], [2, 6, 6, 3]), 2) },
  { name: 'exp/log/sqrt/pow', shape: [4, 10], f: (x) => tf.log(tf.exp(x).add(1)).add(tf.sqrt(x.abs().add(0.1))).add(tf.pow(x.abs().add(0.1), 2.5)) },
  { name: 'max and logSumExp', shape: [4, 10], f: (x) => tf.max(x, 1).add(tf.logSumExp(x, 1)) },
  {
    name: 'batch-norm (training statistics) grad',
    shape: [4, 5, 5, 6],
    f: (x) => {
      const { mean, variance } = tf.moments(x, [0, 1, 2]);
      return tf.batchNorm(x, mean, variance, randomValues([6], 11), randomValues([6], 12), 1e-3);
    },
  },
];

describe('pooling, normalisation and activation gradients on wasm and tensorflow match the cpu backend', () => {
  before(initBackends);

  for (const c of CASES) {
    testAgainstCpu(
      c.name,
      () => {
        const x = randomValues(c.shape, 1);
        const y = c.f(x);
        const up = randomValues(y.shape, 2);
        return [y, tf.grad((xx: tf.Tensor) => c.f(xx))(x, up)];
      },
      { exclude: c.exclude },
    );
  }

  test('AvgPoolGrad 3x3 s1 same on tensorflow divides by the pixels inside each window', async (t) => {
    if (skipIfUnavailable(t, 'tensorflow')) return;
    // 3x3 ones: a corner is in windows of 4, 6, 6 and 9 pixels; an edge pixel in 4, 4, 6, 6, 6, 9; the centre in all nine.
    const [got] = await runOn('tensorflow', () => tf.grad((x: tf.Tensor) => tf.avgPool(x as tf.Tensor4D, 3, 1, 'same'))(tf.ones([1, 3, 3, 1])));
    const corner = 1 / 4 + 2 / 6 + 1 / 9;
    const edge = 2 / 4 + 3 / 6 + 1 / 9;
    const centre = 4 / 4 + 4 / 6 + 1 / 9;
    const want = [corner, edge, corner, edge, centre, edge, corner, edge, corner];
    assertClose([Float32Array.from(want)], [got ?? new Float32Array()]);
  });
});
