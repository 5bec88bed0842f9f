import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import type { ModelId } from '../../../../../worker/contract.js';
import { planSequentialModel, type PlanLayer } from '../../../../../worker/backend/native/graph/sequential-plan.js';
import { createModel } from '../../../../../worker/train/models/index.js';

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

/** flatten, then two heads on the same features: not one stack, though every layer has one input. */
function twoHeadModel(): tf.LayersModel {
  const input = tf.input({ shape: [4, 4, 1] });
  const features = tf.layers.flatten().apply(input) as tf.SymbolicTensor;
  const a = tf.layers.dense({ units: 16 }).apply(features) as tf.SymbolicTensor;
  const b = tf.layers.dense({ units: 16 }).apply(features) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: [a, b] });
}

describe('planSequentialModel', () => {
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

  test('rejects preact-resnet (BatchNorm, residual adds), naming the layer', () => {
    const model = createModel('preact-resnet', [32, 32, 3], 10, 1);
    const plan = planSequentialModel(model);
    assert.equal(plan.ok, false);
    assert.ok(!plan.ok);
    const named = model.layers.map((l) => l.name).filter((n) => plan.reason.includes(n));
    assert.ok(named.length > 0, `reason names a layer of the model: ${plan.reason}`);
    assert.ok(plan.reason.startsWith(`${model.name}: `), plan.reason);
    model.dispose();
  });

  const rejected: readonly { name: string; build: () => { model: tf.LayersModel; layer: string }; want: RegExp }[] = [
    {
      name: 'BatchNormalization',
      build: () => {
        const bn = tf.layers.batchNormalization();
        return { model: ModelSpec.conv().with(bn).head().build(), layer: bn.name };
      },
      want: /has non-trainable weights/,
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
      name: 'a separate ReLU layer',
      build: () => {
        const r = tf.layers.reLU();
        return { model: ModelSpec.conv().with(r).head().build(), layer: r.name };
      },
      want: /is a ReLU/,
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
      name: 'a strided 1x1 conv (libtensorflow 2.9.1 filter-gradient bug)',
      build: () => {
        const c = tf.layers.conv2d({ filters: 2, kernelSize: 1, strides: [1, 2], activation: 'relu' });
        return { model: ModelSpec.conv().with(c).head().build(), layer: c.name };
      },
      want: /is a strided 1x1 conv/,
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
    {
      name: 'a residual add (functional model)',
      build: () => {
        const { model, addName } = residualModel();
        return { model, layer: addName };
      },
      want: /is not part of a plain stack/,
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
