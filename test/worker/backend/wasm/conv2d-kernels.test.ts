import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { COMPARED_BACKENDS, initBackends, type AgainstCpuOptions, randomValues, skipIfUnavailable, testAgainstCpu } from '../_compare.js';

interface ConvCase {
  readonly name: string;
  /** NHWC input shape. */
  readonly x: readonly [number, number, number, number];
  readonly k: readonly [number, number];
  readonly outC: number;
  readonly stride: number | [number, number];
  readonly pad: 'same' | 'valid' | number;
  /** Backends that cannot run this case, with the reason. */
  readonly exclude?: AgainstCpuOptions['exclude'];
}

/** tfjs-node passes padding to TF as a string; the project's models only use 'same' and 'valid'. */
const NATIVE_NO_EXPLICIT_PAD = { tensorflow: "tfjs-node 4.22 supports only 'valid' and 'same' padding (none of the project's models uses explicit padding)" };

// Kernel sizes 1..5, strides 1 and 2, both paddings, non-square images and
// odd sizes (so 'same' padding is asymmetric), batch 1..3, channels 1..24.
const CASES: readonly ConvCase[] = [
  { name: '1x1 s1 valid (pointwise)', x: [2, 5, 6, 8], k: [1, 1], outC: 12, stride: 1, pad: 'valid' },
  { name: '1x1 s2 valid (resnet shortcut)', x: [2, 8, 7, 8], k: [1, 1], outC: 16, stride: 2, pad: 'valid' },
  { name: '1x1 s2 same', x: [1, 7, 7, 4], k: [1, 1], outC: 4, stride: 2, pad: 'same' },
  // At 16x16 and up, libtensorflow 2.9.1's oneDNN filter gradient corrupts the heap here (worker/backend/native).
  { name: '1x1 s2 same 32x32 (resnet shortcut)', x: [3, 32, 32, 8], k: [1, 1], outC: 16, stride: 2, pad: 'same' },
  { name: '1x1 s[2,3] valid 17x19', x: [1, 17, 19, 4], k: [1, 1], outC: 8, stride: [2, 3], pad: 'valid' },
  { name: '3x3 s1 same', x: [3, 8, 9, 5], k: [3, 3], outC: 7, stride: 1, pad: 'same' },
  { name: '3x3 s1 valid', x: [2, 7, 6, 3], k: [3, 3], outC: 4, stride: 1, pad: 'valid' },
  { name: '3x3 s2 same (even input)', x: [2, 8, 8, 16], k: [3, 3], outC: 8, stride: 2, pad: 'same' },
  { name: '3x3 s2 same (odd input)', x: [2, 9, 11, 3], k: [3, 3], outC: 5, stride: 2, pad: 'same' },
  { name: '3x3 s2 valid', x: [1, 9, 10, 2], k: [3, 3], outC: 3, stride: 2, pad: 'valid' },
  { name: '4x4 s2 same (small-cnn conv1)', x: [2, 28, 28, 1], k: [4, 4], outC: 16, stride: 2, pad: 'same' },
  { name: '4x4 s2 same (small-cnn conv2)', x: [2, 14, 14, 16], k: [4, 4], outC: 32, stride: 2, pad: 'same' },
  { name: '4x4 s2 valid', x: [3, 10, 9, 2], k: [4, 4], outC: 6, stride: 2, pad: 'valid' },
  { name: '4x4 s1 same', x: [1, 6, 7, 3], k: [4, 4], outC: 2, stride: 1, pad: 'same' },
  { name: '5x5 s1 same (madry)', x: [2, 12, 12, 4], k: [5, 5], outC: 8, stride: 1, pad: 'same' },
  { name: '5x5 s2 valid', x: [2, 13, 11, 3], k: [5, 5], outC: 4, stride: 2, pad: 'valid' },
  { name: '2x3 s[2,1] same (rectangular)', x: [2, 7, 8, 3], k: [2, 3], outC: 5, stride: [2, 1], pad: 'same' },
  { name: '3x3 s1 explicit pad 1', x: [2, 6, 6, 3], k: [3, 3], outC: 4, stride: 1, pad: 1, exclude: NATIVE_NO_EXPLICIT_PAD },
  // inC >= 4 takes the per-phase (sub-pixel) input-gradient path; these cover its cropping and padding cases.
  { name: 'subpixel 3x3 s2 same (odd input)', x: [2, 9, 11, 6], k: [3, 3], outC: 5, stride: 2, pad: 'same' },
  { name: 'subpixel 4x4 s2 valid', x: [2, 10, 9, 5], k: [4, 4], outC: 6, stride: 2, pad: 'valid' },
  { name: 'subpixel 5x5 s2 valid', x: [1, 13, 12, 4], k: [5, 5], outC: 3, stride: 2, pad: 'valid' },
  { name: 'subpixel 3x3 s3 same', x: [2, 10, 8, 4], k: [3, 3], outC: 4, stride: 3, pad: 'same' },
  { name: 'subpixel 2x3 s[2,1] same', x: [2, 7, 8, 8], k: [2, 3], outC: 5, stride: [2, 1], pad: 'same' },
  { name: 'kernel larger than stride-2 output', x: [1, 4, 4, 2], k: [5, 5], outC: 3, stride: 2, pad: 'same' },
];

function shapes(c: ConvCase): { filter: [number, number, number, number]; dy: [number, number, number, number] } {
  const filter: [number, number, number, number] = [c.k[0], c.k[1], c.x[3], c.outC];
  const info = tf.backend_util.computeConv2DInfo([...c.x], filter, c.stride, 1, c.pad);
  return { filter, dy: [c.x[0], info.outHeight, info.outWidth, c.outC] };
}

describe('convolution kernels on wasm and tensorflow match the cpu backend', () => {
  before(initBackends);

  for (const c of CASES) {
    const { filter, dy } = shapes(c);
    // NamedAttrMap has no room for undefined or tuple types: build plain attrs.
    const attrs: tf.NamedAttrMap = { strides: c.stride, pad: c.pad, dataFormat: 'NHWC' };

    testAgainstCpu(
      `Conv2DBackpropFilter ${c.name}`,
      () => tf.engine().runKernel('Conv2DBackpropFilter', { x: randomValues(c.x, 1), dy: randomValues(dy, 2) }, { ...attrs, filterShape: filter }) as tf.Tensor,
      { exclude: c.exclude },
    );

    testAgainstCpu(
      `Conv2DBackpropInput ${c.name}`,
      () => tf.engine().runKernel('Conv2DBackpropInput', { dy: randomValues(dy, 3), filter: randomValues(filter, 4) }, { ...attrs, inputShape: [...c.x] }) as tf.Tensor,
      { exclude: c.exclude },
    );

    testAgainstCpu(
      `Conv2D forward and both gradients through tf.grads ${c.name}`,
      () => {
        const x = randomValues(c.x, 5) as tf.Tensor4D;
        const w = randomValues(filter, 6) as tf.Tensor4D;
        const up = randomValues(dy, 7);
        const y = tf.conv2d(x, w, c.stride, c.pad);
        const [gx, gw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.stride, c.pad))([x, w], up);
        return [y, gx as tf.Tensor, gw as tf.Tensor];
      },
      { exclude: c.exclude },
    );
  }

  for (const backend of COMPARED_BACKENDS) {
    test(`a conv gradient leaks no tensors on ${backend}`, async (t) => {
      if (skipIfUnavailable(t, backend)) return;
      await tf.setBackend(backend);
      const x = randomValues([2, 8, 8, 3], 8) as tf.Tensor4D;
      const w = randomValues([3, 3, 3, 4], 9) as tf.Tensor4D;
      const step = (): void => tf.dispose(tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, 'same'))([x, w]));
      step();
      const before = tf.memory().numTensors;
      const bytesBefore = tf.memory().numBytes;
      step();
      step();
      assert.equal(tf.memory().numTensors, before);
      assert.equal(tf.memory().numBytes, bytesBefore);
      tf.dispose([x, w]);
    });
  }
});
