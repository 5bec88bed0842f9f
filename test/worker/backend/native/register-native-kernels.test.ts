import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { NATIVE_BACKEND_NAME, needsStridedPointwiseWorkaround } from '../../../../worker/backend/native/conv2d-backprop-filter-kernel.js';
import { NATIVE_KERNEL_FIXES, registerNativeKernelFixes } from '../../../../worker/backend/native/register-native-kernels.js';
import { initBackends, runOn, skipIfUnavailable } from '../_compare.js';

describe('native backend kernels: Conv2DBackpropFilter fix and Step', () => {
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
    const step = tf.getKernel(NATIVE_KERNEL_FIXES.step, NATIVE_BACKEND_NAME)?.kernelFunc;
    registerNativeKernelFixes();
    assert.equal(tf.getKernel(name, NATIVE_BACKEND_NAME)?.kernelFunc, first);
    assert.equal(tf.getKernel(NATIVE_KERNEL_FIXES.step, NATIVE_BACKEND_NAME)?.kernelFunc, step);
  });

  // ReLU's gradient (dy * step(x)) is compared with cpu in training-op-grads; this pins the edge values.
  const stepCases = [
    { name: 'ReLU step (alpha 0): NaN stays NaN, 0 and -0 give 0, infinities', alpha: 0, x: [NaN, -1, -0, 0, 2, Infinity, -Infinity], want: [NaN, 0, 0, 0, 1, 1, 0] },
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
