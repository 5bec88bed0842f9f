import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { MODELS, type ModelId } from '../../../../common/contract.js';
import { ConfigError } from '../../../../common/errors.js';
import { countParams, countTrainableParams, createModel, MODEL_FACTORIES } from '../../../../worker/train/models/index.js';

await tf.setBackend('cpu');

interface Case {
  readonly id: ModelId;
  readonly shape: readonly [number, number, number];
  readonly want: { readonly total: number; readonly trainable: number };
  /** Run a forward pass (batch 2) to check the output shape. */
  readonly forward: boolean;
}

// Hand-checked counts, e.g. small-cnn: 16·16+16 + 16·16·32+32 + 1568·100+100 + 100·10+10 = 166,406.
const cases: readonly Case[] = [
  { id: 'mlp', shape: [28, 28, 1], want: { total: 269_322, trainable: 269_322 }, forward: true },
  { id: 'mlp', shape: [32, 32, 3], want: { total: 855_050, trainable: 855_050 }, forward: true },
  { id: 'small-cnn', shape: [28, 28, 1], want: { total: 166_406, trainable: 166_406 }, forward: true },
  { id: 'madry-cnn', shape: [28, 28, 1], want: { total: 3_274_634, trainable: 3_274_634 }, forward: true },
  // 480 BatchNorm channels: 960 trainable (gamma, beta) + 960 running statistics.
  { id: 'preact-resnet-8', shape: [32, 32, 3], want: { total: 309_226, trainable: 308_266 }, forward: true },
  { id: 'preact-resnet', shape: [32, 32, 3], want: { total: 309_226, trainable: 308_266 }, forward: false },
  // PreActResNet-18: 11,171,146 as in the reference implementations without a head BatchNorm, plus the
  // head's BN → ReLU (1,024 trainable); 3,904 BatchNorm channels, so 7,808 running statistics.
  // No forward pass: 0.56 GFLOP per image is seconds on the pure-JS backend.
  { id: 'preact-resnet-18', shape: [32, 32, 3], want: { total: 11_179_978, trainable: 11_172_170 }, forward: false },
  // WideResNet-34-10: 46,160,474 trainable, the count of the TRADES reference model; 11,216 BatchNorm channels.
  { id: 'wide-resnet-34-10', shape: [32, 32, 3], want: { total: 46_182_906, trainable: 46_160_474 }, forward: false },
];

test('every model id has a factory', () => {
  assert.deepEqual(Object.keys(MODEL_FACTORIES).sort(), [...MODELS].sort());
});

for (const c of cases) {
  test(`${c.id} ${c.shape.join('x')}: parameter counts and logits shape`, () => {
    const model = createModel(c.id, c.shape, 10, 1);
    try {
      assert.deepEqual({ total: countParams(model), trainable: countTrainableParams(model) }, c.want);
      assert.deepEqual(model.outputs[0]!.shape, [null, 10]);
      if (c.forward) {
        const before = tf.memory().numTensors;
        const logits = tf.tidy(() => model.predict(tf.zeros([2, ...c.shape])) as tf.Tensor);
        assert.deepEqual(logits.shape, [2, 10]);
        assert.ok(Array.from(logits.dataSync()).every(Number.isFinite));
        logits.dispose();
        assert.equal(tf.memory().numTensors, before);
      }
    } finally {
      model.dispose();
    }
  });
}

test('the deprecated preact-resnet builds exactly preact-resnet-8 (same layers, same weights)', () => {
  const alias = createModel('preact-resnet', [8, 8, 3], 10, 7);
  const named = createModel('preact-resnet-8', [8, 8, 3], 10, 7);
  try {
    assert.deepEqual(
      alias.weights.map((w) => w.shape),
      named.weights.map((w) => w.shape),
    );
    const a = alias.getWeights().map((w) => Array.from(w.dataSync()));
    const b = named.getWeights().map((w) => Array.from(w.dataSync()));
    assert.deepEqual(a, b);
  } finally {
    alias.dispose();
    named.dispose();
  }
});

test('preact-resnet-18 layout: 8 blocks, 3 projection shortcuts (1x1, strides 2), pooled width 512', () => {
  const model = createModel('preact-resnet-18', [32, 32, 3], 10, 1);
  try {
    const convs = model.layers.filter((l) => l.getClassName() === 'Conv2D');
    const kernels = convs.map((l) => (l.getConfig() as { kernelSize: number[] }).kernelSize[0]);
    assert.equal(convs.length, 1 + 8 * 2 + 3, 'stem + 2 per block + 3 projections');
    assert.equal(kernels.filter((k) => k === 1).length, 3);
    assert.equal(model.layers.filter((l) => l.getClassName() === 'Add').length, 8);
    const pool = model.layers.find((l) => l.getClassName() === 'GlobalAveragePooling2D')!;
    assert.deepEqual(pool.outputShape, [null, 512]);
    const lastAdd = model.layers.filter((l) => l.getClassName() === 'Add').at(-1)!;
    assert.deepEqual(lastAdd.outputShape, [null, 4, 4, 512]);
  } finally {
    model.dispose();
  }
});

test('weights are a deterministic function of the seed', () => {
  const read = (seed: number): Float32Array[] => {
    const m = createModel('small-cnn', [8, 8, 1], 10, seed);
    const ws = m.getWeights().map((w) => w.dataSync() as Float32Array);
    m.dispose();
    return ws;
  };
  const a = read(42);
  const b = read(42);
  const c = read(43);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a[0], c[0]);
  // Layers draw from different sub-seeds: no two kernels of the same size start equal.
  assert.notDeepEqual(a[0]!.slice(0, 10), a[2]!.slice(0, 10));
});

test('bad model arguments are rejected with the model named', () => {
  assert.throws(() => createModel('small-cnn', [28, 28, 1], 1, 0), (e: unknown) => e instanceof ConfigError && /model small-cnn: numClasses/.test(e.message));
  assert.throws(() => createModel('mlp', [0, 28, 1], 10, 0), (e: unknown) => e instanceof ConfigError && /model mlp: inputShape/.test(e.message));
  assert.throws(() => createModel('nope' as ModelId, [28, 28, 1], 10, 0), (e: unknown) => e instanceof ConfigError && /unknown model nope/.test(e.message));
});
