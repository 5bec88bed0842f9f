import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import type { ModelId } from '../../../../../common/contract.js';
import { createNativeCompiledStep } from '../../../../../worker/backend/native/graph/native-compiled-step.js';
import { pgdAttack } from '../../../../../worker/train/attacks/index.js';
import type { CompiledStep, SignAttackArgs } from '../../../../../worker/train/compiled-step.js';
import { compiledStepEngine } from '../../../../../worker/train/compiled-step-engine.js';
import { crossEntropyPerExample } from '../../../../../worker/train/losses.js';
import { createModel } from '../../../../../worker/train/models/index.js';
import { trainableVariables } from '../../../../../worker/train/variables.js';
import { DatError } from '../../../../../common/errors.js';
import { initBackends, maxAbsDiff, skipIfUnavailable } from '../../_compare.js';
import { CIFAR_SHAPE, compareAttacks, MNIST_SHAPE, mnistBatch, NUM_CLASSES, REDUCED_RESNET_GRAD_REL_TOL, REDUCED_RESNET_NAME, reducedPreActResNet, restoreStats, snapshotStats, warmBatchNorm } from './_fixtures.js';

const MODELS: readonly ModelId[] = ['mlp', 'small-cnn', 'madry-cnn'];
const N = 8;

/**
 * Gradient tolerance, relative to the largest |gradient| of each weight
 * tensor: ~80 float32 ulps. The graph and the eager tape run the same
 * kernels but sum in different orders (BiasAddGrad against tfjs's sum, the
 * fused conv's gradient against the unfused ops); observed up to ~1e-6. A
 * wrong transpose, ReLU mask or weight index is off by O(1).
 */
const GRAD_REL_TOL = 1e-5;
/** The loss is a sum of 8 weighted CEs: a few ulps (observed 1 ulp). */
const LOSS_REL_TOL = 1e-6;
// Unequal, with a zero, so a graph ignoring the weights (or their order) shows.
const EXAMPLE_WEIGHTS = [0.1, 0.2, 0, 0.05, 0.3, 0.125, 0.1, 0.125];

/**
 * BatchNorm moving statistics after an update, relative to the largest
 * |statistic| of each tensor: the batch mean and variance come from the same
 * Mean ops as tf.moments (observed: identical), so a few ulps at most; a
 * wrong momentum, a Bessel correction or a missed branch is off by >1e-3.
 */
const STATS_REL_TOL = 1e-6;


/** preact-resnet at a reduced stage list (see _fixtures.ts), and its real default. */
const BN_MODELS: readonly { name: string; build: () => tf.LayersModel; gradTol: number }[] = [
  { name: REDUCED_RESNET_NAME, gradTol: REDUCED_RESNET_GRAD_REL_TOL, build: reducedPreActResNet },
  { name: 'preact-resnet (default stages)', build: () => createModel('preact-resnet', CIFAR_SHAPE, NUM_CLASSES, 1), gradTol: GRAD_REL_TOL },
];

/**
 * Compiled weightedCrossEntropyGrads over `seeds.length` branches against
 * eager tf.variableGrads of Σ_b Σᵢ wᵢ·CE(model.apply(x_b, training)), the
 * applies in branch order; also the moving statistics each side leaves
 * (both start from the same ones).
 */
async function branchErrors(model: tf.LayersModel, step: CompiledStep, seeds: readonly number[]): Promise<{ loss: number; grads: number[]; stats: number[] }> {
  const branches = seeds.map((seed, b) => {
    const { x, y } = mnistBatch(N).shape(CIFAR_SHAPE).seed(seed).tensors();
    return { x, y, weight: tf.tensor1d(EXAMPLE_WEIGHTS.map((w) => w * (b + 1))) };
  });
  const vars = trainableVariables(model);
  const start = snapshotStats(model);
  const ref = tf.variableGrads(
    () => tf.addN(branches.map((b) => tf.sum(tf.mul(crossEntropyPerExample(model.apply(b.x, { training: true }) as tf.Tensor2D, b.y), b.weight)))) as tf.Scalar,
    vars,
  );
  const eagerStats = snapshotStats(model);
  restoreStats(model, start);
  const got = step.weightedCrossEntropyGrads(branches);
  try {
    assert.equal(got.grads.length, vars.length, 'one gradient per trainable weight');
    const [wantLoss, gotLoss] = [(await ref.value.data())[0]!, (await got.loss.data())[0]!];
    const grads = vars.map((v, i) => {
      const g = got.grads[i]!;
      assert.deepEqual(g.shape, v.shape, `gradient ${i} shape`);
      const { diff, scale } = maxAbsDiff([Float32Array.from(ref.grads[v.name]!.dataSync())], [Float32Array.from(g.dataSync())]);
      assert.ok(scale > 0, `gradient ${i} (${v.name}) is all zero: the batch does not exercise it`);
      return diff / scale;
    });
    const gotStats = snapshotStats(model);
    const stats = eagerStats.map((want, j) => {
      const { diff, scale } = maxAbsDiff([want], [gotStats[j]!]);
      const moved = maxAbsDiff([start[j]!], [want]).diff;
      assert.ok(moved > 1e-3 * scale, `eager did not move statistic ${j}: not a meaningful comparison`);
      return diff / scale;
    });
    return { loss: Math.abs(gotLoss - wantLoss) / Math.abs(wantLoss), grads, stats };
  } finally {
    tf.dispose([...branches.flatMap((b) => [b.x, b.y, b.weight]), ref.value, ...Object.values(ref.grads), got.loss, ...got.grads]);
  }
}

/** The tensorflow backend is active for the rest of the test, or the test is skipped (returns false). */
async function useNative(t: TestContext): Promise<boolean> {
  if (skipIfUnavailable(t, 'tensorflow')) return false;
  await tf.setBackend('tensorflow');
  return true;
}

function compile(model: tf.LayersModel): CompiledStep {
  const r = createNativeCompiledStep(model);
  assert.ok(r.ok, r.ok ? '' : r.reason);
  return r.step;
}

/** Max relative error of each compiled gradient against eager `tf.variableGrads` of Σ wᵢ CEᵢ, and of the loss. */
async function gradErrors(model: tf.LayersModel, step: CompiledStep, seed: number): Promise<{ loss: number; grads: number[] }> {
  const { x, y } = mnistBatch(N).seed(seed).tensors();
  const w = tf.tensor1d(EXAMPLE_WEIGHTS);
  const vars = trainableVariables(model);
  const ref = tf.variableGrads(() => tf.sum(tf.mul(crossEntropyPerExample(model.apply(x, { training: true }) as tf.Tensor2D, y), w)) as tf.Scalar, vars);
  const got = step.weightedCrossEntropyGrads([{ x, y, weight: w }]);
  try {
    assert.equal(got.grads.length, vars.length, 'one gradient per trainable weight');
    const [wantLoss, gotLoss] = [(await ref.value.data())[0]!, (await got.loss.data())[0]!];
    const grads = await Promise.all(
      vars.map(async (v, i) => {
        const g = got.grads[i]!;
        assert.deepEqual(g.shape, v.shape, `gradient ${i} shape`);
        const { diff, scale } = maxAbsDiff([Float32Array.from(await ref.grads[v.name]!.data())], [Float32Array.from(await g.data())]);
        assert.ok(scale > 0, `gradient ${i} (${v.name}) is all zero: the batch does not exercise it`);
        return diff / scale;
      }),
    );
    return { loss: Math.abs(gotLoss - wantLoss) / Math.abs(wantLoss), grads };
  } finally {
    tf.dispose([x, y, w, ref.value, ...Object.values(ref.grads), got.loss, ...got.grads]);
  }
}

function assertGradErrors(t: TestContext, e: { loss: number; grads: number[] }, what: string, gradTol = GRAD_REL_TOL): void {
  t.diagnostic(`${what}: loss rel err ${e.loss.toExponential(2)}, grad rel err max ${Math.max(...e.grads).toExponential(2)} [${e.grads.map((g) => g.toExponential(1)).join(', ')}]`);
  assert.ok(e.loss <= LOSS_REL_TOL, `${what}: loss relative error ${e.loss}`);
  e.grads.forEach((g, i) => assert.ok(g <= gradTol, `${what}: gradient ${i} relative error ${g} > ${gradTol}`));
}

describe('createNativeCompiledStep on the tensorflow backend', () => {
  before(initBackends);
  after(async () => {
    await tf.setBackend('cpu');
  });

  for (const id of MODELS) {
    test(`${id}: weightedCrossEntropyGrads matches eager tf.variableGrads of Σ wᵢ·CEᵢ`, async (t) => {
      if (!(await useNative(t))) return;
      const model = createModel(id, MNIST_SHAPE, NUM_CLASSES, 1);
      const step = compile(model);
      try {
        assertGradErrors(t, await gradErrors(model, step, 3), id);
      } finally {
        step.dispose();
        model.dispose();
      }
    });
  }

  // The project's models only have symmetric SAME padding, biases everywhere and square strides; this one has none of that.
  test('an odd-sized stack (asymmetric SAME padding on the Eigen path, VALID, no bias, non-square strides) matches eager', async (t) => {
    if (!(await useNative(t))) return;
    const shape = [9, 11, 1] as const;
    const model = tf.sequential({
      layers: [
        // SAME 4x4 stride 2 on 9x11: padding [1, 2] rows and [1, 2] columns, routed to Eigen (1 channel).
        tf.layers.conv2d({ inputShape: [...shape], filters: 3, kernelSize: 4, strides: 2, padding: 'same', activation: 'relu', kernelInitializer: tf.initializers.heNormal({ seed: 1 }) }),
        tf.layers.conv2d({ filters: 6, kernelSize: [2, 3], strides: [1, 2], padding: 'valid', useBias: false, activation: 'relu', kernelInitializer: tf.initializers.heNormal({ seed: 2 }) }),
        tf.layers.maxPooling2d({ poolSize: [2, 1], strides: [1, 1], padding: 'valid' }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 5, useBias: false, kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) }),
      ],
    });
    // Non-zero biases, so a bias gradient routed to the wrong weight shows.
    model.layers[0]!.setWeights([model.layers[0]!.getWeights()[0]!, tf.tensor1d([0.1, -0.2, 0.05])]);
    const step = compile(model);
    const x = tf.tidy(() => tf.clipByValue(tf.randomUniform([N, ...shape], -0.5, 1.5, 'float32', 9), 0, 1) as tf.Tensor4D);
    const y = tf.tensor1d([0, 1, 2, 3, 4, 0, 1, 2], 'int32');
    const w = tf.tensor1d(EXAMPLE_WEIGHTS);
    const vars = trainableVariables(model);
    try {
      const p = { eps: 0.3, steps: 3, stepSize: 0.1, restarts: 1, randomStart: true, seed: 4 };
      const [eager, compiled] = [pgdAttack(model, x, y, p), pgdAttack(model, x, y, p, compiledStepEngine(step))];
      const cmp = compareAttacks(await x.data<'float32'>(), await eager.data<'float32'>(), await compiled.data<'float32'>(), p.eps);
      tf.dispose([eager, compiled]);
      t.diagnostic(`attack: ${cmp.differing} of ${cmp.total} pixels differ`);
      assert.equal(cmp.outside, 0);
      assert.ok(cmp.differing <= 1e-3 * cmp.total, `${cmp.differing} of ${cmp.total} pixels differ`);

      const ref = tf.variableGrads(() => tf.sum(tf.mul(crossEntropyPerExample(model.apply(x, { training: true }) as tf.Tensor2D, y), w)) as tf.Scalar, vars);
      const got = step.weightedCrossEntropyGrads([{ x, y, weight: w }]);
      const errs = vars.map((v, i) => {
        const { diff, scale } = maxAbsDiff([Float32Array.from(ref.grads[v.name]!.dataSync())], [Float32Array.from(got.grads[i]!.dataSync())]);
        return diff / scale;
      });
      const lossErr = Math.abs(got.loss.dataSync()[0]! - ref.value.dataSync()[0]!) / Math.abs(ref.value.dataSync()[0]!);
      tf.dispose([ref.value, ...Object.values(ref.grads), got.loss, ...got.grads]);
      assertGradErrors(t, { loss: lossErr, grads: errs }, 'odd-sized stack');
    } finally {
      tf.dispose([x, y, w]);
      step.dispose();
      model.dispose();
    }
  });

  // Batches of 32 or more run as 2 chains on a CPU (native-compiled-step.ts); 33 splits unevenly (16 + 17).
  for (const n of [33, 48]) {
    test(`a batch of ${n} (attack split into chains) matches the eager PGD attack`, async (t) => {
      if (!(await useNative(t))) return;
      const model = createModel('small-cnn', MNIST_SHAPE, NUM_CLASSES, 1);
      const step = compile(model);
      const { x, y } = mnistBatch(n).seed(10 + n).tensors();
      try {
        const p = { eps: 0.3, steps: 3, stepSize: 0.1, restarts: 1, randomStart: true, seed: 5 };
        const [eager, compiled] = [pgdAttack(model, x, y, p), pgdAttack(model, x, y, p, compiledStepEngine(step))];
        assert.deepEqual(compiled.shape, x.shape);
        const cmp = compareAttacks(await x.data<'float32'>(), await eager.data<'float32'>(), await compiled.data<'float32'>(), p.eps);
        tf.dispose([eager, compiled]);
        t.diagnostic(`attack, batch ${n}: ${cmp.differing} of ${cmp.total} pixels differ; eager moved ${cmp.moved}`);
        assert.equal(cmp.outside, 0);
        assert.ok(cmp.moved > 0.5 * cmp.total, 'the attack moved most pixels: a meaningful comparison');
        assert.ok(cmp.differing <= 1e-3 * cmp.total, `${cmp.differing} of ${cmp.total} pixels differ`);
      } finally {
        tf.dispose([x, y]);
        step.dispose();
        model.dispose();
      }
    });
  }

  test('reads the weights at each call: after an update, loss and gradients follow the model', async (t) => {
    if (!(await useNative(t))) return;
    const model = createModel('small-cnn', MNIST_SHAPE, NUM_CLASSES, 2);
    const step = compile(model);
    try {
      assertGradErrors(t, await gradErrors(model, step, 4), 'before the update');
      // Not a uniform scale: every weight changes differently.
      for (const [i, v] of trainableVariables(model).entries()) v.assign(tf.tidy(() => tf.add(v, tf.randomNormal(v.shape, 0, 0.05, 'float32', 100 + i))));
      assertGradErrors(t, await gradErrors(model, step, 4), 'after the update');
    } finally {
      step.dispose();
      model.dispose();
    }
  });

  test('keeps tf.memory().numTensors flat across 3 repeated calls of each part', async (t) => {
    if (!(await useNative(t))) return;
    const model = createModel('small-cnn', MNIST_SHAPE, NUM_CLASSES, 1);
    const step = compile(model);
    const { x, y } = mnistBatch(N).seed(5).tensors();
    const w = tf.fill([N], 1 / N) as tf.Tensor1D;
    const args: SignAttackArgs = { x, y, start: x, eps: 0.3, stepSize: 0.1, steps: 2 };
    try {
      // The first calls load the graphs.
      step.signAttack(args).dispose();
      const warm = step.weightedCrossEntropyGrads([{ x, y, weight: w }]);
      tf.dispose([warm.loss, ...warm.grads]);
      const before = tf.memory().numTensors;
      for (let i = 0; i < 3; i++) {
        const adv = step.signAttack(args);
        assert.equal(tf.memory().numTensors, before + 1, `call ${i}: the attack leaves only its result`);
        adv.dispose();
        const r = step.weightedCrossEntropyGrads([{ x, y, weight: w }]);
        assert.equal(tf.memory().numTensors, before + 1 + r.grads.length, `call ${i}: the loss gradient leaves only the loss and the gradients`);
        tf.dispose([r.loss, ...r.grads]);
        assert.equal(tf.memory().numTensors, before, `call ${i}`);
      }
    } finally {
      tf.dispose([x, y, w]);
      step.dispose();
      model.dispose();
    }
  });

  test('after dispose(), both parts throw a DatError (and dispose stays idempotent)', async (t) => {
    if (!(await useNative(t))) return;
    const model = createModel('mlp', MNIST_SHAPE, NUM_CLASSES, 1);
    const step = compile(model);
    const { x, y } = mnistBatch(2).seed(6).tensors();
    const w = tf.fill([2], 0.5) as tf.Tensor1D;
    try {
      step.signAttack({ x, y, start: x, eps: 0.1, stepSize: 0.1, steps: 1 }).dispose();
      const r = step.weightedCrossEntropyGrads([{ x, y, weight: w }]);
      tf.dispose([r.loss, ...r.grads]);
      step.dispose();
      step.dispose();
      const before = tf.memory().numTensors;
      const isDisposedError = (err: unknown): boolean => err instanceof DatError && /dispose/.test(err.message);
      // A step count already compiled, and one that is not: neither may quietly load a graph again.
      for (const steps of [1, 2]) assert.throws(() => step.signAttack({ x, y, start: x, eps: 0.1, stepSize: 0.1, steps }), isDisposedError, `signAttack steps ${steps}`);
      assert.throws(() => step.weightedCrossEntropyGrads([{ x, y, weight: w }]), isDisposedError, 'weightedCrossEntropyGrads');
      assert.equal(tf.memory().numTensors, before, 'a refused call leaks nothing');
    } finally {
      tf.dispose([x, y, w]);
      step.dispose();
      model.dispose();
    }
  });

  test('a model with a Dropout layer is not compiled, with the planner’s reason', async (t) => {
    if (!(await useNative(t))) return;
    const model = tf.sequential({ layers: [tf.layers.flatten({ inputShape: [4, 4, 1] }), tf.layers.dropout({ rate: 0.5 }), tf.layers.dense({ units: 3 })] });
    try {
      const r = createNativeCompiledStep(model);
      assert.ok(!r.ok, 'compiled a model with Dropout');
      assert.match(r.reason, /layer \S+ is a Dropout/);
    } finally {
      model.dispose();
    }
  });

  for (const m of BN_MODELS) {
    for (const seeds of [[31], [31, 32]] as const) {
      test(`${m.name}: weightedCrossEntropyGrads, ${seeds.length} branch(es), matches eager (loss, gradients, moving statistics)`, async (t) => {
        if (!(await useNative(t))) return;
        const model = m.build();
        warmBatchNorm(model, CIFAR_SHAPE);
        const step = compile(model);
        try {
          const e = await branchErrors(model, step, seeds);
          t.diagnostic(`moving statistics rel err max ${Math.max(...e.stats).toExponential(2)}`);
          assertGradErrors(t, e, m.name, m.gradTol);
          e.stats.forEach((err, j) => assert.ok(err <= STATS_REL_TOL, `statistic ${j}: relative error ${err}`));
        } finally {
          step.dispose();
          model.dispose();
        }
      });
    }

    test(`${m.name}: the PGD attack (BatchNorm on the moving statistics) matches eager`, async (t) => {
      if (!(await useNative(t))) return;
      const model = m.build();
      warmBatchNorm(model, CIFAR_SHAPE);
      const step = compile(model);
      const { x, y } = mnistBatch(N).shape(CIFAR_SHAPE).seed(33).tensors();
      try {
        const p = { eps: 8 / 255, steps: 3, stepSize: 2 / 255, restarts: 1, randomStart: true, seed: 4 };
        const stats = snapshotStats(model);
        const [eager, compiled] = [pgdAttack(model, x, y, p), pgdAttack(model, x, y, p, compiledStepEngine(step))];
        assert.deepEqual(snapshotStats(model), stats, 'an attack leaves the moving statistics alone');
        const cmp = compareAttacks(await x.data<'float32'>(), await eager.data<'float32'>(), await compiled.data<'float32'>(), p.eps);
        tf.dispose([eager, compiled]);
        t.diagnostic(`attack: ${cmp.differing} of ${cmp.total} pixels differ (max ${cmp.maxDiff}); eager moved ${cmp.moved}`);
        assert.equal(cmp.outside, 0);
        assert.ok(cmp.moved > cmp.total / 10, `the eager attack moved only ${cmp.moved} pixels`);
        assert.ok(cmp.differing <= 1e-3 * cmp.total, `${cmp.differing} of ${cmp.total} pixels differ`);
      } finally {
        tf.dispose([x, y]);
        step.dispose();
        model.dispose();
      }
    });
  }

  test('preact-resnet: tf.memory().numTensors stays flat across 3 attacks and 2-branch loss gradients', async (t) => {
    if (!(await useNative(t))) return;
    const model = BN_MODELS[0]!.build();
    const step = compile(model);
    const { x, y } = mnistBatch(N).shape(CIFAR_SHAPE).seed(34).tensors();
    const w = tf.fill([N], 1 / N) as tf.Tensor1D;
    const args: SignAttackArgs = { x, y, start: x, eps: 0.03, stepSize: 0.01, steps: 2 };
    const branches = [
      { x, y, weight: w },
      { x, y, weight: w },
    ];
    try {
      step.signAttack(args).dispose();
      const warm = step.weightedCrossEntropyGrads(branches);
      tf.dispose([warm.loss, ...warm.grads]);
      const before = tf.memory().numTensors;
      for (let i = 0; i < 3; i++) {
        step.signAttack(args).dispose();
        const r = step.weightedCrossEntropyGrads(branches);
        assert.equal(tf.memory().numTensors, before + 1 + r.grads.length, `call ${i}: the loss gradient leaves only the loss and the gradients`);
        tf.dispose([r.loss, ...r.grads]);
        assert.equal(tf.memory().numTensors, before, `call ${i}`);
      }
    } finally {
      tf.dispose([x, y, w]);
      step.dispose();
      model.dispose();
    }
  });

  test('a temp dir it cannot write gives ok false with the reason, not a crash', async (t) => {
    if (!(await useNative(t))) return;
    const model = createModel('mlp', MNIST_SHAPE, NUM_CLASSES, 1);
    const saved = process.env['TMPDIR'];
    process.env['TMPDIR'] = '/nonexistent-dat-tmp/sub';
    try {
      const r = createNativeCompiledStep(model);
      assert.ok(!r.ok, 'compiled without a writable temp dir');
      assert.match(r.reason, /loading the loss-gradient graph into libtensorflow failed \(set DAT_COMPILED_STEP=off to train eagerly\): .*nonexistent-dat-tmp/);
    } finally {
      if (saved === undefined) delete process.env['TMPDIR'];
      else process.env['TMPDIR'] = saved;
      model.dispose();
    }
  });
});

describe('createNativeCompiledStep on backends without TensorFlow graphs', () => {
  before(initBackends);
  after(async () => {
    await tf.setBackend('cpu');
  });

  const cases = [
    { backend: 'cpu', want: /^backend cpu does not run TensorFlow graphs$/ },
    { backend: 'wasm', want: /^backend wasm does not run TensorFlow graphs$/ },
  ] as const;
  for (const c of cases) {
    test(`${c.backend}: ok false, with the reason`, async (t) => {
      if (c.backend === 'wasm' && skipIfUnavailable(t, 'wasm')) return;
      await tf.setBackend(c.backend);
      const model = createModel('small-cnn', MNIST_SHAPE, NUM_CLASSES, 1);
      try {
        const r = createNativeCompiledStep(model);
        assert.ok(!r.ok, `compiled on ${c.backend}`);
        assert.match(r.reason, c.want);
      } finally {
        model.dispose();
      }
    });
  }
});
