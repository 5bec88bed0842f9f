import { test } from 'node:test';
import assert from 'node:assert/strict';
import { batchIndices, epochOrder, stepsPerEpoch } from '../../../worker/data/shard.js';
import { ConfigError } from '../../../common/errors.js';

test('stepsPerEpoch counts full global batches', () => {
  const cases = [
    { n: 1000, w: 1, b: 10, want: 100 },
    { n: 1000, w: 3, b: 10, want: 33 },
    { n: 1000, w: 4, b: 128, want: 1 },
    { n: 100, w: 4, b: 128, want: 0 },
    { n: 0, w: 2, b: 1, want: 0 },
    { n: 60000, w: 5, b: 128, want: 93 },
  ];
  for (const c of cases) assert.equal(stepsPerEpoch(c.n, c.w, c.b), c.want, JSON.stringify(c));
  assert.throws(() => stepsPerEpoch(10, 0, 1), ConfigError);
  assert.throws(() => stepsPerEpoch(10, 1, 1.5), ConfigError);
});

test('epochOrder is a seeded permutation: same for the same seed, different across epochs and seeds', () => {
  const n = 500;
  const a = epochOrder(n, 0, 42);
  assert.deepEqual([...a].sort((x, y) => x - y), Array.from({ length: n }, (_, i) => i));
  assert.deepEqual(epochOrder(n, 0, 42), a);
  assert.notDeepEqual(epochOrder(n, 1, 42), a);
  assert.notDeepEqual(epochOrder(n, 0, 43), a);
  // Callers get copies: mutating one cannot change what the next caller sees.
  a.fill(0);
  assert.notDeepEqual(epochOrder(n, 0, 42), a);
});

test('shards are disjoint and cover the full global batches exactly once, for any world size', () => {
  for (const n of [257, 1000]) {
    for (let w = 1; w <= 5; w++) {
      for (const b of [1, 3, 8, 32]) {
        for (const epoch of [0, 3]) {
          const seed = 7;
          const steps = stepsPerEpoch(n, w, b);
          const seen = new Uint8Array(n);
          const used: number[] = [];
          for (let s = 0; s < steps; s++) {
            for (let r = 0; r < w; r++) {
              const idx = batchIndices(n, epoch, s, seed, r, w, b);
              assert.equal(idx.length, b);
              for (const i of idx) {
                assert.equal(seen[i], 0, `n=${n} w=${w} b=${b} epoch=${epoch}: index ${i} seen twice`);
                seen[i] = 1;
                used.push(i);
              }
            }
          }
          // The union is exactly the first steps*w*b positions of the shared epoch order: only the remainder is dropped.
          const order = epochOrder(n, epoch, seed);
          assert.equal(used.length, steps * w * b);
          assert.deepEqual(new Set(used), new Set(order.subarray(0, steps * w * b)));
          assert.ok(n - used.length < w * b, 'the dropped remainder is smaller than one global batch');
        }
      }
    }
  }
});

test('every rank sees the same global batch (the ranks agree on the shuffle)', () => {
  const n = 1000;
  const w = 4;
  const b = 16;
  for (const step of [0, 5, 14]) {
    // Each rank computes its view independently; concatenated in rank order they equal the global batch slice.
    const global = [...epochOrder(n, 2, 99).subarray(step * w * b, (step + 1) * w * b)];
    const fromRanks = Array.from({ length: w }, (_, r) => [...batchIndices(n, 2, step, 99, r, w, b)]).flat();
    assert.deepEqual(fromRanks, global);
  }
});

test('batchIndices is pure: a resumed run gets the same batch at the same step', () => {
  const want = batchIndices(1000, 4, 7, 5, 1, 3, 10);
  // Interleave calls for other epochs and seeds, as a restarted process would not have the memo.
  batchIndices(1000, 0, 0, 5, 0, 3, 10);
  epochOrder(777, 4, 5);
  assert.deepEqual(batchIndices(1000, 4, 7, 5, 1, 3, 10), want);
  assert.notDeepEqual(batchIndices(1000, 5, 7, 5, 1, 3, 10), want);
});

test('batchIndices rejects out-of-range rank and step', () => {
  assert.throws(() => batchIndices(100, 0, 0, 1, 2, 2, 10), /rank 2 out of range \[0, 2\)/);
  assert.throws(() => batchIndices(100, 0, 5, 1, 0, 2, 10), /step 5 out of range \[0, 5\)/);
  assert.throws(() => batchIndices(10, 0, 0, 1, 0, 4, 8), /10 examples give 0 full global batches of 4 x 8/);
  assert.throws(() => batchIndices(100, -1, 0, 1, 0, 1, 10), /epoch must be a non-negative integer/);
});
