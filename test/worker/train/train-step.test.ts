import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../../worker/backend/select-backend.js';
import { identityReducer } from '../../../worker/comm/collective.js';
import { silentLogger } from '../../../common/log.js';
import { Rng } from '../../../worker/util/rng.js';
import { createModel, countTrainableParams } from '../../../worker/train/models/index.js';
import { createOptimizer } from '../../../worker/train/optimizers/index.js';
import { flattenTensors, trainableVariables } from '../../../worker/train/variables.js';
import { crossEntropyPerExample } from '../../../worker/train/losses.js';
import { eagerStepEngine } from '../../../worker/train/step-engine.js';
import { applyGradients, computeGradients, type HostBatch, type StepConfig } from '../../../worker/train/train-step.js';

const SHAPE = [28, 28, 1] as const;

function randomBatch(n: number, seed: number): HostBatch {
  const rng = new Rng(seed);
  const x = new Float32Array(n * 28 * 28);
  for (let i = 0; i < x.length; i++) x[i] = rng.next();
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) y[i] = rng.nextInt(10);
  return { n, x, y };
}

function config(over: Partial<StepConfig> = {}): StepConfig {
  return {
    attack: 'pgd',
    attackParams: { eps: 0.3, steps: 2, stepSize: 0.1, restarts: 1, randomStart: true, seed: 1 },
    loss: 'adv-clean',
    lambda: 1,
    beta: 6,
    numClasses: 10,
    inputShape: SHAPE,
    ...over,
  };
}

describe('train step', () => {
  before(async () => {
    await selectBackend('wasm', silentLogger);
  });

  it('keeps tf.memory().numTensors flat across 50 steps', async () => {
    const model = createModel('small-cnn', SHAPE, 10, 3);
    const opt = createOptimizer('lamb', { weightDecay: 1e-4, momentum: 0.9 });
    const batch = randomBatch(8, 5);
    const cfgs = [config(), config({ attack: 'fgsm-rs', loss: 'adv', attackParams: { ...config().attackParams, stepSize: 0.375 } })];
    // Two warm-up steps create the optimizer state and the backends' caches.
    for (let s = 0; s < 2; s++) {
      const { flatGrad } = await computeGradients(model, batch, cfgs[s % 2]!, s + 1, eagerStepEngine);
      applyGradients(model, opt, await identityReducer(flatGrad, s), 0.01, eagerStepEngine);
    }
    const before = tf.memory().numTensors;
    for (let s = 2; s < 52; s++) {
      const { flatGrad, loss } = await computeGradients(model, batch, cfgs[s % 2]!, s + 1, eagerStepEngine);
      assert.ok(Number.isFinite(loss));
      applyGradients(model, opt, await identityReducer(flatGrad, s), 0.01, eagerStepEngine);
      assert.equal(tf.memory().numTensors, before, `tensor count changed at step ${s}`);
    }
    opt.dispose();
    model.dispose();
  });

  it('returns the gradient of clean CE for attack none, in trainable-weight order', async () => {
    const model = createModel('mlp', SHAPE, 10, 7);
    const batch = randomBatch(6, 9);
    const { flatGrad, loss } = await computeGradients(model, batch, config({ attack: 'none', loss: 'adv' }), 1, eagerStepEngine);
    assert.equal(flatGrad.length, countTrainableParams(model));
    const vars = trainableVariables(model);
    const ref = tf.tidy(() => {
      const x = tf.tensor4d(batch.x, [batch.n, ...SHAPE]);
      const y = tf.tensor1d(batch.y, 'int32');
      return tf.variableGrads(() => tf.mean(crossEntropyPerExample(model.apply(x, { training: true }) as tf.Tensor2D, y)), vars);
    });
    const want = await flattenTensors(vars.map((v) => ref.grads[v.name]!));
    const wantLoss = (await ref.value.data())[0]!;
    tf.dispose([ref.value, ...Object.values(ref.grads)]);
    assert.ok(Math.abs(loss - wantLoss) < 1e-5, `loss ${loss} vs ${wantLoss}`);
    let maxDiff = 0;
    for (let i = 0; i < want.length; i++) maxDiff = Math.max(maxDiff, Math.abs(want[i]! - flatGrad[i]!));
    assert.ok(maxDiff < 1e-5, `max abs gradient difference ${maxDiff}`);
    model.dispose();
  });

  it('lowers the adversarial loss on a fixed batch when steps are applied', async () => {
    const model = createModel('mlp', SHAPE, 10, 11);
    const opt = createOptimizer('adam', { weightDecay: 0, momentum: 0 });
    const batch = randomBatch(16, 13);
    const cfg = config({ attack: 'fgsm-rs', loss: 'adv', attackParams: { ...config().attackParams, eps: 0.1, stepSize: 0.125 } });
    const first = await computeGradients(model, batch, cfg, 1, eagerStepEngine);
    applyGradients(model, opt, first.flatGrad, 1e-3, eagerStepEngine);
    let last = first.loss;
    for (let s = 2; s < 30; s++) {
      const g = await computeGradients(model, batch, cfg, 1, eagerStepEngine);
      applyGradients(model, opt, g.flatGrad, 1e-3, eagerStepEngine);
      last = g.loss;
    }
    assert.ok(last < first.loss * 0.5, `loss went from ${first.loss} to ${last}`);
    opt.dispose();
    model.dispose();
  });
});
