import { test } from 'node:test';
import assert from 'node:assert/strict';
import { histogramCount, histogramQuantile, parseHistogram } from '../../bench/lib/prom-histogram.js';

const TEXT = [
  '# HELP h_seconds x',
  '# TYPE h_seconds histogram',
  'h_seconds_bucket{le="0.1"} 50',
  'h_seconds_bucket{le="0.5"} 90',
  'h_seconds_bucket{le="1"} 100',
  'h_seconds_bucket{le="+Inf"} 100',
  'h_seconds_sum 20',
  'h_seconds_count 100',
  'other_bucket{le="1"} 7',
].join('\n');

test('parseHistogram reads the buckets of one histogram, in order', () => {
  assert.deepEqual(parseHistogram(TEXT, 'h_seconds'), [[0.1, 50], [0.5, 90], [1, 100], [Infinity, 100]]);
  assert.equal(parseHistogram(TEXT, 'missing'), undefined);
});

test('histogramQuantile interpolates inside the bucket like PromQL histogram_quantile', () => {
  const b = parseHistogram(TEXT, 'h_seconds')!;
  const cases = [
    { name: 'median at the first bound', q: 0.5, want: 0.1 },
    { name: 'within the first bucket from 0', q: 0.25, want: 0.05 },
    { name: 'p70 halfway through the second bucket', q: 0.7, want: 0.3 },
    { name: 'p99 in the third bucket', q: 0.99, want: 0.95 },
  ];
  for (const c of cases) assert.ok(Math.abs(histogramQuantile(c.q, b)! - c.want) < 1e-9, `${c.name}: got ${histogramQuantile(c.q, b)}`);
  assert.equal(histogramCount(b), 100);
  assert.equal(histogramQuantile(0.99, [[1, 0], [Infinity, 0]]), undefined, 'no observations');
  assert.equal(histogramQuantile(0.99, [[1, 1], [Infinity, 10]]), 1, 'a rank beyond the last finite bound gives that bound');
});
