import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildEvalReport, formatEvalTable, mergeShards } from '../../../worker/eval/eval-report.js';
import { parseEvalArgs } from '../../../worker/eval/eval-options.js';
import { shardBatches } from '../../../worker/eval/evaluate-shard.js';

test('shardBatches: every batch goes to exactly one rank, whatever the world size', () => {
  const cases = [
    { n: 10, b: 3, world: 1, want: [[0, 1, 2, 3]] },
    { n: 10, b: 3, world: 2, want: [[0, 2], [1, 3]] },
    { n: 10, b: 3, world: 3, want: [[0, 3], [1], [2]] },
    { n: 2, b: 5, world: 3, want: [[0], [], []] },
  ];
  for (const c of cases) {
    const got = Array.from({ length: c.world }, (_, r) => shardBatches(c.n, c.b, r, c.world));
    assert.deepEqual(got, c.want, `n ${c.n} b ${c.b} world ${c.world}`);
  }
});

test('mergeShards + buildEvalReport: example order restored, cumulative accuracies, worst case last', () => {
  const shardA = { indices: [0, 1, 4], clean: [1, 1, 0], robustAfter: [[1, 0, 0], [0, 0, 0]], seconds: [1, 2] };
  const shardB = { indices: [2, 3], clean: [1, 1], robustAfter: [[1, 1], [1, 0]], seconds: [3, 1] };
  const merged = mergeShards([shardA, shardB]);
  assert.deepEqual(merged.indices, [0, 1, 2, 3, 4]);
  assert.deepEqual(merged.robustAfter, [[1, 0, 1, 1, 0], [0, 0, 1, 0, 0]]);
  assert.deepEqual(merged.seconds, [3, 2], 'the slowest shard sets the wall time');
  const o = parseEvalArgs(['--model', 'm', '--dataset', 'mnist', '--eps', '0.3', '--attacks', 'apgd-ce,square']);
  const r = buildEvalReport(o, 'mnist', merged);
  assert.deepEqual(
    { clean: r.cleanAccuracy, per: r.perAttack.map((p) => p.robustAccuracy), robust: r.robustAccuracy, examples: r.examples },
    { clean: 0.8, per: [0.6, 0.2], robust: 0.2, examples: { clean: '11110', robust: '00100' } },
  );
  const table = formatEvalTable(r);
  assert.match(table, /\+ apgd-ce +60\.00% +3\/5/);
  assert.match(table, /ensemble +20\.00% +1\/5/);
});
