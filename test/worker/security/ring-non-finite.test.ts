/**
 * The NaN/Inf rule of the ring all-reduce: a non-finite gradient on any rank,
 * or a sum that overflows the wire format, fails the step on every rank with
 * an error naming the cause, and nothing non-finite is ever returned.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startLocalGrpcRing } from '../../../worker/comm/start-grpc-ring.js';
import { firstNonFinite } from '../../../worker/comm/ring-allreduce.js';
import { RING_FAILURES, RingError } from '../../../worker/comm/ring-errors.js';

test('firstNonFinite finds NaN and both infinities', () => {
  const cases = [
    { name: 'all finite', input: [0, -1, 3.4e38, -3.4e38, 1e-45], want: -1 },
    { name: 'NaN', input: [1, 2, NaN], want: 2 },
    { name: '+Inf', input: [Infinity, 0], want: 0 },
    { name: '-Inf', input: [0, 0, 0, -Infinity], want: 3 },
    { name: 'empty', input: [], want: -1 },
  ];
  for (const c of cases) assert.equal(firstNonFinite(Float32Array.from(c.input)), c.want, c.name);
});

const cases = [
  { name: 'NaN on rank 1', bad: { rank: 1, index: 5, value: NaN }, wire: 'f32' as const, own: /rank 1 has a non-finite gradient: element 5 is NaN/ },
  { name: '-Inf on rank 2', bad: { rank: 2, index: 900, value: -Infinity }, wire: 'f32' as const, own: /rank 2 has a non-finite gradient: element 900 is -Infinity/ },
  { name: 'NaN on rank 0 over the f16 wire', bad: { rank: 0, index: 0, value: NaN }, wire: 'f16' as const, own: /rank 0 has a non-finite gradient: element 0 is NaN/ },
];

for (const c of cases) {
  test(`a non-finite gradient fails the step on every rank: ${c.name}`, { timeout: 30_000 }, async () => {
    const ring = await startLocalGrpcRing(3, { timeoutMs: 5_000, maxMessageBytes: 1024 });
    try {
      const inputs = ring.map((_, r) => Float32Array.from({ length: 1001 }, (_, i) => (i % 7) - r));
      inputs[c.bad.rank]![c.bad.index] = c.bad.value;
      const started = Date.now();
      const outcomes = await Promise.allSettled(ring.map((col, r) => col.allreduce(inputs[r]!, { wire: c.wire })));
      for (const [r, o] of outcomes.entries()) {
        assert.equal(o.status, 'rejected', `rank ${r} returned a result`);
        const err = (o as PromiseRejectedResult).reason as unknown;
        assert.ok(err instanceof RingError, `rank ${r}: ${String(err)}`);
        // The rank with the bad gradient says what it was; the others name that rank.
        if (r === c.bad.rank) {
          assert.equal(err.failure, RING_FAILURES.nonFinite);
          assert.match(err.message, c.own);
        } else {
          assert.match(err.message, new RegExp(`rank ${c.bad.rank}`), `rank ${r}: ${err.message}`);
          assert.match(err.message, /non-finite/, `rank ${r}: ${err.message}`);
        }
      }
      // Aborted at once, not after a hop timeout.
      assert.ok(Date.now() - started < 4_000, `took ${Date.now() - started} ms`);
    } finally {
      await Promise.all(ring.map((col) => col.close()));
    }
  });
}

test('a finite sum beyond the f16 wire range fails instead of turning into Inf', { timeout: 30_000 }, async () => {
  const ring = await startLocalGrpcRing(2, { timeoutMs: 5_000 });
  try {
    const inputs = ring.map(() => Float32Array.from({ length: 16 }, (_, i) => (i === 3 ? 40_000 : 1)));
    const outcomes = await Promise.allSettled(ring.map((col, r) => col.allreduce(inputs[r]!, { wire: 'f16' })));
    for (const [r, o] of outcomes.entries()) {
      assert.equal(o.status, 'rejected', `rank ${r} returned a result`);
      assert.match(String((o as PromiseRejectedResult).reason), /non-finite|f16 wire range/, `rank ${r}`);
    }
  } finally {
    await Promise.all(ring.map((col) => col.close()));
  }
});
