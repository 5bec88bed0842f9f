/**
 * The compiled step (TensorFlow graphs on the native backend) against the
 * eager code it replaces, through the real callers: the FGSM / FGSM-RS / PGD
 * attacks with and without `compiled`, and computeGradients with and without
 * it. Both sides run on the tensorflow backend, so they share kernels and
 * differ only in how the ops are dispatched (and in summation orders inside
 * fused graph ops).
 */
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import type { AttackId, ModelId } from '../../../common/contract.js';
import { createNativeCompiledStep } from '../../../worker/backend/native/graph/native-compiled-step.js';
import { getAttack, type AttackParams } from '../../../worker/train/attacks/index.js';
import type { CompiledStep } from '../../../worker/train/compiled-step.js';
import { compiledStepEngine } from '../../../worker/train/compiled-step-engine.js';
import { createModel } from '../../../worker/train/models/index.js';
import { eagerStepEngine, type StepEngine } from '../../../worker/train/step-engine.js';
import { computeGradients, type StepConfig } from '../../../worker/train/train-step.js';
import { trainableVariables } from '../../../worker/train/variables.js';
import { initBackends, maxAbsDiff, skipIfUnavailable } from '../backend/_compare.js';
import { CIFAR_SHAPE, compareAttacks, MNIST_SHAPE, mnistBatch, NUM_CLASSES, REDUCED_RESNET_GRAD_REL_TOL, REDUCED_RESNET_NAME, reducedPreActResNet, restoreStats, snapshotStats, warmBatchNorm } from '../backend/native/graph/_fixtures.js';

const N = 8;

/**
 * Attack outputs may differ only where a gradient component is within
 * float32 rounding of zero, so its sign can flip between summation orders
 * (and, over several steps, where such a flip nudges a later gradient across
 * zero). That is a handful of pixels at most: 0.1% of the batch (6 of 6,272
 * here). A wrong graph moves a large share of them. Observed: 0 (the outputs
 * are bit-identical).
 */
const MAX_DIFFERING_FRACTION = 1e-3;
/** computeGradients: per weight tensor, relative to its largest |gradient| (see native-compiled-step.test.ts). */
const GRAD_REL_TOL = 1e-5;
const LOSS_REL_TOL = 1e-6;
/** BatchNorm moving statistics after computeGradients, relative to each tensor's largest |value| (see native-compiled-step.test.ts). */
const STATS_REL_TOL = 1e-6;

/** The models compared: every planned model id, and preact-resnet reduced (fast) and at its default stages. */
interface ModelCase {
  readonly name: string;
  readonly shape: readonly [number, number, number];
  readonly build: () => tf.LayersModel;
  readonly gradTol: number;
}
const stackModel = (id: ModelId): ModelCase => ({ name: id, shape: MNIST_SHAPE, build: () => createModel(id, MNIST_SHAPE, NUM_CLASSES, 1), gradTol: GRAD_REL_TOL });
const MODELS: readonly ModelCase[] = [
  stackModel('mlp'),
  stackModel('small-cnn'),
  stackModel('madry-cnn'),
  { name: REDUCED_RESNET_NAME, shape: CIFAR_SHAPE, build: reducedPreActResNet, gradTol: REDUCED_RESNET_GRAD_REL_TOL },
  { name: 'preact-resnet', shape: CIFAR_SHAPE, build: () => createModel('preact-resnet', CIFAR_SHAPE, NUM_CLASSES, 1), gradTol: GRAD_REL_TOL },
];

const BASE: AttackParams = { eps: 0.3, steps: 3, stepSize: 0.1, restarts: 1, randomStart: true, seed: 17 };

const attackCases: readonly { name: string; id: Extract<AttackId, 'fgsm' | 'fgsm-rs' | 'pgd'>; p: AttackParams }[] = [
  { name: 'fgsm', id: 'fgsm', p: BASE },
  { name: 'fgsm-rs, 1 restart', id: 'fgsm-rs', p: { ...BASE, stepSize: 0.375 } },
  { name: 'fgsm-rs, 2 restarts', id: 'fgsm-rs', p: { ...BASE, stepSize: 0.375, restarts: 2 } },
  { name: 'pgd 1 step, random start', id: 'pgd', p: { ...BASE, steps: 1 } },
  { name: 'pgd 3 steps, random start', id: 'pgd', p: BASE },
  { name: 'pgd 3 steps, random start, 2 restarts', id: 'pgd', p: { ...BASE, restarts: 2 } },
  { name: 'pgd 3 steps from x, eps 0.1', id: 'pgd', p: { ...BASE, eps: 0.1, stepSize: 0.04, randomStart: false } },
];

function stepConfig(over: Partial<StepConfig>): StepConfig {
  return { attack: 'pgd', attackParams: BASE, loss: 'adv', lambda: 0.5, beta: 6, numClasses: NUM_CLASSES, inputShape: MNIST_SHAPE, ...over };
}

const gradientCases: readonly { name: string; cfg: StepConfig; exact: boolean }[] = [
  { name: 'adv, pgd-3', cfg: stepConfig({ loss: 'adv' }), exact: false },
  { name: 'adv, fgsm-rs', cfg: stepConfig({ loss: 'adv', attack: 'fgsm-rs', attackParams: { ...BASE, stepSize: 0.375 } }), exact: false },
  { name: 'adv-clean λ 0.5, pgd-3', cfg: stepConfig({ loss: 'adv-clean', lambda: 0.5 }), exact: false },
  { name: 'adv-clean λ 0.5, no attack (x_adv is x)', cfg: stepConfig({ loss: 'adv-clean', lambda: 0.5, attack: 'none' }), exact: false },
  // TRADES' KL term has no graph: attack and loss run eagerly, so the result is the eager one exactly.
  { name: 'trades (eager fallback)', cfg: stepConfig({ loss: 'trades', attack: 'trades' }), exact: true },
];

/** One model and its compiled step per model case, built on first use on the tensorflow backend. */
const fixtures = new Map<ModelCase, { model: tf.LayersModel; step: CompiledStep; engine: StepEngine }>();

async function fixture(t: TestContext, m: ModelCase): Promise<{ model: tf.LayersModel; step: CompiledStep; engine: StepEngine } | undefined> {
  if (skipIfUnavailable(t, 'tensorflow')) return undefined;
  await tf.setBackend('tensorflow');
  let f = fixtures.get(m);
  if (f === undefined) {
    const model = m.build();
    // Moving statistics away from 0 and 1, so the attacks' inference mode reads real ones.
    warmBatchNorm(model, m.shape);
    const r = createNativeCompiledStep(model);
    assert.ok(r.ok, r.ok ? '' : r.reason);
    f = { model, step: r.step, engine: compiledStepEngine(r.step) };
    fixtures.set(m, f);
  }
  return f;
}

describe('compiled step vs eager, on the tensorflow backend', () => {
  before(initBackends);
  after(async () => {
    for (const f of fixtures.values()) {
      f.step.dispose();
      f.model.dispose();
    }
    fixtures.clear();
    await tf.setBackend('cpu');
  });

  for (const m of MODELS) {
    const id = m.name;
    for (const c of attackCases) {
      test(`${id}: ${c.name} attack, with and without compiled`, async (t) => {
        const f = await fixture(t, m);
        if (f === undefined) return;
        const attack = getAttack(c.id);
        assert.ok(attack);
        const batch = mnistBatch(N).shape(m.shape).seed(21);
        const { x, y } = batch.tensors();
        try {
          const eager = attack(f.model, x, y, c.p);
          const before = tf.memory().numTensors;
          const compiled = attack(f.model, x, y, c.p, f.engine);
          assert.equal(tf.memory().numTensors, before + 1, 'the compiled attack leaves only its result');
          const cmp = compareAttacks(batch.build().x, await eager.data<'float32'>(), await compiled.data<'float32'>(), c.p.eps);
          tf.dispose([eager, compiled]);
          t.diagnostic(`${cmp.differing} of ${cmp.total} pixels differ (max ${cmp.maxDiff}); eager moved ${cmp.moved}`);
          assert.equal(cmp.outside, 0, 'compiled pixels outside the eps-ball or [0, 1]');
          assert.ok(cmp.moved > cmp.total / 10, `the eager attack moved only ${cmp.moved} pixels: not a meaningful comparison`);
          assert.ok(cmp.differing <= MAX_DIFFERING_FRACTION * cmp.total, `${cmp.differing} of ${cmp.total} pixels differ`);
        } finally {
          tf.dispose([x, y]);
        }
      });
    }

    for (const c of gradientCases) {
      test(`${id}: computeGradients, ${c.name}, with and without compiled`, async (t) => {
        const f = await fixture(t, m);
        if (f === undefined) return;
        const batch = mnistBatch(N).shape(m.shape).seed(22).build();
        const cfg = { ...c.cfg, inputShape: m.shape };
        // Both runs start from the same moving statistics; each leaves its updates (BatchNorm, training mode).
        const start = snapshotStats(f.model);
        const eager = await computeGradients(f.model, batch, cfg, 5, eagerStepEngine);
        const eagerStats = snapshotStats(f.model);
        restoreStats(f.model, start);
        const before = tf.memory().numTensors;
        const compiled = await computeGradients(f.model, batch, cfg, 5, f.engine);
        assert.equal(tf.memory().numTensors, before, 'computeGradients with compiled leaks nothing');
        const statErrs = snapshotStats(f.model).map((got, j) => {
          const { diff, scale } = maxAbsDiff([eagerStats[j]!], [got]);
          assert.ok(maxAbsDiff([start[j]!], [eagerStats[j]!]).diff > 1e-4 * scale, `eager left statistic ${j} unchanged`);
          return diff / scale;
        });
        if (statErrs.length > 0) t.diagnostic(`moving statistics rel err max ${Math.max(...statErrs).toExponential(2)}`);
        statErrs.forEach((e, j) => assert.ok(e <= (c.exact ? 0 : STATS_REL_TOL), `moving statistic ${j}: relative error ${e}`));
        if (c.exact) {
          assert.equal(compiled.loss, eager.loss);
          assert.deepEqual(compiled.flatGrad, eager.flatGrad);
          return;
        }
        const lossErr = Math.abs(compiled.loss - eager.loss) / Math.abs(eager.loss);
        // Compare per weight tensor, so a small bias gradient is not hidden behind a large kernel's.
        let offset = 0;
        const errs = trainableVariables(f.model).map((v) => {
          const seg = (a: Float32Array): Float32Array => a.subarray(offset, offset + v.size);
          const { diff, scale } = maxAbsDiff([seg(eager.flatGrad)], [seg(compiled.flatGrad)]);
          offset += v.size;
          assert.ok(scale > 0, `gradient of ${v.name} is all zero`);
          return diff / scale;
        });
        assert.equal(offset, eager.flatGrad.length);
        t.diagnostic(`loss rel err ${lossErr.toExponential(2)}, grad rel err max ${Math.max(...errs).toExponential(2)}`);
        assert.ok(lossErr <= LOSS_REL_TOL, `loss ${compiled.loss} vs eager ${eager.loss}`);
        errs.forEach((e, i) => assert.ok(e <= m.gradTol, `gradient ${i}: relative error ${e}`));
      });
    }
  }

  for (const m of [MODELS[1]!, MODELS[3]!]) {
    test(`${m.name}: computeGradients with compiled keeps tf.memory().numTensors flat across 3 steps`, async (t) => {
      const f = await fixture(t, m);
      if (f === undefined) return;
      const batch = mnistBatch(N).shape(m.shape).seed(23).build();
      const cfgs = [stepConfig({ loss: 'adv', inputShape: m.shape }), stepConfig({ loss: 'adv-clean', inputShape: m.shape })];
      for (const cfg of cfgs) await computeGradients(f.model, batch, cfg, 1, f.engine);
      const before = tf.memory().numTensors;
      for (let s = 0; s < 3; s++) {
        for (const cfg of cfgs) await computeGradients(f.model, batch, cfg, s + 2, f.engine);
        assert.equal(tf.memory().numTensors, before, `step ${s}`);
      }
    });
  }
});
