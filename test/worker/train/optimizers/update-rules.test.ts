import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ruleScalarNames, ruleScalars } from '../../../../worker/train/optimizers/update-rules.js';
import type { UpdateRule } from '../../../../worker/train/optimizers/types.js';

const LAMB: UpdateRule = { kind: 'lamb', beta1: 0, beta2: 0.999, epsilon: 1e-6, weightDecay: 0, weightNormCap: 10 };
const ADAM: UpdateRule = { kind: 'adam', beta1: 0.9, beta2: 0.99, epsilon: 1e-8, weightDecay: 0 };

const CASES: readonly { name: string; rule: UpdateRule; step: number; want: Record<string, number> }[] = [
  { name: 'sgd: the learning rate alone', rule: { kind: 'sgd', momentum: 0.9, weightDecay: 0 }, step: 7, want: { lr: 0.5 } },
  { name: 'lamb: the learning rate alone', rule: LAMB, step: 7, want: { lr: 0.5 } },
  { name: 'adam: bias corrections of update 2', rule: ADAM, step: 2, want: { lr: 0.5, bias1: 1 - 0.9 ** 2, bias2: 1 - 0.99 ** 2 } },
  { name: 'lamb freezing after 3, update 3: v still moves', rule: { ...LAMB, freezeSecondMomentAfter: 3 }, step: 3, want: { lr: 0.5, vDecay: 0.999, vGain: 1 - 0.999 } },
  { name: 'lamb freezing after 3, update 4: v kept', rule: { ...LAMB, freezeSecondMomentAfter: 3 }, step: 4, want: { lr: 0.5, vDecay: 1, vGain: 0 } },
];

for (const c of CASES) {
  test(`ruleScalars: ${c.name}`, () => {
    assert.deepEqual(ruleScalars(c.rule, c.step, 0.5), c.want);
    assert.deepEqual(ruleScalarNames(c.rule), Object.keys(c.want), 'the names, in feed order');
  });
}
