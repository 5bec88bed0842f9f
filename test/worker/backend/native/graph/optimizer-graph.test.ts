import { before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import type { OptimizerId } from '../../../../../common/contract.js';
import { createNativeCompiledStep } from '../../../../../worker/backend/native/graph/native-compiled-step.js';
import { buildUpdateGraph, updateNames } from '../../../../../worker/backend/native/graph/optimizer-graph.js';
import { ruleScalarNames } from '../../../../../worker/train/optimizers/update-rules.js';
import type { CompiledStep } from '../../../../../worker/train/compiled-step.js';
import { createModel } from '../../../../../worker/train/models/index.js';
import { createOptimizer, type OptimizerHyper, type OptimizerState } from '../../../../../worker/train/optimizers/index.js';
import { ruleSlotKinds, type UpdateRule } from '../../../../../worker/train/optimizers/types.js';
import { DatError } from '../../../../../common/errors.js';
import { initBackends, skipIfUnavailable } from '../../_compare.js';
import { MNIST_SHAPE, NUM_CLASSES } from './_fixtures.js';
import { decodeSavedModel, type DecodedNode } from './_tf-protos.js';

function nodesOf(savedModel: Uint8Array): DecodedNode[] {
  return decodeSavedModel(savedModel).metaGraphs[0]?.graphDef?.node ?? [];
}

const RULES: readonly { name: string; rule: UpdateRule; scalars: string[]; slots: string[] }[] = [
  { name: 'sgd with momentum', rule: { kind: 'sgd', momentum: 0.9, weightDecay: 0 }, scalars: ['lr'], slots: ['momentum'] },
  { name: 'sgd without momentum', rule: { kind: 'sgd', momentum: 0, weightDecay: 0.1 }, scalars: ['lr'], slots: [] },
  { name: 'lars', rule: { kind: 'lars', momentum: 0.9, epsilon: 1e-8, weightDecay: 0, trustCoefficient: 0.001 }, scalars: ['lr'], slots: ['momentum'] },
  { name: 'adam', rule: { kind: 'adam', beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0 }, scalars: ['lr', 'bias1', 'bias2'], slots: ['m', 'v'] },
  { name: 'lamb', rule: { kind: 'lamb', beta1: 0.9, beta2: 0.999, epsilon: 1e-6, weightDecay: 0.01, weightNormCap: 10 }, scalars: ['lr'], slots: ['m', 'v'] },
  {
    name: 'lamb, v freezing',
    rule: { kind: 'lamb', beta1: 0, beta2: 0.999, epsilon: 1e-6, weightDecay: 0.01, weightNormCap: 10, freezeSecondMomentAfter: 50 },
    scalars: ['lr', 'vDecay', 'vGain'],
    slots: ['m', 'v'],
  },
];

describe('update graph (pure)', () => {
  for (const c of RULES) {
    test(`${c.name}: scalar inputs, then per variable its value, gradient and slots; one output per new value`, () => {
      assert.deepEqual(ruleScalarNames(c.rule), c.scalars);
      assert.deepEqual(ruleSlotKinds(c.rule), c.slots);
      const nodes = nodesOf(buildUpdateGraph(c.rule, 3));
      const placeholders = nodes.filter((n) => n.op === 'Placeholder').map((n) => n.name);
      const perVar = (i: number): string[] => [updateNames.weight(i), updateNames.grad(i), ...c.slots.map((k) => updateNames.slot(k, i))];
      assert.deepEqual(placeholders, [...c.scalars, ...perVar(0), ...perVar(1), ...perVar(2)]);
      const outputs = nodes.filter((n) => n.name.startsWith('new_')).map((n) => n.name);
      assert.deepEqual(outputs.sort(), [0, 1, 2].flatMap((i) => [updateNames.newWeight(i), ...c.slots.map((k) => updateNames.newSlot(k, i))]).sort());
    });
  }

  for (const n of [0, -1, 1.5]) {
    test(`rejects numVars ${n}`, () => {
      assert.throws(() => buildUpdateGraph(RULES[0]!.rule, n), /numVars must be an integer >= 1/);
    });
  }
});

/** Optimizer, hyperparameters, and what the variables and gradients look like. */
interface Case {
  readonly name: string;
  readonly id: OptimizerId;
  readonly hyper: OptimizerHyper;
  /** Variable values: the small CNN's initial weights, or zeros (the trust-ratio guards). */
  readonly weights: 'model' | 'zeros';
  /** Gradients: random per step, or zeros (the other guard). */
  readonly grads: 'random' | 'zeros';
  /** The update leaves the weights where they are. */
  readonly still?: true;
}

const CASES: readonly Case[] = [
  { name: 'sgd, momentum and weight decay', id: 'sgd', hyper: { weightDecay: 5e-4, momentum: 0.9 }, weights: 'model', grads: 'random' },
  { name: 'sgd, plain', id: 'sgd', hyper: { weightDecay: 0, momentum: 0 }, weights: 'model', grads: 'random' },
  { name: 'lars, momentum and weight decay', id: 'lars', hyper: { weightDecay: 5e-4, momentum: 0.9 }, weights: 'model', grads: 'random' },
  { name: 'lars, zero weights (trust 1)', id: 'lars', hyper: { weightDecay: 0.1, momentum: 0 }, weights: 'zeros', grads: 'random' },
  { name: 'lars, zero gradients (trust 1)', id: 'lars', hyper: { weightDecay: 0.1, momentum: 0.9 }, weights: 'model', grads: 'zeros' },
  { name: 'adam', id: 'adam', hyper: { weightDecay: 0, momentum: 0 }, weights: 'model', grads: 'random' },
  { name: 'adam, weight decay and custom betas', id: 'adam', hyper: { weightDecay: 0.1, momentum: 0, beta1: 0.8, beta2: 0.99, epsilon: 1e-3 }, weights: 'model', grads: 'random' },
  { name: 'lamb (DAT defaults)', id: 'lamb', hyper: { weightDecay: 0, momentum: 0 }, weights: 'model', grads: 'random' },
  { name: 'lamb, weight decay', id: 'lamb', hyper: { weightDecay: 0.01, momentum: 0 }, weights: 'model', grads: 'random' },
  // beta1 = 0: what sign compressions with local momentum run.
  { name: 'lamb, beta1 0', id: 'lamb', hyper: { weightDecay: 0.01, momentum: 0, beta1: 0 }, weights: 'model', grads: 'random' },
  // What sign-ef runs: v frozen after the warm-up (here update 2 of 4).
  { name: 'lamb, beta1 0, v frozen after 2 updates', id: 'lamb', hyper: { weightDecay: 0.01, momentum: 0, beta1: 0, freezeSecondMomentAfter: 2 }, weights: 'model', grads: 'random' },
  { name: 'lamb, zero weights (trust 1)', id: 'lamb', hyper: { weightDecay: 0.01, momentum: 0 }, weights: 'zeros', grads: 'random' },
  { name: 'lamb, zero gradients and no decay (u = 0, trust 1)', id: 'lamb', hyper: { weightDecay: 0, momentum: 0 }, weights: 'model', grads: 'zeros', still: true },
];

const STEPS = 4;

interface Run {
  readonly weights: Float32Array[];
  /** Some weight changed. */
  readonly moved: boolean;
  readonly state: OptimizerState;
}

/** `STEPS` updates of a fresh small CNN's weights, eagerly or through `compiled`; learning rate and gradients change per step. */
function run(c: Case, compiled: CompiledStep | undefined, start?: OptimizerState): Run {
  const model = createModel('small-cnn', MNIST_SHAPE, NUM_CLASSES, 1);
  const opt = createOptimizer(c.id, c.hyper);
  try {
    if (start !== undefined) opt.setState(start);
    const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
    if (c.weights === 'zeros') for (const v of vars) v.assign(tf.zerosLike(v));
    const initial = vars.map((v) => Float32Array.from(v.dataSync()));
    for (let s = 0; s < STEPS; s++) {
      const grads = vars.map((v, i) => (c.grads === 'zeros' ? tf.zerosLike(v) : tf.randomNormal(v.shape, 0, 0.1, 'float32', 100 * s + i + 1)));
      opt.apply(vars, grads, 0.01 * (s + 1), compiled);
      tf.dispose(grads);
    }
    const weights = vars.map((v) => Float32Array.from(v.dataSync()));
    return { weights, moved: weights.some((w, i) => w.some((x, j) => x !== initial[i]![j])), state: opt.getState() };
  } finally {
    opt.dispose();
    model.dispose();
  }
}

function assertIdentical(want: Run, got: Run, what: string): void {
  assert.equal(got.weights.length, want.weights.length);
  want.weights.forEach((w, i) => assert.deepEqual(got.weights[i], w, `${what}: variable ${i}`));
  assert.equal(got.state.step, want.state.step, `${what}: step count`);
  assert.deepEqual(
    got.state.slots.map((s) => s.name),
    want.state.slots.map((s) => s.name),
    `${what}: slots, in the same order`,
  );
  want.state.slots.forEach((s, k) => assert.deepEqual(got.state.slots[k]!.values, s.values, `${what}: slot ${s.name}`));
}

describe('compiled optimizer update (native backend)', () => {
  before(initBackends);

  async function useNative(t: TestContext): Promise<CompiledStep | undefined> {
    if (skipIfUnavailable(t, 'tensorflow')) return undefined;
    await tf.setBackend('tensorflow');
    const model = createModel('small-cnn', MNIST_SHAPE, NUM_CLASSES, 1);
    const r = createNativeCompiledStep(model);
    model.dispose();
    assert.ok(r.ok, r.ok ? '' : r.reason);
    return r.step;
  }

  for (const c of CASES) {
    // Bit for bit: the graph runs the eager update's ops on the same kernels, in the same order.
    test(`${c.name}: ${STEPS} compiled updates equal the eager ones exactly (weights and state)`, async (t) => {
      const compiled = await useNative(t);
      if (compiled === undefined) return;
      try {
        const eager = run(c, undefined);
        assert.equal(eager.moved, c.still !== true, 'the eager update moves the weights (or, for this case, leaves them)');
        assertIdentical(eager, run(c, compiled), c.name);
      } finally {
        compiled.dispose();
      }
    });
  }

  test('a restored state (a checkpoint) continues identically', async (t) => {
    const compiled = await useNative(t);
    if (compiled === undefined) return;
    try {
      const c = CASES.find((x) => x.id === 'lamb')!;
      const saved = run(c, undefined).state;
      assertIdentical(run(c, undefined, saved), run(c, compiled, saved), 'after restore');
    } finally {
      compiled.dispose();
    }
  });

  test('keeps tf.memory().numTensors flat across updates', async (t) => {
    const compiled = await useNative(t);
    if (compiled === undefined) return;
    const model = createModel('small-cnn', MNIST_SHAPE, NUM_CLASSES, 1);
    const opt = createOptimizer('lamb', { weightDecay: 0.01, momentum: 0 });
    const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
    const grads = vars.map((v, i) => tf.randomNormal(v.shape, 0, 0.1, 'float32', i + 1));
    try {
      // The first update creates the state and loads the graph.
      opt.apply(vars, grads, 0.01, compiled);
      const before = tf.memory().numTensors;
      for (let s = 0; s < 3; s++) {
        opt.apply(vars, grads, 0.01, compiled);
        assert.equal(tf.memory().numTensors, before, `update ${s + 2}`);
      }
    } finally {
      tf.dispose(grads);
      opt.dispose();
      model.dispose();
      compiled.dispose();
    }
  });

  test('rejects mismatched inputs and use after dispose with a DatError', async (t) => {
    const compiled = await useNative(t);
    if (compiled === undefined) return;
    const w = tf.ones([3]);
    const rule: UpdateRule = { kind: 'adam', beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0 };
    try {
      assert.throws(() => compiled.optimizerUpdate({ rule, step: 1, lr: 0.1, vars: [w], grads: [w], slots: [[w]] }), (e: unknown) => e instanceof DatError && /slot kinds/.test(e.message));
      compiled.dispose();
      assert.throws(() => compiled.optimizerUpdate({ rule, step: 1, lr: 0.1, vars: [w], grads: [w], slots: [[w], [w]] }), (e: unknown) => e instanceof DatError && /dispose/.test(e.message));
    } finally {
      w.dispose();
      compiled.dispose();
    }
  });
});
