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
    assert.equal(lines.find((l) => l.startsWith('time:')), undefined, 'no time rows without a time split');
  });

  it('shows where the wall time went, as shares adding up to 100%', () => {
    const m: RunMetrics = {
      cleanAccuracy: 0.9,
      robustAccuracy: 0.8,
      robustAttack: { name: 'pgd', eps: 0.1, steps: 20, restarts: 1, stepSize: 0.0125 },
      evalExamples: 2000,
      history: [],
      config: parseTrainArgs(['--epochs', '2']),
      backend: 'tensorflow',
      params: 1000,
      trainExamples: 8000,
      wallSeconds: 200,
      imagesPerSecond: 1000,
      epochsCompleted: 2,
      timeSplit: { attackSeconds: 90, gradientSeconds: 50, allreduceSeconds: 20, updateSeconds: 0.004, evaluationSeconds: 30 },
    };
    const lines = formatFinalTable(m).split('\n');
    const rows = lines.filter((l) => l.startsWith('time: ')).map((l) => l.split(/\s{2,}/));
    const want = [
      ['time: attack', '45.0% (1m30s)'],
      ['time: gradient', '25.0% (50s)'],
      ['time: all-reduce', '10.0% (20s)'],
      ['time: update', '0.0% (4ms)'],
      ['time: evaluation', '15.0% (30s)'],
      ['time: other', '5.0% (10.0s)'],
    ];
    assert.deepEqual(rows, want, `-want +got:\n${JSON.stringify(want)}\n${JSON.stringify(rows)}`);
  });
});
