import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import type { ModelId } from '../../../../../common/contract.js';
import { MODEL_INPUT, planModel, planSequentialModel, type PlanLayer } from '../../../../../worker/backend/native/graph/sequential-plan.js';
import { createModel } from '../../../../../worker/train/models/index.js';
import { buildPreActResNet } from '../../../../../worker/train/models/preact-resnet.js';

const MNIST = [28, 28, 1] as const;

const conv = (inShape: [number, number, number], k: number, s: number, kernel: number): PlanLayer => ({
  kind: 'conv2d',
  inShape,
  kernelSize: [k, k],
  strides: [s, s],
  padding: 'SAME',
  activation: 'relu',
  kernel,
  bias: kernel + 1,
});
const dense = (activation: 'relu' | 'linear', kernel: number): PlanLayer => ({ kind: 'dense', activation, kernel, bias: kernel + 1 });
const pool: PlanLayer = { kind: 'maxpool', poolSize: [2, 2], strides: [2, 2], padding: 'SAME' };

const supported: readonly { id: ModelId; want: readonly PlanLayer[] }[] = [
  { id: 'mlp', want: [{ kind: 'flatten', size: 784 }, dense('relu', 0), dense('relu', 2), dense('linear', 4)] },
  { id: 'small-cnn', want: [conv([28, 28, 1], 4, 2, 0), conv([14, 14, 16], 4, 2, 2), { kind: 'flatten', size: 7 * 7 * 32 }, dense('relu', 4), dense('linear', 6)] },
  {
    id: 'madry-cnn',
    want: [conv([28, 28, 1], 5, 1, 0), pool, conv([14, 14, 32], 5, 1, 2), pool, { kind: 'flatten', size: 7 * 7 * 64 }, dense('relu', 4), dense('linear', 6)],
  },
];

/** Each weight's shape as the plan implies it, to check the indices point at the right tensors. */
function impliedShapes(layers: readonly PlanLayer[], numClasses: number): Map<number, number[]> {
  const shapes = new Map<number, number[]>();
  let features = 0;
  layers.forEach((l, i) => {
    const next = layers.slice(i + 1).find((m) => m.kind === 'conv2d' || m.kind === 'dense');
    if (l.kind === 'conv2d') {
      const out = next?.kind === 'conv2d' ? next.inShape[2] : undefined;
      shapes.set(l.kernel, [l.kernelSize[0], l.kernelSize[1], l.inShape[2], out ?? -1]);
      if (l.bias !== null && out !== undefined) shapes.set(l.bias, [out]);
    } else if (l.kind === 'flatten') {
      features = l.size;
    } else if (l.kind === 'dense') {
      shapes.set(l.kernel, [features, next === undefined ? numClasses : -1]);
      if (l.bias !== null && next === undefined) shapes.set(l.bias, [numClasses]);
      features = -1;
    }
  });
  return shapes;
}

/** A fluent builder of small sequential models that step outside the supported set. */
class ModelSpec {
  private readonly layers: tf.layers.Layer[] = [tf.layers.conv2d({ inputShape: [8, 8, 1], filters: 2, kernelSize: 3, padding: 'same', activation: 'relu' })];

  static conv(): ModelSpec {
    return new ModelSpec();
  }

  with(layer: tf.layers.Layer): this {
    this.layers.push(layer);
    return this;
  }

  head(): this {
    return this.with(tf.layers.flatten()).with(tf.layers.dense({ units: 3 }));
  }

  build(): tf.LayersModel {
    return tf.sequential({ layers: this.layers });
  }
}

/** conv → conv → add(both) → flatten → dense: a residual connection. */
function residualModel(): { model: tf.LayersModel; addName: string } {
  const input = tf.input({ shape: [8, 8, 1] });
  const a = tf.layers.conv2d({ filters: 2, kernelSize: 3, padding: 'same', activation: 'relu' }).apply(input) as tf.SymbolicTensor;
  const b = tf.layers.conv2d({ filters: 2, kernelSize: 3, padding: 'same', activation: 'relu' }).apply(a) as tf.SymbolicTensor;
  const add = tf.layers.add();
  const sum = add.apply([a, b]) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: 3 }).apply(tf.layers.flatten().apply(sum)) as tf.SymbolicTensor;
  return { model: tf.model({ inputs: input, outputs: out }), addName: add.name };
}

/** conv (linear) → BN → ReLU → global average pooling → dense: the resnet's head, as a stack. */
function bnHeadModel(): tf.LayersModel {
  return tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [6, 6, 2], filters: 4, kernelSize: 3, padding: 'same', useBias: false }),
      tf.layers.batchNormalization({ momentum: 0.8, epsilon: 1e-4 }),
      tf.layers.reLU(),
      tf.layers.globalAveragePooling2d({}),
      tf.layers.dense({ units: 3 }),
    ],
  });
}

/** One conv applied twice (a shared layer): not one node of a DAG. */
function sharedLayerModel(): { model: tf.LayersModel; layer: string } {
  const input = tf.input({ shape: [8, 8, 2] });
  const c = tf.layers.conv2d({ filters: 2, kernelSize: 3, padding: 'same' });
  const twice = c.apply(c.apply(input)) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: 3 }).apply(tf.layers.flatten().apply(twice)) as tf.SymbolicTensor;
  return { model: tf.model({ inputs: input, outputs: out }), layer: c.name };
}

/** flatten, then two heads on the same features: not one stack, though every layer has one input. */
function twoHeadModel(): tf.LayersModel {
  const input = tf.input({ shape: [4, 4, 1] });
  const features = tf.layers.flatten().apply(input) as tf.SymbolicTensor;
  const a = tf.layers.dense({ units: 16 }).apply(features) as tf.SymbolicTensor;
  const b = tf.layers.dense({ units: 16 }).apply(features) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: [a, b] });
}

describe('planModel (planSequentialModel)', () => {
  before(async () => {
    await tf.setBackend('cpu');
  });

  for (const c of supported) {
    test(`plans ${c.id}: layer kinds, shapes and weight indices`, () => {
      const model = createModel(c.id, MNIST, 10, 1);
      try {
        const plan = planSequentialModel(model);
        assert.ok(plan.ok, plan.ok ? '' : plan.reason);
        assert.deepEqual(plan.layers, c.want);
        assert.deepEqual(plan.inputShape, MNIST);
        assert.equal(plan.numWeights, model.trainableWeights.length);
        // Every trainable weight is used exactly once...
        const indices = plan.layers.flatMap((l) => (l.kind === 'conv2d' || l.kind === 'dense' ? [l.kernel, ...(l.bias === null ? [] : [l.bias])] : []));
        assert.deepEqual([...indices].sort((a, b) => a - b), Array.from({ length: model.trainableWeights.length }, (_, i) => i));
        // ...and points at a tensor of the shape its layer needs (-1: not derivable from the plan alone).
        for (const [i, want] of impliedShapes(plan.layers, 10)) {
          const got = model.trainableWeights[i]!.shape;
          assert.deepEqual(
            got.map((d, k) => (want[k] === -1 ? -1 : d)),
            want,
            `weight ${i} (${model.trainableWeights[i]!.name})`,
          );
        }
      } finally {
        model.dispose();
      }
    });
  }

  test('plans valid padding, no bias and a non-square stride as they are', () => {
    const model = tf.sequential({
      layers: [
        tf.layers.conv2d({ inputShape: [9, 8, 1], filters: 2, kernelSize: [3, 2], strides: [2, 1], padding: 'valid', useBias: false }),
        tf.layers.maxPooling2d({ poolSize: [2, 3], strides: [1, 2], padding: 'valid' }),
        // 1x1 is fine at stride 1 (only strided 1x1 filter gradients hit the libtensorflow bug).
        tf.layers.conv2d({ filters: 2, kernelSize: 1, padding: 'same', activation: 'relu' }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 3, useBias: false }),
      ],
    });
    const plan = planSequentialModel(model);
    assert.ok(plan.ok, plan.ok ? '' : plan.reason);
    assert.deepEqual(plan.layers, [
      { kind: 'conv2d', inShape: [9, 8, 1], kernelSize: [3, 2], strides: [2, 1], padding: 'VALID', activation: 'linear', kernel: 0, bias: null },
      { kind: 'maxpool', poolSize: [2, 3], strides: [1, 2], padding: 'VALID' },
      { kind: 'conv2d', inShape: [3, 3, 2], kernelSize: [1, 1], strides: [1, 1], padding: 'SAME', activation: 'relu', kernel: 1, bias: 2 },
      { kind: 'flatten', size: 3 * 3 * 2 },
      { kind: 'dense', activation: 'linear', kernel: 3, bias: null },
    ]);
    model.dispose();
  });

  // The DAG node kinds: edges (node ids, MODEL_INPUT for the input) and the nodes themselves.
  const dagCases: readonly { name: string; build: () => tf.LayersModel; want: { layers: readonly PlanLayer[]; inputs: readonly (readonly number[])[]; output: number } }[] = [
    {
      name: 'a residual add (conv → conv → add(both) → flatten → dense)',
      build: () => residualModel().model,
      want: {
        layers: [
          { kind: 'conv2d', inShape: [8, 8, 1], kernelSize: [3, 3], strides: [1, 1], padding: 'SAME', activation: 'relu', kernel: 0, bias: 1 },
          { kind: 'conv2d', inShape: [8, 8, 2], kernelSize: [3, 3], strides: [1, 1], padding: 'SAME', activation: 'relu', kernel: 2, bias: 3 },
          { kind: 'add' },
          { kind: 'flatten', size: 128 },
          { kind: 'dense', activation: 'linear', kernel: 4, bias: 5 },
        ],
        inputs: [[MODEL_INPUT], [0], [0, 1], [2], [3]],
        output: 4,
      },
    },
    {
      name: 'BatchNormalization, a ReLU layer and global average pooling',
      build: bnHeadModel,
      want: {
        layers: [
          { kind: 'conv2d', inShape: [6, 6, 2], kernelSize: [3, 3], strides: [1, 1], padding: 'SAME', activation: 'linear', kernel: 0, bias: null },
          { kind: 'batchnorm', channels: 4, gamma: 1, beta: 2, movingMean: 0, movingVariance: 1, epsilon: 1e-4, momentum: 0.8 },
          { kind: 'relu' },
          { kind: 'globalAvgPool', inShape: [6, 6, 4] },
          { kind: 'dense', activation: 'linear', kernel: 3, bias: 4 },
        ],
        inputs: [[MODEL_INPUT], [0], [1], [2], [3]],
        output: 4,
      },
    },
    {
      name: 'a strided 1x1 conv (its filter gradient is taken on the strided input)',
      build: () => ModelSpec.conv().with(tf.layers.conv2d({ filters: 2, kernelSize: 1, strides: [1, 2], activation: 'relu' })).head().build(),
      want: {
        layers: [
          { kind: 'conv2d', inShape: [8, 8, 1], kernelSize: [3, 3], strides: [1, 1], padding: 'SAME', activation: 'relu', kernel: 0, bias: 1 },
          { kind: 'conv2d', inShape: [8, 8, 2], kernelSize: [1, 1], strides: [1, 2], padding: 'VALID', activation: 'relu', kernel: 2, bias: 3 },
          { kind: 'flatten', size: 64 },
          { kind: 'dense', activation: 'linear', kernel: 4, bias: 5 },
        ],
        inputs: [[MODEL_INPUT], [0], [1], [2]],
        output: 3,
      },
    },
  ];
  for (const c of dagCases) {
    test(`plans ${c.name}`, () => {
      const model = c.build();
      try {
        const plan = planModel(model);
        assert.ok(plan.ok, plan.ok ? '' : plan.reason);
        assert.deepEqual({ layers: plan.layers, inputs: plan.inputs, output: plan.output }, c.want);
        assert.equal(plan.numNonTrainable, model.nonTrainableWeights.length);
      } finally {
        model.dispose();
      }
    });
  }

  const resnets: readonly { name: string; build: () => tf.LayersModel; bn: number; adds: number; strided1x1: number }[] = [
    { name: 'preact-resnet (default stages)', build: () => createModel('preact-resnet', [32, 32, 3], 10, 1), bn: 7, adds: 3, strided1x1: 2 },
    {
      name: 'preact-resnet, stages 8/1/1 + 16/2/2 (an identity shortcut)',
      build: () =>
        buildPreActResNet([32, 32, 3], 10, 1, [
          { filters: 8, stride: 1, blocks: 1 },
          { filters: 16, stride: 2, blocks: 2 },
        ]),
      bn: 7,
      adds: 3,
      strided1x1: 1,
    },
  ];
  for (const c of resnets) {
    test(`plans ${c.name}: a topological DAG whose BatchNorm indices point at the layer's own weights`, () => {
      const model = c.build();
      try {
        const plan = planModel(model);
        assert.ok(plan.ok, plan.ok ? '' : plan.reason);
        const count = (kind: PlanLayer['kind']): number => plan.layers.filter((l) => l.kind === kind).length;
        assert.equal(count('batchnorm'), c.bn);
        assert.equal(count('relu'), c.bn);
        assert.equal(count('add'), c.adds);
        assert.equal(count('globalAvgPool'), 1);
        assert.equal(plan.layers.filter((l) => l.kind === 'conv2d' && l.kernelSize[0] === 1 && l.strides[0] === 2).length, c.strided1x1);
        // Topological: every node reads the input or earlier nodes; adds read two.
        plan.inputs.forEach((from, i) => {
          assert.ok(from.every((j) => j === MODEL_INPUT || j < i), `node ${i} reads ${from.join(', ')}`);
          assert.equal(from.length, plan.layers[i]!.kind === 'add' ? 2 : 1, `node ${i}`);
        });
        assert.equal(plan.output, plan.layers.length - 1);
        assert.equal(plan.numNonTrainable, 2 * c.bn);
        const indices: number[] = [];
        for (const l of plan.layers) {
          if (l.kind === 'conv2d' || l.kind === 'dense') indices.push(l.kernel, ...(l.bias === null ? [] : [l.bias]));
          if (l.kind !== 'batchnorm') continue;
          indices.push(l.gamma, l.beta);
          const [gamma, beta] = [model.trainableWeights[l.gamma]!, model.trainableWeights[l.beta]!];
          const [mean, variance] = [model.nonTrainableWeights[l.movingMean]!, model.nonTrainableWeights[l.movingVariance]!];
          const layerOf = (name: string): string => name.slice(0, name.lastIndexOf('/'));
          assert.match(gamma.name, /\/gamma$/);
          assert.match(beta.name, /\/beta$/);
          assert.match(mean.name, /\/moving_mean$/);
          assert.match(variance.name, /\/moving_variance$/);
          assert.equal(new Set([gamma, beta, mean, variance].map((w) => layerOf(w.name))).size, 1, 'all four belong to one layer');
          assert.deepEqual(gamma.shape, [l.channels]);
          assert.equal(l.epsilon, 1e-5);
          assert.ok(Math.abs(l.momentum - 0.9) < 1e-7);
        }
        assert.deepEqual([...indices].sort((a, b) => a - b), Array.from({ length: model.trainableWeights.length }, (_, i) => i));
      } finally {
        model.dispose();
      }
    });
  }

  const rejected: readonly { name: string; build: () => { model: tf.LayersModel; layer: string }; want: RegExp }[] = [
    {
      name: 'BatchNormalization over a channel axis that is not the last',
      build: () => {
        const bn = tf.layers.batchNormalization({ axis: 1 });
        return { model: ModelSpec.conv().with(bn).head().build(), layer: bn.name };
      },
      want: /normalizes axis 1, not the last/,
    },
    {
      name: 'BatchNormalization without beta (center: false)',
      build: () => {
        const bn = tf.layers.batchNormalization({ center: false });
        return { model: ModelSpec.conv().with(bn).head().build(), layer: bn.name };
      },
      want: /lacks gamma or beta/,
    },
    {
      name: 'BatchNormalization after a flatten',
      build: () => {
        const bn = tf.layers.batchNormalization();
        return { model: ModelSpec.conv().with(tf.layers.flatten()).with(bn).with(tf.layers.dense({ units: 3 })).build(), layer: bn.name };
      },
      want: /batch norm \S+ on a rank-2 input/,
    },
    {
      name: 'a frozen BatchNormalization',
      build: () => {
        const bn = tf.layers.batchNormalization();
        const model = ModelSpec.conv().with(bn).head().build();
        bn.trainable = false;
        return { model, layer: bn.name };
      },
      want: /has non-trainable weights/,
    },
    {
      name: 'a capped ReLU layer (ReLU6)',
      build: () => {
        const r = tf.layers.reLU({ maxValue: 6 });
        return { model: ModelSpec.conv().with(r).head().build(), layer: r.name };
      },
      want: /is capped at 6/,
    },
    {
      name: 'a shared layer (one conv applied twice)',
      build: sharedLayerModel,
      want: /is applied 2 times/,
    },
    {
      name: 'Dropout',
      build: () => {
        const drop = tf.layers.dropout({ rate: 0.5 });
        return { model: ModelSpec.conv().with(drop).head().build(), layer: drop.name };
      },
      want: /is a Dropout/,
    },
    {
      name: 'a tanh dense layer',
      build: () => {
        const d = tf.layers.dense({ units: 4, activation: 'tanh' });
        return { model: ModelSpec.conv().with(tf.layers.flatten()).with(d).with(tf.layers.dense({ units: 3 })).build(), layer: d.name };
      },
      want: /has activation tanh/,
    },
    {
      name: 'a tanh conv layer',
      build: () => {
        const c = tf.layers.conv2d({ filters: 2, kernelSize: 3, activation: 'tanh' });
        return { model: ModelSpec.conv().with(c).head().build(), layer: c.name };
      },
      want: /has activation tanh/,
    },
    {
      name: 'a softmax output',
      build: () => {
        const d = tf.layers.dense({ units: 3, activation: 'softmax' });
        return { model: ModelSpec.conv().with(tf.layers.flatten()).with(d).build(), layer: d.name };
      },
      want: /has activation softmax/,
    },
    {
      name: 'a dilated conv',
      build: () => {
        const c = tf.layers.conv2d({ filters: 2, kernelSize: 3, dilationRate: 2 });
        return { model: ModelSpec.conv().with(c).head().build(), layer: c.name };
      },
      want: /is dilated/,
    },
    {
      name: 'a frozen layer',
      build: () => {
        const d = tf.layers.dense({ units: 3 });
        const model = ModelSpec.conv().with(tf.layers.flatten()).with(d).build();
        d.trainable = false;
        return { model, layer: d.name };
      },
      want: /has non-trainable weights/,
    },
  ];
  for (const c of rejected) {
    test(`rejects ${c.name}, naming the layer`, () => {
      const { model, layer } = c.build();
      const plan = planSequentialModel(model);
      assert.ok(!plan.ok, `planned: ${JSON.stringify(plan)}`);
      assert.match(plan.reason, c.want);
      assert.ok(plan.reason.includes(layer), `reason names ${layer}: ${plan.reason}`);
      model.dispose();
    });
  }

  test('rejects a model without a logits output of rank 2', () => {
    const model = ModelSpec.conv().build();
    const plan = planSequentialModel(model);
    assert.ok(!plan.ok);
    assert.match(plan.reason, /the output is not \[batch, classes\]/);
    model.dispose();
  });

  test('rejects a model whose input is not an image batch', () => {
    const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [5], units: 3 })] });
    const plan = planSequentialModel(model);
    assert.ok(!plan.ok);
    assert.match(plan.reason, /needs one input of shape \[batch, h, w, c\]/);
    model.dispose();
  });

  test('rejects a model with two outputs (two heads on one feature layer)', () => {
    // Every layer has one inbound layer, but the heads are siblings: chaining them would compute neither output.
    const model = twoHeadModel();
    const plan = planSequentialModel(model);
    assert.ok(!plan.ok, `planned as a chain: ${JSON.stringify(plan.ok ? plan.layers : plan.reason)}`);
    model.dispose();
  });
});
