import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../../worker/backend/select-backend.js';
import { silentLogger } from '../../../common/log.js';
import { BestWeightsGuard, needsOverfitGuard, OverfitGuard, type GuardAction } from '../../../worker/train/overfit-guard.js';

describe('OverfitGuard', () => {
  const cases: { name: string; accs: number[]; want: GuardAction[]; bestEpoch: number }[] = [
    { name: 'steady improvement', accs: [0.3, 0.5, 0.7], want: ['improved', 'improved', 'improved'], bestEpoch: 3 },
    { name: 'small dips are tolerated', accs: [0.6, 0.5, 0.45, 0.62], want: ['improved', 'ok', 'ok', 'improved'], bestEpoch: 4 },
    { name: 'a drop of exactly 20 points is tolerated', accs: [0.7, 0.5], want: ['improved', 'ok'], bestEpoch: 1 },
    { name: 'collapse to zero (catastrophic overfitting)', accs: [0.4, 0.8, 0.02], want: ['improved', 'improved', 'collapsed'], bestEpoch: 2 },
    { name: 'slow slide measured against the best, not the previous epoch', accs: [0.8, 0.7, 0.62, 0.55], want: ['improved', 'ok', 'ok', 'collapsed'], bestEpoch: 1 },
    { name: 'first observation is always the best', accs: [0], want: ['improved'], bestEpoch: 1 },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const g = new OverfitGuard();
      const got = c.accs.map((a, i) => g.observe(i + 1, a).action);
      assert.deepEqual(got, c.want);
      assert.equal(g.state.bestEpoch, c.bestEpoch);
    });
  }

  it('rejects a maxDrop outside (0, 1]', () => {
    assert.throws(() => new OverfitGuard(0), /maxDrop/);
    assert.throws(() => new OverfitGuard(1.5), /maxDrop/);
  });

  it('applies to FGSM-type attacks only', () => {
    assert.deepEqual(
      (['none', 'fgsm', 'fgsm-rs', 'pgd', 'pgd-l2', 'trades'] as const).map(needsOverfitGuard),
      [false, true, true, false, false, false],
    );
  });
});

/**
 * One-pixel classifier, class 1 iff x > 0.5 (as in evaluate.test.ts): weights
 * that classify the probe batch perfectly (`good`) and always wrongly (`bad`).
 */
async function onePixelClassifier() {
  await selectBackend('cpu', silentLogger);
  const model = tf.sequential({ layers: [tf.layers.flatten({ inputShape: [1, 1, 1] }), tf.layers.dense({ units: 2, kernelInitializer: 'zeros' })] });
  const good = [tf.tensor2d([[-1, 1]]), tf.tensor1d([0.5, -0.5])];
  const bad = [tf.tensor2d([[1, -1]]), tf.tensor1d([-0.5, 0.5])];
  const batch = { n: 4, x: Float32Array.from([0.1, 0.2, 0.8, 0.9]), y: Int32Array.from([0, 0, 1, 1]) };
  return { model, dense: model.layers[1]!, good, bad, probe: { batch, eps: 0.1, seed: 1, inputShape: [1, 1, 1] as const } };
}

describe('BestWeightsGuard', () => {
  it('snapshots the best weights and restores them on a collapse', async () => {
    const { model, dense, good, bad, probe } = await onePixelClassifier();
    const guard = new BestWeightsGuard(probe);

    dense.setWeights(good);
    assert.deepEqual(await guard.check(model, 1), { action: 'improved', accuracy: 1, bestAccuracy: 1, bestEpoch: 1 });
    dense.setWeights(bad); // "catastrophic overfitting": robust accuracy 0
    assert.deepEqual(await guard.check(model, 2), { action: 'collapsed', accuracy: 0, bestAccuracy: 1, bestEpoch: 1 });
    assert.deepEqual(await dense.getWeights()[0]!.array(), [[-1, 1]], 'best kernel restored');
    assert.deepEqual(await dense.getWeights()[1]!.array(), [0.5, -0.5], 'best bias restored');
    tf.dispose([...good, ...bad]);
    model.dispose();
  });

  it('a restored snapshot (resume) still restores the best weights on a later collapse', async () => {
    const { model, dense, good, bad, probe } = await onePixelClassifier();
    const before = new BestWeightsGuard(probe);
    assert.deepEqual(before.snapshot(), { bestAccuracy: -Infinity, bestEpoch: -1 }, 'nothing observed yet');
    dense.setWeights(good);
    await before.check(model, 1);
    // Through JSON, as a checkpoint stores the accuracy and epoch.
    const snap = before.snapshot();
    const restored = new BestWeightsGuard(probe);
    restored.restore({ ...(JSON.parse(JSON.stringify({ bestAccuracy: snap.bestAccuracy, bestEpoch: snap.bestEpoch })) as { bestAccuracy: number; bestEpoch: number }), bestWeights: snap.bestWeights! });

    dense.setWeights(bad);
    assert.deepEqual(await restored.check(model, 2), { action: 'collapsed', accuracy: 0, bestAccuracy: 1, bestEpoch: 1 });
    assert.deepEqual(await dense.getWeights()[0]!.array(), [[-1, 1]], 'best kernel restored from the snapshot');
    tf.dispose([...good, ...bad]);
    model.dispose();
  });
});

describe('OverfitGuard.restore', () => {
  it('an unobserved state (bestEpoch -1, accuracy lost in JSON) restores to "nothing seen"', () => {
    const g = new OverfitGuard();
    g.restore({ bestAccuracy: null as unknown as number, bestEpoch: -1 });
    assert.equal(g.observe(1, 0).action, 'improved');
  });
});
