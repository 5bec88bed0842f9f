import { test } from 'node:test';
import assert from 'node:assert/strict';
import { computeHoldout } from '../../../worker/data/holdout.js';
import { ConfigError } from '../../../common/errors.js';

test('computeHoldout gives disjoint train and test sets covering all examples', () => {
  const { train, test: t } = computeHoldout(10_000, 2000);
  assert.equal(t.length, 2000);
  assert.equal(train.length, 8000);
  const all = new Set([...train, ...t]);
  assert.equal(all.size, 10_000);
  const testSet = new Set(t);
  assert.ok(train.every((i) => !testSet.has(i)));
});

test('computeHoldout is fixed, and a smaller testSize gives a subset of the default test set', () => {
  const a = computeHoldout(10_000, 2000);
  assert.deepEqual(computeHoldout(10_000, 2000), a);
  const small = computeHoldout(10_000, 500);
  assert.deepEqual(small.test, a.test.subarray(0, 500));
  assert.notDeepEqual(computeHoldout(10_000, 2000, 1).test, a.test);
});

test('computeHoldout rejects test sizes that leave no train or no test example', () => {
  for (const size of [0, 100, 1.5, -1]) assert.throws(() => computeHoldout(100, size), ConfigError, String(size));
});
