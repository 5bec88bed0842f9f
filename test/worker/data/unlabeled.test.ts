import { test } from 'node:test';
import assert from 'node:assert/strict';
import { splitUnlabeled, withPseudoLabels } from '../../../worker/data/unlabeled.js';
import { concatSplits } from '../../../worker/data/split-ops.js';
import type { Split } from '../../../worker/data/types.js';
import { UNLABELED } from '../../../worker/data/constants.js';
import { ConfigError } from '../../../common/errors.js';

/** Example i has the single pixel value i (so an image identifies its source index) and label i mod 10. */
function indexedSplit(n: number): Split {
  return { n, x: Float32Array.from({ length: n }, (_, i) => i), y: Int32Array.from({ length: n }, (_, i) => i % 10) };
}

test('splitUnlabeled moves round(fraction * n) examples, disjoint, covering the split', () => {
  const cases = [
    { n: 1000, fraction: 0, want: 0 },
    { n: 1000, fraction: 0.1, want: 100 },
    { n: 1000, fraction: 0.5, want: 500 },
    { n: 999, fraction: 0.25, want: 250 },
    { n: 1000, fraction: 0.99, want: 990 },
  ];
  for (const c of cases) {
    const s = indexedSplit(c.n);
    const { labeled, unlabeled } = splitUnlabeled(s, c.fraction, 3);
    assert.equal(unlabeled.n, c.want, JSON.stringify(c));
    assert.equal(labeled.n, c.n - c.want);
    const u = [...unlabeled.x];
    const l = [...labeled.x];
    assert.equal(new Set([...u, ...l]).size, c.n, 'disjoint and covering');
    // Both parts keep the original relative order, and labeled examples keep their labels.
    assert.deepEqual(u, [...u].sort((a, b) => a - b));
    assert.ok(labeled.y.every((y, i) => y === l[i]! % 10));
    assert.ok(unlabeled.y.every((y) => y === UNLABELED));
  }
});

test('splitUnlabeled is deterministic in the seed', () => {
  const s = indexedSplit(500);
  const a = splitUnlabeled(s, 0.3, 11);
  assert.deepEqual(splitUnlabeled(s, 0.3, 11).unlabeled.x, a.unlabeled.x);
  assert.notDeepEqual(splitUnlabeled(s, 0.3, 12).unlabeled.x, a.unlabeled.x);
});

test('splitUnlabeled rejects fractions outside [0, 1) and all-unlabeled results', () => {
  for (const f of [-0.1, 1, 1.5, Number.NaN]) assert.throws(() => splitUnlabeled(indexedSplit(10), f, 1), ConfigError, String(f));
  assert.throws(() => splitUnlabeled(indexedSplit(1), 0.6, 1), /leaves no labeled example/);
});

test('withPseudoLabels attaches the teacher labels and concatSplits merges the parts', () => {
  const { labeled, unlabeled } = splitUnlabeled(indexedSplit(20), 0.5, 1);
  const labels = Int32Array.from({ length: unlabeled.n }, () => 9);
  const pseudo = withPseudoLabels(unlabeled, labels);
  labels[0] = 0; // The split holds a copy.
  assert.ok(pseudo.y.every((y) => y === 9));
  assert.equal(pseudo.x, unlabeled.x);
  const all = concatSplits(labeled, pseudo);
  assert.equal(all.n, 20);
  assert.ok(all.y.every((y) => y >= 0));
  assert.throws(() => withPseudoLabels(unlabeled, new Int32Array(3)), /got 3 pseudo-labels for 10 unlabeled examples/);
  assert.throws(() => withPseudoLabels(unlabeled, new Int32Array(10).fill(UNLABELED)), /not a class index/);
});
