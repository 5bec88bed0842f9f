import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { UnfusedConv2D, type Conv2DArgs } from '../../../../worker/train/models/_unfused-conv2d.js';
import { createModel } from '../../../../worker/train/models/index.js';

await tf.setBackend('cpu');

const ARGS: Conv2DArgs = { filters: 4, kernelSize: 3, strides: 2, padding: 'same', useBias: true, kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) };

/** One-layer models: the unfused layer and a stock Conv2D carrying the same weights. */
function pair(): [tf.LayersModel, tf.LayersModel] {
  const build = (layer: tf.layers.Layer): tf.LayersModel => {
    const input = tf.input({ shape: [6, 6, 2] });
    return tf.model({ inputs: input, outputs: layer.apply(input) as tf.SymbolicTensor });
  };
  const unfused = build(new UnfusedConv2D(ARGS));
  const stock = build(tf.layers.conv2d(ARGS));
  // A non-zero bias, so the bias path is exercised.
  stock.setWeights([unfused.getWeights()[0]!, tf.tensor1d([0.1, -0.2, 0.3, 0])]);
  unfused.setWeights(stock.getWeights());
  return [unfused, stock];
}

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);
}

test('computes what a stock Conv2D computes: outputs, input gradients, weight gradients', () => {
  const [unfused, stock] = pair();
  const x = tf.randomUniform([2, 6, 6, 2], 0, 1, 'float32', 1);
  tf.tidy(() => {
    assert.ok(maxAbsDiff(unfused.apply(x) as tf.Tensor, stock.apply(x) as tf.Tensor) < 1e-6);
    const dx = (m: tf.LayersModel): tf.Tensor => tf.grad((xi: tf.Tensor) => tf.sum(tf.square(m.apply(xi) as tf.Tensor)))(x);
    assert.ok(maxAbsDiff(dx(unfused), dx(stock)) < 1e-5);
    // Training still gets kernel and bias gradients.
    const dw = (m: tf.LayersModel): tf.Tensor[] => {
      const vars = m.trainableWeights.map((w) => w.read() as tf.Variable);
      const { grads } = tf.variableGrads(() => tf.sum(tf.square(m.apply(x) as tf.Tensor)) as tf.Scalar, vars);
      return vars.map((v) => grads[v.name]!);
    };
    const [gu, gs] = [dw(unfused), dw(stock)];
    assert.equal(gu.length, 2);
    for (let i = 0; i < gu.length; i++) assert.ok(maxAbsDiff(gu[i]!, gs[i]!) < 1e-5, `weight ${i}`);
  });
  tf.dispose(x);
  unfused.dispose();
  stock.dispose();
});

test('an input gradient of preact-resnet runs no filter-gradient kernel', async () => {
  const model = createModel('preact-resnet', [8, 8, 3], 10, 1);
  const x = tf.randomUniform([2, 8, 8, 3], 0, 1, 'float32', 2);
  const info = await tf.profile(() => tf.grad((xi: tf.Tensor) => tf.sum(model.apply(xi, { training: false }) as tf.Tensor))(x));
  const kernels = new Set(info.kernels.map((k) => k.name));
  assert.ok(kernels.has('Conv2DBackpropInput'), [...kernels].join(','));
  assert.ok(!kernels.has('Conv2DBackpropFilter'), [...kernels].join(','));
  tf.dispose(x);
  model.dispose();
});

test('saves as a stock Conv2D and loads back with the same function', async () => {
  const model = createModel('preact-resnet', [8, 8, 3], 10, 1);
  let saved: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      saved = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  assert.ok(saved);
  const json = JSON.stringify(saved.modelTopology);
  assert.ok(json.includes('"class_name":"Conv2D"'));
  assert.ok(!json.includes('Unfused'));
  const loaded = await tf.loadLayersModel(tf.io.fromMemory(saved));
  const x = tf.randomUniform([2, 8, 8, 3], 0, 1, 'float32', 4);
  tf.tidy(() => assert.ok(maxAbsDiff(model.predict(x) as tf.Tensor, loaded.predict(x) as tf.Tensor) < 1e-6));
  tf.dispose(x);
  model.dispose();
  loaded.dispose();
});

test('refuses configurations it does not implement', () => {
  assert.throws(() => new UnfusedConv2D({ ...ARGS, activation: 'relu' }), /only a linear activation/);
  assert.throws(() => new UnfusedConv2D({ ...ARGS, dilationRate: 2 }), /dilation/);
});
