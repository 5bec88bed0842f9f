import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../../../common/errors.js';
import { poolBatchIndices, poolStepsPerPass, splitBatch, type PoolSampling } from '../../../../worker/train/unlabeled/mixed-batch.js';

describe('splitBatch', () => {
  const cases = [
    { name: 'half and half', batch: 256, ratio: 0.5, want: { labeled: 128, unlabeled: 128 } },
    { name: 'rounds the pool share', batch: 10, ratio: 0.33, want: { labeled: 7, unlabeled: 3 } },
    { name: 'mostly pool', batch: 64, ratio: 0.9, want: { labeled: 6, unlabeled: 58 } },
  ];
  for (const c of cases) it(c.name, () => assert.deepEqual(splitBatch(c.batch, c.ratio), c.want));

  const bad = [
    { name: 'a share of zero pool examples', batch: 4, ratio: 0.1, want: /--unlabeled-ratio: with --batch-size 4 it leaves 4 labelled and 0 unlabelled/ },
    { name: 'a share of zero labelled examples', batch: 4, ratio: 0.9, want: /leaves 0 labelled and 4 unlabelled/ },
    { name: 'a ratio of 1', batch: 4, ratio: 1, want: /invalid value 1 for --unlabeled-ratio/ },
  ];
  for (const c of bad) it(c.name, () => assert.throws(() => splitBatch(c.batch, c.ratio), (e: unknown) => e instanceof ConfigError && c.want.test(e.message)));
});

describe('poolBatchIndices', () => {
  const p: PoolSampling = { poolSize: 100, unlabeledBatch: 8, worldSize: 3, seed: 7 };

  it('gives disjoint rank shares that cover a pass without repeats, then reshuffles for the next pass', () => {
    const perPass = poolStepsPerPass(p);
    assert.equal(perPass, 4);
    const seen: number[] = [];
    for (let g = 0; g < perPass; g++) for (let r = 0; r < 3; r++) seen.push(...poolBatchIndices(p, g, r));
    assert.equal(seen.length, 96);
    assert.equal(new Set(seen).size, 96, 'no example twice in a pass');
    assert.ok(seen.every((i) => i >= 0 && i < 100));
    const pass1 = [...poolBatchIndices(p, perPass, 0)];
    assert.notDeepEqual(pass1, [...poolBatchIndices(p, 0, 0)], 'the next pass is another permutation');
  });

  it('is a pure function of (seed, step, rank): a resumed run draws the same examples', () => {
    for (const [g, r] of [[0, 0], [5, 2], [13, 1]] as const) assert.deepEqual(poolBatchIndices(p, g, r), poolBatchIndices({ ...p }, g, r));
    assert.notDeepEqual([...poolBatchIndices(p, 0, 0)], [...poolBatchIndices({ ...p, seed: 8 }, 0, 0)], 'another seed, another order');
  });

  it('refuses a pool too small for one global share, naming the flags', () => {
    assert.throws(() => poolStepsPerPass({ ...p, poolSize: 23 }), /--unlabeled-data: 23 unlabelled images cannot fill one global share of 3 x 8/);
  });
});
