/**
 * preact-resnet-18 on the compiled native step: the graph builder plans it
 * (its blocks are preact-resnet-8's: BatchNorm, ReLU, unfused convs, strided
 * 1×1 projections, identity shortcuts, adds), and one training step through
 * the real caller (computeGradients: PGD attack, then the adv + clean loss
 * gradient) agrees with the eager step it replaces.
 *
 * Kept small for two CPU cores: batch 2 on the full 32×32×3 input (0.56
 * GFLOP per image forward), PGD-2.
 *
 * The batch is chosen, not arbitrary: with 2 examples and a 4×4 last stage,
 * some batches put a BatchNorm output within float32 rounding of a ReLU
 * kink, and then a beta gradient jumps by 1/16 of its size between any two
 * summation orders. Measured on batch seeds 2 and 31: graph vs eager up to
 * 3.4e-1 relative, and eager tensorflow vs eager wasm (no graph involved)
 * up to 7.7e-2 on the same weights and batch. Seed 1 has no such tie: graph
 * vs eager agree to 7.5e-6, so a wrong gradient formula (off by >1e-2)
 * shows. The gradient is compared without an attack (x_adv = x), and the
 * attack separately, so a pixel flipped by a near-zero input gradient does
 * not move the batch onto a kink.
 */
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { createNativeCompiledStep } from '../../../../worker/backend/native/graph/native-compiled-step.js';
import { getAttack, type AttackParams } from '../../../../worker/train/attacks/index.js';
import { compiledStepEngine } from '../../../../worker/train/compiled-step-engine.js';
import { eagerStepEngine, type StepEngine } from '../../../../worker/train/step-engine.js';
import { createModel } from '../../../../worker/train/models/index.js';
import { computeGradients, type HostBatch, type StepConfig } from '../../../../worker/train/train-step.js';
import { trainableVariables } from '../../../../worker/train/variables.js';
import { initBackends, maxAbsDiff, skipIfUnavailable } from '../../backend/_compare.js';
import { CIFAR_SHAPE, compareAttacks, mnistBatch, type BatchBuilder, NUM_CLASSES, REDUCED_RESNET_GRAD_REL_TOL, restoreStats, snapshotStats, warmBatchNorm } from '../../backend/native/graph/_fixtures.js';

const N = 2;
/** The loss: a mean of 2 + 2 CEs, a few float32 ulps apart between graph and eager. */
const LOSS_REL_TOL = 1e-5;
/** BatchNorm moving statistics after the step (see native-compiled-step.test.ts). */
const STATS_REL_TOL = 1e-6;

const ATTACK: AttackParams = { eps: 8 / 255, steps: 2, stepSize: 4 / 255, restarts: 1, randomStart: true, seed: 1 };
/** Attack outputs may differ only where an input-gradient component is within rounding of 0 (see compiled-step-equivalence.test.ts). */
const MAX_DIFFERING_FRACTION = 1e-3;
/** The well-conditioned batch (see the module comment). */
const BATCH_SEED = 1;

const CFG: StepConfig = {
  attack: 'none',
  attackParams: ATTACK,
  loss: 'adv-clean',
  lambda: 1,
  beta: 6,
  numClasses: NUM_CLASSES,
  inputShape: CIFAR_SHAPE,
};

describe('the deep models on the compiled native step', () => {
  before(initBackends);
  after(async () => {
    await tf.setBackend('cpu');
  });

  test('preact-resnet-18 is planned; PGD-2 and the adv-clean loss gradient (batch 2) agree with eager', { timeout: 300_000 }, async (t) => {
    if (skipIfUnavailable(t, 'tensorflow')) return;
    await tf.setBackend('tensorflow');
    const model = createModel('preact-resnet-18', CIFAR_SHAPE, NUM_CLASSES, 1);
    const r = createNativeCompiledStep(model);
    try {
      assert.ok(r.ok, r.ok ? '' : `preact-resnet-18 is not planned: ${r.reason}`);
      // Moving statistics away from 0 and 1, so the attack's inference mode reads real ones.
      warmBatchNorm(model, CIFAR_SHAPE, 1);
      const batch = mnistBatch(N).shape(CIFAR_SHAPE).seed(BATCH_SEED);
      const engine = compiledStepEngine(r.step);
      await compareAttack(t, model, engine, batch);
      await compareGradients(t, model, engine, batch.build());
    } finally {
      if (r.ok) r.step.dispose();
      model.dispose();
    }
  });

  // Planning only: its blocks are the ones compared with eager above, and one forward pass is ~6.7 GFLOP per image.
  test('wide-resnet-34-10 is planned', { timeout: 300_000 }, async (t) => {
    if (skipIfUnavailable(t, 'tensorflow')) return;
    await tf.setBackend('tensorflow');
    const model = createModel('wide-resnet-34-10', CIFAR_SHAPE, NUM_CLASSES, 1);
    const r = createNativeCompiledStep(model);
    try {
      assert.ok(r.ok, r.ok ? '' : `wide-resnet-34-10 is not planned: ${r.reason}`);
    } finally {
      if (r.ok) r.step.dispose();
      model.dispose();
    }
  });
});

/** PGD-2 with and without the compiled step: the same pixels but a handful. */
async function compareAttack(t: TestContext, model: tf.LayersModel, engine: StepEngine, batch: BatchBuilder): Promise<void> {
  const { x, y } = batch.tensors();
  try {
    const pgd = getAttack('pgd')!;
    const eager = pgd(model, x, y, ATTACK, eagerStepEngine);
    const compiled = pgd(model, x, y, ATTACK, engine);
    const cmp = compareAttacks(batch.build().x, await eager.data<'float32'>(), await compiled.data<'float32'>(), ATTACK.eps);
    tf.dispose([eager, compiled]);
    t.diagnostic(`PGD-2: ${cmp.differing} of ${cmp.total} pixels differ (max ${cmp.maxDiff}); eager moved ${cmp.moved}`);
    assert.equal(cmp.outside, 0, 'compiled pixels outside the eps-ball or [0, 1]');
    assert.ok(cmp.moved > cmp.total / 10, `the eager attack moved only ${cmp.moved} pixels: not a meaningful comparison`);
    assert.ok(cmp.differing <= MAX_DIFFERING_FRACTION * cmp.total, `${cmp.differing} of ${cmp.total} pixels differ`);
  } finally {
    tf.dispose([x, y]);
  }
}

/** computeGradients (adv-clean, x_adv = x) with and without the compiled step: loss, every gradient tensor, moving statistics. */
async function compareGradients(t: TestContext, model: tf.LayersModel, engine: StepEngine, batch: HostBatch): Promise<void> {
  const start = snapshotStats(model);
  const eager = await computeGradients(model, batch, CFG, 5, eagerStepEngine);
  const eagerStats = snapshotStats(model);
  restoreStats(model, start);
  const tensorsBefore = tf.memory().numTensors;
  const compiled = await computeGradients(model, batch, CFG, 5, engine);
  assert.equal(tf.memory().numTensors, tensorsBefore, 'computeGradients with compiled leaks nothing');

  const lossErr = Math.abs(compiled.loss - eager.loss) / Math.abs(eager.loss);
  let offset = 0;
  // Per weight tensor, so a small BatchNorm gradient is not hidden behind a large kernel's.
  const gradErrs = trainableVariables(model).map((v) => {
    const seg = (a: Float32Array): Float32Array => a.subarray(offset, offset + v.size);
    const { diff, scale } = maxAbsDiff([seg(eager.flatGrad)], [seg(compiled.flatGrad)]);
    offset += v.size;
    assert.ok(scale > 0, `gradient of ${v.name} is all zero`);
    return diff / scale;
  });
  assert.equal(offset, eager.flatGrad.length);
  assert.equal(offset, 11_172_170, 'one gradient per trainable parameter');
  const statErrs = snapshotStats(model).map((got, j) => {
    const { diff, scale } = maxAbsDiff([eagerStats[j]!], [got]);
    return diff / scale;
  });
  t.diagnostic(`loss ${eager.loss} rel err ${lossErr.toExponential(2)}; grad rel err max ${Math.max(...gradErrs).toExponential(2)} over ${gradErrs.length} tensors; stats rel err max ${Math.max(...statErrs).toExponential(2)}`);
  assert.ok(lossErr <= LOSS_REL_TOL, `loss ${compiled.loss} vs eager ${eager.loss}`);
  // The reduced ResNet's tolerance: BatchNorm gamma/beta gradients are sums of nearly cancelling terms.
  gradErrs.forEach((e, i) => assert.ok(e <= REDUCED_RESNET_GRAD_REL_TOL, `gradient ${i}: relative error ${e}`));
  statErrs.forEach((e, j) => assert.ok(e <= STATS_REL_TOL, `moving statistic ${j}: relative error ${e}`));
}
