/**
 * In-process gRPC ring tests (N ranks on 127.0.0.1:0): exact sums for N = 1..5
 * and uneven buffer sizes, gather/broadcast/barrier, the f16 wire format,
 * and rejection of malformed messages injected by a fake peer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { startLocalGrpcRing, listenGrpcRing } from '../../../worker/comm/start-grpc-ring.js';
import { RingError } from '../../../worker/comm/ring-errors.js';
import { createRingClient, createRingServer, type RingServerHandlers } from '../../../worker/comm/transport.js';
import { listenRingServer } from '../../../worker/comm/ring-listener.js';
import { encodeRingMessage, OP_KINDS, PHASES, type OpKindValue, type RingMessage } from '../../../worker/comm/ring-message.js';
import { decodeHalf, encodeHalf } from '../../../worker/comm/half.js';

/** Small messages so every buffer spans several parts per chunk. */
const MAX_MSG = 1024;

test('allreduce gives the exact sum for N = 1..5 and sizes that do not divide evenly', { timeout: 60_000 }, async () => {
  for (const n of [1, 2, 3, 4, 5]) {
    const ring = await startLocalGrpcRing(n, { timeoutMs: 5000, maxMessageBytes: MAX_MSG });
    try {
      for (const len of [0, 1, n - 1, n + 1, 7, 1001, 4099]) {
        const inputs = ring.map((_, r) => Float32Array.from({ length: len }, (_, i) => ((i * 7 + r * 13) % 101) - 50));
        const outs = await Promise.all(ring.map((c, r) => c.allreduce(inputs[r]!)));
        const want = Float32Array.from({ length: len }, (_, i) => inputs.reduce((s, a) => s + a[i]!, 0));
        for (const [r, out] of outs.entries()) assert.deepEqual(out, want, `N=${n} len=${len} rank ${r}`);
        assert.deepEqual(inputs[0]!.length, len, 'input untouched');
      }
    } finally {
      await Promise.all(ring.map((c) => c.close()));
    }
  }
});

test('allgather, broadcast and barrier', { timeout: 30_000 }, async () => {
  const n = 3;
  const ring = await startLocalGrpcRing(n, { timeoutMs: 5000, maxMessageBytes: MAX_MSG });
  try {
    const blocks = ring.map((_, r) => new Uint8Array(r * 1500 + 1).fill(r + 1));
    const gathered = await Promise.all(ring.map((c, r) => c.allgather(blocks[r]!)));
    for (const g of gathered) assert.deepEqual(g, blocks);
    const payload = Uint8Array.from({ length: 5000 }, (_, i) => i % 251);
    const got = await Promise.all(ring.map((c, r) => c.broadcast(r === 2 ? payload : new Uint8Array(0), 2)));
    for (const b of got) assert.deepEqual(b, payload);
    await Promise.all(ring.map((c) => c.barrier()));
    const a2a = await Promise.all(ring.map((c, r) => c.alltoall(ring.map((_, j) => Uint8Array.from([r, j, 99])))));
    for (const [r, recv] of a2a.entries()) assert.deepEqual(recv, ring.map((_, j) => Uint8Array.from([j, r, 99])));
  } finally {
    await Promise.all(ring.map((c) => c.close()));
  }
});

test('allreduce over the f16 wire: every rank gets the same bits, within f16 rounding of the sum', { timeout: 30_000 }, async () => {
  const n = 3;
  const ring = await startLocalGrpcRing(n, { timeoutMs: 5000, maxMessageBytes: MAX_MSG });
  try {
    const len = 3001;
    const inputs = ring.map((_, r) => Float32Array.from({ length: len }, (_, i) => Math.sin(i + r) * 3));
    const outs = await Promise.all(ring.map((c, r) => c.allreduce(inputs[r]!, { wire: 'f16' })));
    for (const out of outs) assert.deepEqual(out, outs[0]);
    for (let i = 0; i < len; i++) {
      const exact = inputs.reduce((s, a) => s + a[i]!, 0);
      assert.ok(Math.abs(outs[0]![i]! - exact) <= 0.02, `i=${i}: ${outs[0]![i]} vs ${exact}`);
    }
    assert.deepEqual(decodeHalf(encodeHalf(outs[0]!)), outs[0], 'results are f16 values');
    assert.equal(ring[0]!.bytesSent > 0, true);
  } finally {
    await Promise.all(ring.map((c) => c.close()));
  }
});

/**
 * A fake rank 1 of a 2-rank ring: answers Join, serves a correct barrier for
 * operation 0 and `script(seq)` for later operations, and pulls rank 0's
 * chunks so rank 0's sends complete.
 */
async function withFakePeer(script: (seq: number) => Array<RingMessage | Buffer>, body: (rank0: Awaited<ReturnType<typeof listenGrpcRing>>['collective']) => Promise<void>): Promise<void> {
  const handlers: RingServerHandlers = {
    Join: (call, cb) => cb(null, { rank: 1, worldSize: 2, session: call.request.session }),
    Health: (_call, cb) => cb(null, { rank: 1, seq: 0, state: 'ok' }),
    Abort: (_call, cb) => cb(null, {}),
    Pull: (call) => {
      const seq = call.request.seq;
      const msgs: Array<RingMessage | Buffer> =
        seq === 0 ? [{ seq: 0, step: 0, phase: PHASES.gather, chunkIndex: 1, part: 0, senderRank: 1, chunkBytes: 0, data: new Uint8Array(0) }] : script(seq);
      for (const m of msgs) call.write(Buffer.isBuffer(m) ? m : encodeRingMessage(m));
      call.end();
    },
  };
  const fake = createRingServer(handlers);
  const fakeListener = await listenRingServer(fake, { host: '127.0.0.1', port: 0 });
  const fakePort = fakeListener.port;
  const rank0 = await listenGrpcRing({ rank: 0, worldSize: 2, timeoutMs: 2000 }, '127.0.0.1', 0);
  const peers = [`127.0.0.1:${rank0.port}`, `127.0.0.1:${fakePort}`];
  const client = createRingClient(peers[0]!);
  // Drain whatever rank 0 sends to "rank 1" for the operations it runs.
  const drain = (seq: number, kind: OpKindValue, totalElements: number): void => {
    const call = client.pull({ seq, receiverRank: 1, kind, totalElements, wire: 0, worldSize: 2 }, { deadline: Date.now() + 5000 });
    call.on('data', () => undefined);
    call.on('error', () => undefined);
  };
  try {
    drain(0, OP_KINDS.gather, 0);
    await rank0.collective.connect(peers);
    drain(1, OP_KINDS.allreduce, 8);
    await body(rank0.collective);
  } finally {
    client.close();
    await rank0.collective.close();
    await fakeListener.close();
  }
}

/** A correct message for operation 1: rank 0 of a 2-rank ring reducing 8 floats first receives chunk 1 = elements 4..7. */
const good: RingMessage = { seq: 1, step: 0, phase: PHASES.reduceScatter, chunkIndex: 1, part: 0, senderRank: 1, chunkBytes: 16, data: new Uint8Array(16) };

const malformed: Array<{ name: string; msg: RingMessage | Buffer; want: RegExp }> = [
  { name: 'wrong data size', msg: { ...good, data: new Uint8Array(12) }, want: /data size 12, expected 16/ },
  { name: 'wrong chunk size', msg: { ...good, chunkBytes: 20 }, want: /chunk size 20, expected 16/ },
  { name: 'wrong step', msg: { ...good, step: 1 }, want: /step 1, expected 0/ },
  { name: 'wrong phase', msg: { ...good, phase: PHASES.allGather }, want: /phase 2, expected 1/ },
  { name: 'bad chunk index', msg: { ...good, chunkIndex: 5 }, want: /chunk index 5, expected 1/ },
  { name: 'wrong sender', msg: { ...good, senderRank: 0 }, want: /sender rank 0, expected 1/ },
  { name: 'wrong sequence number', msg: { ...good, seq: 9 }, want: /seq 9, expected 1/ },
  { name: 'undecodable bytes', msg: Buffer.from([0x42, 0x7f, 0x01]), want: /rank 1/ },
];

for (const c of malformed) {
  test(`a malformed message is rejected, never summed: ${c.name}`, { timeout: 15_000 }, async () => {
    await withFakePeer(
      () => [c.msg],
      async (rank0) => {
        await assert.rejects(rank0.allreduce(new Float32Array(8).fill(1)), (err: unknown) => {
          assert.ok(err instanceof RingError, String(err));
          assert.equal(err.retryable, true);
          assert.match(err.message, c.want);
          assert.match(err.message, /rank 1/);
          return true;
        });
        // The ring is poisoned: later calls fail at once instead of hanging.
        await assert.rejects(rank0.barrier(), RingError);
      },
    );
  });
}

test('the ring server refuses pulls from a rank outside the ring', { timeout: 10_000 }, async () => {
  const rank0 = await listenGrpcRing({ rank: 0, worldSize: 2, timeoutMs: 2000 }, '127.0.0.1', 0);
  const client = createRingClient(`127.0.0.1:${rank0.port}`);
  try {
    const err = await new Promise<grpc.ServiceError>((resolve) => {
      const call = client.pull({ seq: 0, receiverRank: 5, kind: OP_KINDS.allreduce, totalElements: 8, wire: 0, worldSize: 2 }, { deadline: Date.now() + 3000 });
      call.on('data', () => undefined);
      call.on('error', resolve);
    });
    assert.equal(err.code, grpc.status.INVALID_ARGUMENT);
    assert.match(err.details, /refused a pull from rank 5/);
  } finally {
    client.close();
    await rank0.collective.close();
  }
});

test('allreduce with pooled, aligned wire messages: exact sums over repeated operations', { timeout: 60_000 }, async () => {
  // 128 KiB messages take the pooled path (payloads >= 64 KiB); repeated operations reuse its buffers, so a
  // buffer handed back before grpc-js copied it would show up as a wrong sum.
  const n = 3;
  const ring = await startLocalGrpcRing(n, { timeoutMs: 10_000, maxMessageBytes: 128 * 1024 });
  try {
    for (let round = 0; round < 3; round++) {
      const len = 300_001 + round;
      const inputs = ring.map((_, r) => Float32Array.from({ length: len }, (_, i) => ((i * 3 + r * 11 + round) % 97) - 48));
      const outs = await Promise.all(ring.map((c, r) => c.allreduce(inputs[r]!)));
      const want = Float32Array.from({ length: len }, (_, i) => inputs.reduce((s, a) => s + a[i]!, 0));
      for (const [r, out] of outs.entries()) assert.deepEqual(out, want, `round ${round} rank ${r}`);
    }
  } finally {
    await Promise.all(ring.map((c) => c.close()));
  }
});
