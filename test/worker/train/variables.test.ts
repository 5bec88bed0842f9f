import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { createModel } from '../../../worker/train/models/index.js';
import { flattenTensors, modelVariables, readWeights, totalSize, trainableVariables, unflattenLike, writeWeights } from '../../../worker/train/variables.js';

await tf.setBackend('cpu');

test('flatten then unflatten round-trips values and shapes', async () => {
  const ts = [tf.tensor2d([[1, 2, 3], [4, 5, 6]]), tf.scalar(7), tf.tensor1d([8, 9]), tf.zeros([0, 3])];
  assert.equal(totalSize(ts), 9);
  const flat = await flattenTensors(ts);
  assert.deepEqual(Array.from(flat), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
  const back = unflattenLike(flat, ts);
  assert.deepEqual(
    back.map((t) => t.shape),
    ts.map((t) => t.shape),
  );
  assert.deepEqual(
    back.map((t) => Array.from(t.dataSync())),
    ts.map((t) => Array.from(t.dataSync())),
  );
  // The tensors own their data: reusing the buffer changes nothing.
  flat.fill(-1);
  assert.deepEqual(Array.from(back[0]!.dataSync()), [1, 2, 3, 4, 5, 6]);
  tf.dispose([...ts, ...back]);
});

test('flattenTensors fills a given buffer and checks its length', async () => {
  const ts = [tf.tensor1d([1, 2]), tf.tensor1d([3])];
  const out = new Float32Array(3);
  assert.equal(await flattenTensors(ts, out), out);
  assert.deepEqual(Array.from(out), [1, 2, 3]);
  await assert.rejects(flattenTensors(ts, new Float32Array(4)), /output buffer has 4 elements, tensors have 3/);
  assert.throws(() => unflattenLike(new Float32Array(2), ts), /buffer has 2 elements, tensors need 3/);
  tf.dispose(ts);
});

test('readWeights/writeWeights copy a model, BatchNorm statistics included', async () => {
  const a = createModel('preact-resnet', [8, 8, 3], 10, 1);
  const b = createModel('preact-resnet', [8, 8, 3], 10, 2);
  const va = modelVariables(a);
  const vb = modelVariables(b);
  assert.ok(trainableVariables(a).length < va.length, 'running statistics are not trainable');
  assert.equal(totalSize(va), a.countParams());
  const wa = await readWeights(va);
  assert.notDeepEqual(await readWeights(vb), wa);
  const before = tf.memory().numTensors;
  writeWeights(vb, wa);
  assert.equal(tf.memory().numTensors, before);
  assert.deepEqual(await readWeights(vb), wa);
  // Same weights, same function.
  const [ya, yb] = tf.tidy(() => {
    const x = tf.randomUniform([2, 8, 8, 3], 0, 1, 'float32', 5);
    return [(a.predict(x) as tf.Tensor).dataSync(), (b.predict(x) as tf.Tensor).dataSync()];
  });
  assert.deepEqual(ya, yb);
  assert.throws(() => writeWeights(vb, new Float32Array(3)), /writeWeights: buffer has 3 elements/);
  a.dispose();
  b.dispose();
});
