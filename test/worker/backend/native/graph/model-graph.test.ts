import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { eigenBackpropInputPadding, MAX_EIGEN_INPUT_CHANNELS as KERNEL_MAX_EIGEN_INPUT_CHANNELS } from '../../../../../worker/backend/native/conv2d-backprop-input-kernel.js';
import { MAX_EIGEN_INPUT_CHANNELS, samePadding } from '../../../../../worker/backend/native/graph/model-graph.js';
import type { PlanLayer } from '../../../../../worker/backend/native/graph/sequential-plan.js';
import { ATTACK_GRAPH, buildLossGradGraph, buildSignAttackGraph, LOSS_GRAD_GRAPH, type GraphModel } from '../../../../../worker/backend/native/graph/step-graphs.js';
import { SMALL_CNN_GRAPH_MODEL } from './_small-cnn-graph-model.js';
import { decodeSavedModel, type DecodedNode } from './_tf-protos.js';

describe('samePadding', () => {
  // [before, after] of one spatial dimension; TF puts an odd total's extra row/column at the end.
  const cases: readonly { name: string; input: [number, number, number, 'SAME' | 'VALID']; want: [number, number] }[] = [
    { name: 'small-cnn conv1: 28, 4x4/2', input: [28, 4, 2, 'SAME'], want: [1, 1] },
    { name: 'small-cnn conv2: 14, 4x4/2', input: [14, 4, 2, 'SAME'], want: [1, 1] },
    { name: 'madry conv: 28, 5x5/1', input: [28, 5, 1, 'SAME'], want: [2, 2] },
    { name: 'odd total 3 (9, 4/2): extra at the end', input: [9, 4, 2, 'SAME'], want: [1, 2] },
    { name: 'odd total 3 (11, 4/2): extra at the end', input: [11, 4, 2, 'SAME'], want: [1, 2] },
    { name: 'odd total 1 (28, 2/1)', input: [28, 2, 1, 'SAME'], want: [0, 1] },
    { name: 'pool 2/2 on an even size needs none', input: [14, 2, 2, 'SAME'], want: [0, 0] },
    { name: 'pool 2/2 on an odd size pads the end', input: [7, 2, 2, 'SAME'], want: [0, 1] },
    { name: 'kernel smaller than stride never pads negative', input: [6, 1, 3, 'SAME'], want: [0, 0] },
    { name: '1x1 stride 1', input: [5, 1, 1, 'SAME'], want: [0, 0] },
    { name: 'kernel larger than the input', input: [3, 7, 1, 'SAME'], want: [3, 3] },
    { name: 'VALID pads nothing', input: [28, 5, 1, 'VALID'], want: [0, 0] },
    { name: 'VALID with a stride', input: [9, 4, 2, 'VALID'], want: [0, 0] },
  ];
  for (const c of cases) {
    test(`${c.name}: [${c.want.join(', ')}]`, () => assert.deepEqual(samePadding(...c.input), c.want));
  }

  test('uses the same channel limit as the eager Conv2DBackpropInput kernel', () => {
    assert.equal(MAX_EIGEN_INPUT_CHANNELS, KERNEL_MAX_EIGEN_INPUT_CHANNELS);
  });

  // The eager kernel's padding (from tfjs's computeConv2DInfo) over a grid of sizes: both must be TF's numbers.
  test('agrees with the eager kernel’s eigenBackpropInputPadding over h, w in 1..12, kernels 1..6, strides 1..4', () => {
    let compared = 0;
    for (const pad of ['same', 'valid'] as const) {
      for (let h = 1; h <= 12; h++) {
        for (const w of [h, 13 - h]) {
          for (let k = 1; k <= 6; k++) {
            for (let s = 1; s <= 4; s++) {
              if (pad === 'valid' && (k > h || k > w)) continue;
              const kw = Math.max(1, 7 - k);
              if (pad === 'valid' && kw > w) continue;
              const want = eigenBackpropInputPadding({ inputShape: [1, h, w, 1], strides: [s, 5 - s], pad, dataFormat: 'NHWC' }, [k, kw, 1, 2]);
              const mode = pad === 'same' ? 'SAME' : 'VALID';
              const got = [...samePadding(h, k, s, mode), ...samePadding(w, kw, 5 - s, mode)];
              assert.deepEqual(got, want, `${pad} ${h}x${w} kernel ${k}x${kw} strides ${s},${5 - s}`);
              compared++;
            }
          }
        }
      }
    }
    assert.equal(compared, 576 + 324, "576 same cases and the 324 valid ones whose kernel fits");
  });
});

const SMALL_CNN = SMALL_CNN_GRAPH_MODEL;

/**
 * A tiny pre-activation block: conv → BN → ReLU, whose output feeds both a
 * strided 1×1 shortcut conv and a strided 3×3 conv, added, then global
 * average pooling and a dense head.
 */
const TINY_RESNET: GraphModel = {
  inputShape: [8, 8, 3],
  numWeights: 7,
  numNonTrainable: 2,
  layers: [
    { kind: 'conv2d', inShape: [8, 8, 3], kernelSize: [3, 3], strides: [1, 1], padding: 'SAME', activation: 'linear', kernel: 0, bias: null },
    { kind: 'batchnorm', channels: 4, gamma: 1, beta: 2, movingMean: 0, movingVariance: 1, epsilon: 1e-5, momentum: 0.9 },
    { kind: 'relu' },
    { kind: 'conv2d', inShape: [8, 8, 4], kernelSize: [1, 1], strides: [2, 2], padding: 'SAME', activation: 'linear', kernel: 3, bias: null },
    { kind: 'conv2d', inShape: [8, 8, 4], kernelSize: [3, 3], strides: [2, 2], padding: 'SAME', activation: 'linear', kernel: 4, bias: null },
    { kind: 'add' },
    { kind: 'globalAvgPool', inShape: [4, 4, 4] },
    { kind: 'dense', activation: 'linear', kernel: 5, bias: 6 },
  ] satisfies PlanLayer[],
  inputs: [[-1], [0], [1], [2], [2], [4, 3], [5], [6]],
  output: 7,
};

function nodesOf(savedModel: Uint8Array): DecodedNode[] {
  return decodeSavedModel(savedModel).metaGraphs[0]?.graphDef?.node ?? [];
}

const text = (b: Uint8Array | undefined): string => new TextDecoder().decode(b);

/** Each Conv2DBackpropInput's padding, with the explicit numbers when EXPLICIT. */
function inputGradPaddings(nodes: readonly DecodedNode[]): string[] {
  return nodes
    .filter((n) => n.op === 'Conv2DBackpropInput')
    .map((n) => {
      const pad = text(n.attr?.['padding']?.s);
      return pad === 'EXPLICIT' ? `EXPLICIT ${(n.attr?.['explicit_paddings']?.list?.i ?? []).join(',')}` : pad;
    });
}

describe('step graphs built from a plan', () => {
  const routing = [
    { name: 'CPU: the 1-channel conv’s input gradient goes to Eigen with explicit padding', eigenFewChannels: true, want: ['SAME', 'EXPLICIT 0,0,1,1,1,1,0,0'] },
    { name: 'GPU: every input gradient keeps SAME', eigenFewChannels: false, want: ['SAME', 'SAME'] },
  ];
  for (const c of routing) {
    test(`attack graph, ${c.name}`, () => {
      // Emitted top layer first: the 16-channel conv, then the 1-channel one.
      assert.deepEqual(inputGradPaddings(nodesOf(buildSignAttackGraph(SMALL_CNN, 1, { eigenFewChannels: c.eigenFewChannels }))), c.want);
    });
  }

  test('the attack graph unrolls one forward/backward pass per step and names its output', () => {
    for (const steps of [1, 3]) {
      const nodes = nodesOf(buildSignAttackGraph(SMALL_CNN, steps, { eigenFewChannels: true }));
      const count = (op: string): number => nodes.filter((n) => n.op === op).length;
      assert.deepEqual(
        { sign: count('Sign'), ce: count('SparseSoftmaxCrossEntropyWithLogits'), conv: count('Conv2D'), backpropInput: count('Conv2DBackpropInput'), backpropFilter: count('Conv2DBackpropFilter') },
        { sign: steps, ce: steps, conv: 2 * steps, backpropInput: 2 * steps, backpropFilter: 0 },
        `${steps} steps`,
      );
      const out = nodes.filter((n) => n.name === ATTACK_GRAPH.output);
      assert.equal(out.length, 1);
      assert.equal(out[0]!.op, 'Minimum');
      const placeholders = nodes.filter((n) => n.op === 'Placeholder').map((n) => n.name);
      assert.deepEqual(placeholders, ['x', 'y', 'start', 'eps', 'step_size', 'w_0', 'w_1', 'w_2', 'w_3', 'w_4', 'w_5', 'w_6', 'w_7']);
    }
  });

  test('attack chains: the batch is split once (x, y, start), each chain unrolls every step, and the chains are concatenated into the output', () => {
    for (const chains of [2, 3]) {
      const nodes = nodesOf(buildSignAttackGraph(SMALL_CNN, 2, { eigenFewChannels: true, attackChains: chains }));
      const count = (op: string): number => nodes.filter((n) => n.op === op).length;
      assert.deepEqual({ split: count('SplitV'), sign: count('Sign'), conv: count('Conv2D') }, { split: 3, sign: 2 * chains, conv: 4 * chains }, `${chains} chains`);
      const out = nodes.filter((n) => n.name === ATTACK_GRAPH.output);
      assert.equal(out.length, 1);
      assert.equal(out[0]!.op, 'ConcatV2');
      // The chains' last Minimum nodes, in chain order, then the axis.
      assert.equal(out[0]!.input?.length, chains + 1);
    }
  });

  for (const chains of [0, 1.5, NaN]) {
    test(`the attack graph rejects attackChains ${chains}`, () => {
      assert.throws(() => buildSignAttackGraph(SMALL_CNN, 1, { eigenFewChannels: true, attackChains: chains }), /attackChains must be an integer >= 1/);
    });
  }

  const badSteps = [0, -1, 1.5, NaN];
  for (const steps of badSteps) {
    test(`the attack graph rejects steps ${steps}`, () => {
      assert.throws(() => buildSignAttackGraph(SMALL_CNN, steps, { eigenFewChannels: true }), /steps must be an integer >= 1/);
    });
  }

  test('the loss-gradient graph computes every weight gradient and no input gradient below the first layer', () => {
    const nodes = nodesOf(buildLossGradGraph(SMALL_CNN, { eigenFewChannels: true }));
    // Only the second conv needs an input gradient (to reach the first conv's weights).
    assert.deepEqual(inputGradPaddings(nodes), ['SAME']);
    assert.equal(nodes.filter((n) => n.op === 'Conv2DBackpropFilter').length, 2);
    const grads = nodes.filter((n) => n.name.startsWith(LOSS_GRAD_GRAPH.gradPrefix));
    assert.deepEqual(
      grads.map((n) => [n.name, n.op]),
      Array.from({ length: 8 }, (_, i) => [`grad_${i}`, 'Identity']),
    );
    // Kernels come from MatMul / Conv2DBackpropFilter, biases from BiasAddGrad.
    const source = (i: number): string => nodes.find((n) => n.name === grads[i]!.input?.[0])?.op ?? '?';
    assert.deepEqual(
      Array.from({ length: 8 }, (_, i) => source(i)),
      ['Conv2DBackpropFilter', 'BiasAddGrad', 'Conv2DBackpropFilter', 'BiasAddGrad', 'MatMul', 'BiasAddGrad', 'MatMul', 'BiasAddGrad'],
    );
    const loss = nodes.find((n) => n.name === LOSS_GRAD_GRAPH.loss);
    assert.equal(loss?.op, 'Sum');
  });

  const ints = (n: DecodedNode | undefined, attr: string): number[] => (n?.attr?.[attr]?.list?.i ?? []).map(Number);

  test('a strided 1x1 conv’s filter gradient is taken on the strided input at stride 1 (never oneDNN’s strided 1x1 Conv2DBackpropFilter)', () => {
    const nodes = nodesOf(buildLossGradGraph(TINY_RESNET, { eigenFewChannels: true }));
    const byName = new Map(nodes.map((n) => [n.name, n]));
    const filters = nodes.filter((n) => n.op === 'Conv2DBackpropFilter');
    assert.equal(filters.length, 3, 'one per conv');
    const strided = filters.filter((n) => byName.get(n.input![0]!)?.op === 'StridedSlice');
    assert.equal(strided.length, 1);
    assert.deepEqual(ints(strided[0], 'strides'), [1, 1, 1, 1]);
    assert.equal(text(strided[0]!.attr?.['padding']?.s), 'VALID');
    const slice = byName.get(strided[0]!.input![0]!)!;
    assert.equal(Number(slice.attr?.['begin_mask']?.i), 15);
    assert.equal(Number(slice.attr?.['end_mask']?.i), 15);
    // The slice's strides constant is [1, 2, 2, 1]: read it from the Const node.
    const stridesConst = byName.get(slice.input![3]!)!;
    assert.deepEqual(Array.from(new Int32Array(Uint8Array.from(stridesConst.attr!['value']!.tensor!.tensorContent!).buffer)), [1, 2, 2, 1]);
    // The 3x3 stride-2 conv keeps its own gradient.
    assert.ok(filters.some((n) => ints(n, 'strides').join() === '1,2,2,1' && byName.get(n.input![0]!)?.op !== 'StridedSlice'));
  });

  test('BatchNorm: FusedBatchNorm in inference form only (no FusedBatchNormGrad), on the moving statistics in the attack and the batch ones in the loss gradient', () => {
    const attack = nodesOf(buildSignAttackGraph(TINY_RESNET, 2, { eigenFewChannels: true }));
    const loss = nodesOf(buildLossGradGraph(TINY_RESNET, { eigenFewChannels: true }));
    for (const nodes of [attack, loss]) {
      assert.equal(nodes.filter((n) => n.op.startsWith('FusedBatchNormGrad')).length, 0);
      for (const n of nodes.filter((m) => m.op === 'FusedBatchNorm')) assert.equal(n.attr?.['is_training']?.b ?? false, false);
    }
    const attackBn = attack.filter((n) => n.op === 'FusedBatchNorm');
    assert.equal(attackBn.length, 2, 'one per step');
    for (const n of attackBn) assert.deepEqual(n.input!.slice(1), ['w_1', 'w_2', 's_0', 's_1']);
    assert.deepEqual(attack.filter((n) => n.op === 'Placeholder').map((n) => n.name).slice(-2), ['s_0', 's_1']);
    const lossBn = loss.filter((n) => n.op === 'FusedBatchNorm');
    assert.equal(lossBn.length, 1);
    const byName = new Map(loss.map((n) => [n.name, n]));
    assert.deepEqual(lossBn[0]!.input!.slice(3).map((i) => byName.get(i)?.op), ['Mean', 'Mean'], 'batch mean and variance');
    assert.equal(loss.filter((n) => n.op === 'Placeholder' && n.name.startsWith('s_')).length, 0, 'no moving statistics in training mode');
  });

  test('a node feeding two consumers (the pre-activation feeding both convs) gets the sum of their gradients', () => {
    const nodes = nodesOf(buildLossGradGraph(TINY_RESNET, { eigenFewChannels: true }));
    const byName = new Map(nodes.map((n) => [n.name, n]));
    const sums = nodes.filter((n) => n.op === 'AddN');
    assert.equal(sums.length, 1);
    assert.deepEqual(sums[0]!.input!.map((i) => byName.get(i)?.op), ['Conv2DBackpropInput', 'Conv2DBackpropInput']);
    // ...and that sum is what the ReLU back-propagates.
    assert.ok(nodes.some((n) => n.op === 'ReluGrad' && n.input![0] === sums[0]!.name));
  });

  test('the 2-branch loss-gradient graph: inputs per branch, summed loss and gradients, batch statistics per branch and BatchNorm', () => {
    const nodes = nodesOf(buildLossGradGraph(TINY_RESNET, { eigenFewChannels: true }, 2));
    const byName = new Map(nodes.map((n) => [n.name, n]));
    assert.deepEqual(
      nodes.filter((n) => n.op === 'Placeholder' && !n.name.startsWith('w_')).map((n) => n.name),
      ['x', 'y', 'example_weight', 'x_1', 'y_1', 'example_weight_1'],
    );
    assert.equal(byName.get(LOSS_GRAD_GRAPH.loss)?.op, 'AddN');
    for (let i = 0; i < TINY_RESNET.numWeights; i++) assert.equal(byName.get(`grad_${i}`)?.op, 'AddN', `grad_${i}`);
    for (const name of ['bn_mean_0_1', 'bn_var_0_1', 'bn_mean_1_1', 'bn_var_1_1']) {
      assert.equal(byName.get(name)?.op, 'Identity', name);
      assert.equal(byName.get(byName.get(name)!.input![0]!)?.op, 'Mean', `${name} reads a Mean`);
    }
    assert.equal(nodes.filter((n) => n.op === 'FusedBatchNorm').length, 2, 'one forward pass per branch');
    assert.throws(() => buildLossGradGraph(TINY_RESNET, { eigenFewChannels: true }, 0), /branches must be an integer >= 1/);
  });
});
