/**
 * `allreduce(buf, { inPlace: true })` writes the sum into `buf` and returns
 * it, with the same bits as the allocating call, on every transport and wire;
 * a non-finite value still fails every rank, naming the rank it came from.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Collective } from '../../../worker/comm/collective.js';
import { createLoopbackGroup } from '../../../worker/comm/loopback-collective.js';
import { RING_FAILURES, RingError } from '../../../worker/comm/ring-errors.js';
import { startLocalGrpcRing } from '../../../worker/comm/start-grpc-ring.js';
import { TcpRingCollective } from '../../../worker/comm/tcp-ring.js';

async function startTcpRing(n: number): Promise<Collective[]> {
  const ring = Array.from({ length: n }, (_, rank) => new TcpRingCollective({ rank, worldSize: n, timeoutMs: 5000, maxMessageBytes: 1024 }));
  const ports = await Promise.all(ring.map((c) => c.listen('127.0.0.1', 0)));
  await Promise.all(ring.map((c) => c.connect(ports.map((p) => `127.0.0.1:${p}`))));
  return ring;
}

const TRANSPORTS: Array<{ name: string; start: (n: number) => Promise<Collective[]>; wires: Array<'f32' | 'f16'> }> = [
  { name: 'grpc', start: (n) => startLocalGrpcRing(n, { timeoutMs: 5000, maxMessageBytes: 1024 }), wires: ['f32', 'f16'] },
  { name: 'tcp', start: startTcpRing, wires: ['f32'] },
  { name: 'loopback', start: (n) => Promise.resolve(createLoopbackGroup(n)), wires: ['f32', 'f16'] },
];

const bits = (a: Float32Array): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

for (const t of TRANSPORTS) {
  test(`in-place all-reduce on ${t.name}: the same bits as the allocating call, written into the input`, { timeout: 60_000 }, async () => {
    for (const n of [1, 2, 3, 4]) {
      const ring = await t.start(n);
      try {
        for (const wire of t.wires) {
          for (const len of [0, 1, n + 1, 3001]) {
            const inputs = ring.map((_, r) => Float32Array.from({ length: len }, (_, i) => Math.sin(i * 0.37 + r) * 3));
            const want = await Promise.all(ring.map((c, r) => c.allreduce(inputs[r]!, { wire })));
            const copies = inputs.map((a) => Float32Array.from(a));
            const got = await Promise.all(ring.map((c, r) => c.allreduce(copies[r]!, { wire, inPlace: true })));
            for (let r = 0; r < n; r++) {
              const where = `N=${n} ${wire} len=${len} rank ${r}`;
              assert.equal(got[r], copies[r], `${where}: returns the input array`);
              assert.ok(bits(got[r]!).equals(bits(want[r]!)), `${where}: same bits as the allocating call`);
            }
          }
        }
      } finally {
        await Promise.all(ring.map((c) => c.close()));
      }
    }
  });
}

test('in place, a non-finite gradient in any chunk still names the rank it came from', { timeout: 30_000 }, async () => {
  for (const index of [5, 500, 900]) {
    const ring = await startLocalGrpcRing(3, { timeoutMs: 5000, maxMessageBytes: 1024 });
    try {
      const inputs = ring.map((_, r) => Float32Array.from({ length: 1001 }, (_, i) => (i % 7) - r));
      inputs[1]![index] = NaN;
      const outcomes = await Promise.allSettled(ring.map((c, r) => c.allreduce(inputs[r]!, { inPlace: true })));
      for (const [r, o] of outcomes.entries()) {
        assert.equal(o.status, 'rejected', `index ${index} rank ${r} returned a result`);
        const err = (o as PromiseRejectedResult).reason as unknown;
        assert.ok(err instanceof RingError, String(err));
        if (r === 1) {
          assert.equal(err.failure, RING_FAILURES.nonFinite);
          assert.match(err.message, new RegExp(`rank 1 has a non-finite gradient: element ${index} is NaN`));
        } else {
          assert.match(err.message, /rank 1/, `index ${index} rank ${r}: ${err.message}`);
        }
      }
    } finally {
      await Promise.all(ring.map((c) => c.close()));
    }
  }
});
