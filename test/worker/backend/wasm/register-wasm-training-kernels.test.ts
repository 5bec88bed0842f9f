import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { registerWasmTrainingKernels, WASM_BACKEND_NAME, WASM_TRAINING_KERNELS } from '../../../../worker/backend/wasm/register-wasm-training-kernels.js';
import { initBackends } from '../_compare.js';

describe('registerWasmTrainingKernels', () => {
  before(initBackends);

  test('is idempotent: a second call keeps the same kernel functions', () => {
    const names = Object.values(WASM_TRAINING_KERNELS);
    const before = names.map((n) => tf.getKernel(n, WASM_BACKEND_NAME)?.kernelFunc);
    assert.deepEqual([...registerWasmTrainingKernels()].sort(), [...names].sort());
    const after = names.map((n) => tf.getKernel(n, WASM_BACKEND_NAME)?.kernelFunc);
    after.forEach((fn, i) => assert.equal(fn, before[i], `${names[i]} was re-registered`));
  });

  test('overrides keep the original setup so the delegated wasm kernels work after re-initialisation', async () => {
    // setBackend runs every registered setupFunc again; the transposed product then goes through ours.
    await tf.setBackend('cpu');
    await tf.setBackend('wasm');
    const got = tf.tidy(() => tf.matMul(tf.tensor2d([[1, 2], [3, 4]]), tf.tensor2d([[5, 6], [7, 8]]), true, false).arraySync());
    assert.deepEqual(got, [[26, 30], [38, 44]]);
  });
});
