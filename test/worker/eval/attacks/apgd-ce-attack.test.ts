import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { apgdCeAttack } from '../../../../worker/eval/attacks/apgd-ce-attack.js';
import { apgdCheckpointIntervals } from '../../../../worker/eval/attacks/_apgd-core.js';
import { pgdAttack } from '../../../../worker/train/attacks/pgd-attack.js';
import { countCorrect, tinyBatch, tinyModel } from './_fixtures.js';

await tf.setBackend('cpu');

test('apgd: checkpoints follow the paper (first after 22% of the steps, then shrinking by 3% down to 6%)', () => {
  // 100 steps: intervals 22, 19, 16, 13, 10, 7, 6, 6 → checkpoints 22, 41, 57, 70, 80, 87, 93, 99.
  assert.deepEqual(apgdCheckpointIntervals(100), [22, 19, 16, 13, 10, 7, 6, 6]);
});

test('apgd-ce: breaks at least as many examples as PGD-20 on a fixed model', async () => {
  const model = tinyModel();
  const { x, y } = tinyBatch(model);
  const rows: string[] = [];
  for (const eps of [0.01, 0.02, 0.04]) {
    const pgd = pgdAttack(model, x, y, { eps, steps: 20, stepSize: (2.5 * eps) / 20, restarts: 1, randomStart: true, seed: 1 });
    const apgd = await apgdCeAttack(model, x, y, eps, 1, { steps: 20 });
    const [p, a] = [countCorrect(model, pgd, y), countCorrect(model, apgd, y)];
    tf.dispose([pgd, apgd]);
    rows.push(`eps ${eps}: pgd-20 robust ${p}, apgd-ce robust ${a}`);
    assert.ok(a <= p, rows.join('; '));
  }
  // The cases must not be trivial: PGD leaves something robust at the smallest eps.
  assert.ok(/eps 0.01: pgd-20 robust [1-9]/.test(rows[0]!), rows.join('; '));
});
