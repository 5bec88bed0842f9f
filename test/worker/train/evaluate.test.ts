import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../../worker/backend/select-backend.js';
import { silentLogger } from '../../../common/log.js';
import { defaultEvalStepSize, evaluate, evaluateCounts } from '../../../worker/train/evaluate.js';
import type { Split } from '../../../worker/data/types.js';
import { countEventLoopTurns } from '../../support/event-loop-turns.js';

/**
 * A one-pixel classifier: logits [0.5 - x, x - 0.5], so class 1 iff x > 0.5.
 * Under an L-inf attack of radius eps, an example is robust iff it is
 * correct and |x - 0.5| > eps.
 */
function thresholdModel(): tf.LayersModel {
  const model = tf.sequential({
    layers: [tf.layers.flatten({ inputShape: [1, 1, 1] }), tf.layers.dense({ units: 2, kernelInitializer: 'zeros' })],
  });
  model.layers[1]!.setWeights([tf.tensor2d([[-1, 1]]), tf.tensor1d([0.5, -0.5])]);
  return model;
}

// x:        0.1 0.2 0.45 0.55 0.8 0.9 0.7 0.3
// correct:   y   y   y    y    y   y   n   n   → clean 6/8
// robust:    y   y   n    n    y   y   n   n   → robust 4/8 at eps 0.1
const SPLIT: Split = {
  n: 8,
  x: Float32Array.from([0.1, 0.2, 0.45, 0.55, 0.8, 0.9, 0.7, 0.3]),
  y: Int32Array.from([0, 0, 0, 1, 1, 1, 0, 1]),
};

describe('evaluate', () => {
  before(async () => {
    await selectBackend('cpu', silentLogger);
  });

  const cases = [
    { name: 'PGD-20 eps 0.1', eps: 0.1, steps: 20, limit: 0, batchSize: 3, want: { n: 8, clean: 0.75, robust: 0.5 } },
    { name: 'PGD-5 eps 0.01: nothing flips', eps: 0.01, steps: 5, limit: 0, batchSize: 256, want: { n: 8, clean: 0.75, robust: 0.75 } },
    { name: 'eps 0.35 flips all but 0.1 and 0.9', eps: 0.35, steps: 10, limit: 0, batchSize: 4, want: { n: 8, clean: 0.75, robust: 0.25 } },
    { name: 'limit 4', eps: 0.1, steps: 10, limit: 4, batchSize: 2, want: { n: 4, clean: 1, robust: 0.5 } },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const model = thresholdModel();
      const before = tf.memory().numTensors;
      const r = await evaluate(model, SPLIT, { eps: c.eps, steps: c.steps, seed: 3, limit: c.limit, batchSize: c.batchSize, inputShape: [1, 1, 1] });
      assert.equal(tf.memory().numTensors, before, 'evaluation leaked tensors');
      assert.deepEqual({ n: r.n, clean: r.cleanAccuracy, robust: r.robustAccuracy }, c.want);
      assert.deepEqual(r.attack, { name: 'pgd', eps: c.eps, steps: c.steps, restarts: 1, stepSize: defaultEvalStepSize(c.eps, c.steps) });
      model.dispose();
    });
  }

  it('lets the event loop run between batches (a worker keeps answering /progress and its peers)', async () => {
    const model = thresholdModel();
    // 8 examples in batches of 2: 4 batches.
    const { turns } = await countEventLoopTurns(() => evaluateCounts(model, SPLIT, { eps: 0.1, steps: 5, seed: 3, batchSize: 2, inputShape: [1, 1, 1] }));
    assert.ok(turns >= 3, `${turns} event-loop turns over 4 batches`);
    model.dispose();
  });

  it('sharded counts over ranks add up to the unsharded counts', async () => {
    const model = thresholdModel();
    const base = { eps: 0.1, steps: 10, seed: 3, inputShape: [1, 1, 1] as const };
    const all = await evaluateCounts(model, SPLIT, base);
    const parts = await Promise.all([0, 1, 2].map((rank) => evaluateCounts(model, SPLIT, { ...base, shard: { rank, worldSize: 3 } })));
    const sum = parts.reduce((a, p) => ({ n: a.n + p.n, cleanCorrect: a.cleanCorrect + p.cleanCorrect, robustCorrect: a.robustCorrect + p.robustCorrect }));
    assert.deepEqual(sum, all);
    assert.deepEqual(all, { n: 8, cleanCorrect: 6, robustCorrect: 4 });
    model.dispose();
  });
});
