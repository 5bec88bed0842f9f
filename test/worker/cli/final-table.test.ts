import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatFinalTable } from '../../../worker/cli/final-table.js';
import { parseTrainArgs } from '../../../worker/cli/parse-args.js';
import type { RunMetrics } from '../../../worker/train/metrics.js';

describe('formatFinalTable', () => {
  it('shows clean and robust accuracy with the attack, wall time and images/s', () => {
    const m: RunMetrics = {
      cleanAccuracy: 0.9781,
      robustAccuracy: 0.8612,
      robustAttack: { name: 'pgd', eps: 0.3, steps: 20, restarts: 1, stepSize: 0.0375 },
      evalExamples: 2000,
      history: [],
      config: parseTrainArgs(['--epochs', '10']),
      backend: 'wasm',
      params: 166_406,
      trainExamples: 8000,
      wallSeconds: 725,
      imagesPerSecond: 181.4,
      epochsCompleted: 10,
    };
    const lines = formatFinalTable(m).split('\n');
    const row = (k: string): string => lines.find((l) => l.startsWith(k))!.slice(k.length).trim();
    assert.equal(row('clean accuracy'), '97.81%');
    assert.equal(row('robust accuracy'), '86.12%');
    assert.equal(row('robust attack'), 'PGD-20, eps 0.3, step 0.0375');
    assert.equal(row('wall time'), '12m05s');
    assert.equal(row('train images/s'), '181');
    assert.equal(row('model'), 'small-cnn (166,406 params)');
    assert.equal(row('epochs'), '10/10');
  });
});
