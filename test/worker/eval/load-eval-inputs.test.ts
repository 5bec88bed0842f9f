import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { checkModelFitsData, endsInSoftmax, loadEvalModel, resolveDatasetSource } from '../../../worker/eval/load-eval-inputs.js';
import { saveModel } from '../../../worker/train/save-model.js';
import type { Dataset } from '../../../worker/data/types.js';
import { ConfigError, DataError } from '../../../common/errors.js';

await tf.setBackend('cpu');

function cnn(inputShape: [number, number, number], classes: number): tf.LayersModel {
  return tf.sequential({ layers: [tf.layers.conv2d({ inputShape, filters: 2, kernelSize: 3 }), tf.layers.flatten(), tf.layers.dense({ units: classes })] });
}

const mnistLike = { name: 'mnist', inputShape: [28, 28, 1], numClasses: 10 } as unknown as Dataset;

test('load eval inputs: a foreign model saved in the layers format loads and fits its data', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dat-eval-model-'));
  await saveModel(cnn([28, 28, 1], 10), dir);
  const model = await loadEvalModel(dir);
  checkModelFitsData(model, dir, mnistLike);
  model.dispose();
});

test('load eval inputs: an unknown layer type is a ConfigError naming the file and the layer', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dat-eval-model-'));
  await saveModel(cnn([28, 28, 1], 10), dir);
  const path = join(dir, 'model.json');
  const json = (await readFile(path, 'utf8')).replace('"class_name":"Flatten"', '"class_name":"MyCustomFlatten"');
  await writeFile(path, json);
  await assert.rejects(loadEvalModel(dir), (e: unknown) => e instanceof ConfigError && e.message.includes(path) && /unknown layer type MyCustomFlatten/.test(e.message));
});

test('load eval inputs: a missing model.json is a ConfigError naming --model', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dat-eval-model-'));
  await assert.rejects(loadEvalModel(dir), (e: unknown) => e instanceof ConfigError && /--model .*no model.json/.test(e.message));
});

const misfits = [
  { name: 'input shape', model: () => cnn([32, 32, 3], 10), re: /takes inputs \[null, 32, 32, 3\], the dataset's images are \[28, 28, 1\]/ },
  { name: 'class count', model: () => cnn([28, 28, 1], 5), re: /outputs \[null, 5\], the dataset has 10 classes/ },
];
for (const c of misfits) {
  test(`load eval inputs: a ${c.name} mismatch is a DataError naming --dataset and --model`, () => {
    const model = c.model();
    assert.throws(() => checkModelFitsData(model, 'm/', mnistLike), (e: unknown) => e instanceof DataError && /--dataset mnist does not fit --model m\//.test(e.message) && c.re.test(e.message));
    model.dispose();
  });
}

test('load eval inputs: --dataset names', () => {
  assert.deepEqual(resolveDatasetSource('mnist', undefined), { id: 'mnist' });
  assert.throws(() => resolveDatasetSource('cifar10', undefined), /missing --data-dir/);
  assert.throws(() => resolveDatasetSource('/no/such/dir', undefined), /invalid value "\/no\/such\/dir" for --dataset/);
});

test('load eval inputs: endsInSoftmax tells probabilities from logits', () => {
  const cases: { name: string; head: () => tf.layers.Layer[]; want: boolean }[] = [
    { name: 'dense logits', head: () => [tf.layers.dense({ units: 10 })], want: false },
    { name: 'dense with a softmax activation', head: () => [tf.layers.dense({ units: 10, activation: 'softmax' })], want: true },
    { name: 'a separate Softmax layer', head: () => [tf.layers.dense({ units: 10 }), tf.layers.softmax()], want: true },
    { name: 'relu output', head: () => [tf.layers.dense({ units: 10, activation: 'relu' })], want: false },
  ];
  for (const c of cases) {
    const model = tf.sequential({ layers: [tf.layers.flatten({ inputShape: [2, 2, 1] }), ...c.head()] });
    assert.equal(endsInSoftmax(model), c.want, c.name);
    model.dispose();
  }
});
