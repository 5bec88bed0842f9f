import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TcpRingCollective } from '../../../worker/comm/tcp-ring.js';
import { RingError, UnsupportedOperationError } from '../../../worker/comm/ring-errors.js';

async function startTcpRing(n: number): Promise<TcpRingCollective[]> {
  const ring = Array.from({ length: n }, (_, rank) => new TcpRingCollective({ rank, worldSize: n, timeoutMs: 3000, maxMessageBytes: 1024 }));
  const ports = await Promise.all(ring.map((c) => c.listen('127.0.0.1', 0)));
  const peers = ports.map((p) => `127.0.0.1:${p}`);
  await Promise.all(ring.map((c) => c.connect(peers)));
  return ring;
}

test('raw-TCP ring: exact allreduce for N = 1..4 and uneven sizes, gather and broadcast', { timeout: 30_000 }, async () => {
  for (const n of [1, 2, 3, 4]) {
    const ring = await startTcpRing(n);
    try {
      for (const len of [0, 1, n + 1, 3001]) {
        const inputs = ring.map((_, r) => Float32Array.from({ length: len }, (_, i) => (i % 17) - r));
        const want = Float32Array.from({ length: len }, (_, i) => inputs.reduce((s, a) => s + a[i]!, 0));
        const outs = await Promise.all(ring.map((c, r) => c.allreduce(inputs[r]!)));
        for (const out of outs) assert.deepEqual(out, want);
      }
      const blocks = ring.map((_, r) => new Uint8Array(r * 700).fill(r));
      for (const g of await Promise.all(ring.map((c, r) => c.allgather(blocks[r]!)))) assert.deepEqual(g, blocks);
      const b = await Promise.all(ring.map((c, r) => c.broadcast(r === 0 ? Uint8Array.from([5, 6]) : new Uint8Array(0), 0)));
      for (const x of b) assert.deepEqual(x, Uint8Array.from([5, 6]));
    } finally {
      await Promise.all(ring.map((c) => c.close()));
    }
  }
});

test('raw-TCP ring: a closed peer fails its neighbours; unsupported ops say so', { timeout: 15_000 }, async () => {
  const ring = await startTcpRing(3);
  try {
    await assert.rejects(ring[0]!.allreduce(new Float32Array(4), { op: 'max' as 'sum' }), UnsupportedOperationError);
    await ring[1]!.close();
    const results = await Promise.allSettled([ring[0]!.allreduce(new Float32Array(64)), ring[2]!.allreduce(new Float32Array(64))]);
    for (const r of results) {
      assert.equal(r.status, 'rejected');
      // The raw-TCP ring has no Abort RPC: each rank names the neighbour whose socket broke.
      assert.ok((r as PromiseRejectedResult).reason instanceof RingError);
    }
  } finally {
    await Promise.all(ring.map((c) => c.close()));
  }
});
