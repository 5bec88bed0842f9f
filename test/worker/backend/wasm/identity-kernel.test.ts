import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackends } from '../_compare.js';

describe('Identity on wasm shares memory by reference count', () => {
  before(initBackends);

  test('a clone shares the data, and each side outlives the other', async () => {
    await tf.setBackend('wasm');
    const before = tf.memory().numBytes;
    const a = tf.tensor1d([1, 2, 3]);
    const b = tf.clone(a);
    assert.equal(b.dataId, a.dataId, 'clone must not copy');
    a.dispose();
    assert.deepEqual(Array.from(b.dataSync()), [1, 2, 3], 'the clone must survive the original');
    const c = tf.clone(b);
    b.dispose();
    assert.deepEqual(Array.from(c.dataSync()), [1, 2, 3]);
    c.dispose();
    assert.equal(tf.memory().numBytes, before, 'memory must be released with the last reference');
  });

  test('string tensors still clone through the original kernel', async () => {
    await tf.setBackend('wasm');
    const s = tf.tensor1d(['a', 'bc'], 'string');
    const t = tf.clone(s);
    assert.deepEqual(t.arraySync(), ['a', 'bc']);
    tf.dispose([s, t]);
  });
});
