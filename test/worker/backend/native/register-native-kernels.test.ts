import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { NATIVE_BACKEND_NAME, needsStridedPointwiseWorkaround } from '../../../../worker/backend/native/conv2d-backprop-filter-kernel.js';
import { eigenBackpropInputPadding, MAX_EIGEN_INPUT_CHANNELS } from '../../../../worker/backend/native/conv2d-backprop-input-kernel.js';
import { NATIVE_KERNEL_FIXES, registerNativeKernelFixes } from '../../../../worker/backend/native/register-native-kernels.js';
import { initBackends, runOn, skipIfUnavailable } from '../_compare.js';

describe('native backend kernels: Conv2DBackpropFilter fix, Conv2DBackpropInput and Step', () => {
  before(initBackends);

  const cases = [
    { name: '1x1 stride 2 same', attrs: { filterShape: [1, 1, 8, 16], strides: 2, pad: 'same', dataFormat: 'NHWC' }, want: true },
    { name: '1x1 stride [1,2] valid', attrs: { filterShape: [1, 1, 8, 16], strides: [1, 2], pad: 'valid', dataFormat: 'NHWC' }, want: true },
    { name: '1x1 stride 1 (unaffected)', attrs: { filterShape: [1, 1, 8, 16], strides: 1, pad: 'same', dataFormat: 'NHWC' }, want: false },
    { name: '3x3 stride 2 (unaffected)', attrs: { filterShape: [3, 3, 8, 16], strides: 2, pad: 'same', dataFormat: 'NHWC' }, want: false },
    { name: 'explicit padding (tfjs-node rejects it itself)', attrs: { filterShape: [1, 1, 8, 16], strides: 2, pad: 1, dataFormat: 'NHWC' }, want: false },
    { name: 'NCHW', attrs: { filterShape: [1, 1, 8, 16], strides: 2, pad: 'same', dataFormat: 'NCHW' }, want: false },
  ];
  for (const c of cases) {
    test(`routes ${c.name}: ${c.want}`, () => assert.equal(needsStridedPointwiseWorkaround(c.attrs), c.want));
  }

  test('is registered on the tensorflow backend once, however often it is called', (t) => {
    if (skipIfUnavailable(t, 'tensorflow')) return;
    const name = NATIVE_KERNEL_FIXES.conv2DBackpropFilter;
    const first = tf.getKernel(name, NATIVE_BACKEND_NAME)?.kernelFunc;
    assert.ok(first, 'selecting the tensorflow backend must have registered the fix');
    const others = [NATIVE_KERNEL_FIXES.step, NATIVE_KERNEL_FIXES.conv2DBackpropInput].map((k) => tf.getKernel(k, NATIVE_BACKEND_NAME)?.kernelFunc);
    registerNativeKernelFixes();
    assert.equal(tf.getKernel(name, NATIVE_BACKEND_NAME)?.kernelFunc, first);
    assert.deepEqual(
      [NATIVE_KERNEL_FIXES.step, NATIVE_KERNEL_FIXES.conv2DBackpropInput].map((k) => tf.getKernel(k, NATIVE_BACKEND_NAME)?.kernelFunc),
      others,
    );
  });

  // Which Conv2DBackpropInput calls go to Eigen (explicit padding), with the padding tfjs computes.
  // The conv kernel table (wasm/conv2d-kernels.test.ts) compares the results with cpu on tensorflow.
  const inputGradCases = [
    { name: 'small-cnn conv1: 4x4/2 same, 1 channel', attrs: { inputShape: [2, 28, 28, 1], strides: 2, pad: 'same', dataFormat: 'NHWC' }, filter: [4, 4, 1, 16], want: [1, 1, 1, 1] },
    { name: 'madry conv1: 5x5/1 same', attrs: { inputShape: [2, 28, 28, 1], strides: [1, 1], pad: 'same', dataFormat: 'NHWC' }, filter: [5, 5, 1, 32], want: [2, 2, 2, 2] },
    { name: 'odd same padding puts the extra row at the bottom', attrs: { inputShape: [1, 9, 11, 3], strides: 2, pad: 'same', dataFormat: 'NHWC' }, filter: [4, 4, 3, 5], want: [1, 2, 1, 2] },
    { name: 'valid', attrs: { inputShape: [1, 10, 9, 2], strides: [2, 1], pad: 'valid', dataFormat: 'NHWC' }, filter: [3, 3, 2, 4], want: [0, 0, 0, 0] },
    { name: `${MAX_EIGEN_INPUT_CHANNELS + 1} channels stay on oneDNN`, attrs: { inputShape: [1, 8, 8, MAX_EIGEN_INPUT_CHANNELS + 1], strides: 1, pad: 'same', dataFormat: 'NHWC' }, filter: [3, 3, MAX_EIGEN_INPUT_CHANNELS + 1, 4], want: undefined },
    { name: 'numeric padding stays with tfjs-node', attrs: { inputShape: [1, 8, 8, 1], strides: 1, pad: 1, dataFormat: 'NHWC' }, filter: [3, 3, 1, 4], want: undefined },
    { name: 'NCHW stays with tfjs-node', attrs: { inputShape: [1, 1, 8, 8], strides: 1, pad: 'same', dataFormat: 'NCHW' }, filter: [3, 3, 1, 4], want: undefined },
  ];
  for (const c of inputGradCases) {
    test(`Conv2DBackpropInput routing: ${c.name}`, () => assert.deepEqual(eigenBackpropInputPadding(c.attrs, c.filter), c.want));
  }

  // ReLU's gradient (dy * step(x)) is compared with cpu in training-op-grads; this pins the edge values.
  const stepCases = [
    { name: 'ReLU step (alpha 0): NaN stays NaN, 0 and -0 give 0, infinities', alpha: 0, x: [NaN, -1, -0, 0, 2, Infinity, -Infinity], want: [NaN, 0, 0, 0, 1, 1, 0] },
    // TF runs 8 floats per vector instruction and the rest in a scalar loop, whose Relu leaves -0 as -0.
    { name: 'ReLU step (alpha 0): -0 in the vector part and in the scalar tail', alpha: 0, x: [-0, -0, 1e-30, -0, 0.5, -0, -0, 7, -0, -0, -0], want: [0, 0, 1, 0, 1, 0, 0, 1, 0, 0, 0] },
    { name: 'ReLU step (alpha 0): a denormal counts as 0 (TF flushes it)', alpha: 0, x: [1e-40, -1e-40, 1.5e-38], want: [0, 0, 1] },
    { name: 'leaky step (alpha 0.2) goes to the original kernel', alpha: 0.2, x: [NaN, -1, 0, 3], want: [NaN, 0.2, 0.2, 1] },
  ];
  for (const c of stepCases) {
    test(`Step on tensorflow: ${c.name}`, async (t) => {
      if (skipIfUnavailable(t, 'tensorflow')) return;
      const [got] = await runOn('tensorflow', () => tf.step(tf.tensor1d(c.x), c.alpha));
      assert.deepEqual(Array.from(got ?? []), c.want.map((v) => Math.fround(v)));
    });
  }
});
