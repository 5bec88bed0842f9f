/**
 * Collective measurements: per-call latency and outcome, wire bytes per
 * direction (against a real in-process gRPC ring: what one rank sends its
 * right neighbour is what that neighbour receives), and the codec split.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Collective } from '../../../worker/comm/collective.js';
import { ObservedCollective, type CollectiveObserver, type CollectiveOp } from '../../../worker/comm/observed-collective.js';
import { startLocalGrpcRing } from '../../../worker/comm/start-grpc-ring.js';
import { createGradientReducer } from '../../../worker/comm/compression/create-reducer.js';
import { COMPRESSIONS } from '../../../common/contract.js';

interface Recorded {
  calls: Array<{ op: CollectiveOp; seconds: number; ok: boolean }>;
  codec: Array<{ phase: 'encode' | 'decode'; seconds: number }>;
  bytes: { sent: number; received: number };
}

function recorder(): CollectiveObserver & { rec: Recorded } {
  const rec: Recorded = { calls: [], codec: [], bytes: { sent: 0, received: 0 } };
  return {
    rec,
    observeCall: (op, seconds, ok) => rec.calls.push({ op, seconds, ok }),
    observeCodec: (phase, seconds) => rec.codec.push({ phase, seconds }),
    addWireBytes: (direction, n) => (rec.bytes[direction] += n),
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A fake transport (unit test only): each call takes `ms`, fails when asked, and counts 100 bytes each way. */
function fakeCollective(ms: number): Collective & { failNext: boolean } {
  let sent = 0;
  const call = async <T>(fake: { failNext: boolean }, v: T): Promise<T> => {
    await sleep(ms);
    sent += 100;
    if (fake.failNext) {
      fake.failNext = false;
      throw new Error('peer died');
    }
    return v;
  };
  const c = {
    rank: 0, worldSize: 2, failNext: false,
    get bytesSent() { return sent; },
    get bytesReceived() { return sent; },
    allreduce: (b: Float32Array) => call(c, b),
    allgather: (b: Uint8Array) => call(c, [b, b]),
    broadcast: (b: Uint8Array) => call(c, b),
    barrier: () => call(c, undefined),
    alltoall: (blocks: readonly Uint8Array[]) => call(c, [...blocks]),
    close: () => Promise.resolve(),
  };
  return c;
}

test('every collective call is timed with its outcome, and wire bytes are reported as deltas', async () => {
  const fake = fakeCollective(5);
  const obs = recorder();
  const c = new ObservedCollective(fake, obs);
  const cases: Array<{ op: CollectiveOp; run: () => Promise<unknown>; fail?: boolean }> = [
    { op: 'allreduce', run: () => c.allreduce(new Float32Array(4)) },
    { op: 'allgather', run: () => c.allgather(new Uint8Array(2)) },
    { op: 'broadcast', run: () => c.broadcast(new Uint8Array(2), 0) },
    { op: 'barrier', run: () => c.barrier() },
    { op: 'alltoall', run: () => c.alltoall!([new Uint8Array(1), new Uint8Array(1)]) },
    { op: 'allreduce', run: () => c.allreduce(new Float32Array(4)), fail: true },
  ];
  for (const k of cases) {
    fake.failNext = k.fail === true;
    if (k.fail) await assert.rejects(k.run(), /peer died/);
    else await k.run();
  }
  assert.deepEqual(obs.rec.calls.map((x) => [x.op, x.ok]), cases.map((k) => [k.op, k.fail !== true]));
  for (const x of obs.rec.calls) assert.ok(x.seconds >= 0.004 && x.seconds < 5, `${x.op} took ${x.seconds} s`);
  assert.deepEqual(obs.rec.bytes, { sent: 600, received: 600 });
  const s = c.summary();
  assert.equal(s.allreduceCalls, 2);
  assert.equal(s.bytesSent, 600);
});

test('reducer time outside collective calls is codec time: before and between calls encode, after the last decode', async () => {
  const obs = recorder();
  const c = new ObservedCollective(fakeCollective(20), obs);
  const reducer = c.timeCodec(async (g) => {
    await sleep(30); // compress
    await c.allgather(new Uint8Array(1));
    await sleep(30); // re-compress between the exchanges
    await c.allgather(new Uint8Array(1));
    await sleep(60); // decode
    return g;
  });
  await reducer(new Float32Array(1), 0);
  const [decode, encode] = obs.rec.codec;
  assert.equal(decode?.phase, 'decode');
  assert.equal(encode?.phase, 'encode');
  // Timers overshoot, never undershoot; the bounds leave room for a loaded machine.
  assert.ok(decode!.seconds >= 0.055 && decode!.seconds < 0.5, `decode ${decode!.seconds}`);
  assert.ok(encode!.seconds >= 0.055 && encode!.seconds < 0.5, `encode ${encode!.seconds}`);
  const callTime = obs.rec.calls.reduce((t, x) => t + x.seconds, 0);
  assert.ok(callTime >= 0.038, `calls ${callTime}`);
});

test('on a real gRPC ring, what each rank sends its right neighbour is what that neighbour receives', { timeout: 60_000 }, async () => {
  const n = 3;
  const ring = await startLocalGrpcRing(n, { timeoutMs: 5000, maxMessageBytes: 4096 });
  try {
    const obs = ring.map(() => recorder());
    const observed = ring.map((c, r) => new ObservedCollective(c, obs[r]!));
    const len = 10_001;
    await Promise.all(observed.map((c, r) => c.allreduce(Float32Array.from({ length: len }, (_, i) => i + r))));
    for (let r = 0; r < n; r++) {
      const right = (r + 1) % n;
      assert.ok(obs[r]!.rec.bytes.sent > 2 * (n - 1) * Math.floor(len / n) * 4 * 0.99, `rank ${r} sent ${obs[r]!.rec.bytes.sent}`);
      assert.equal(obs[right]!.rec.bytes.received, obs[r]!.rec.bytes.sent, `rank ${r} -> rank ${right}`);
      assert.deepEqual(obs[r]!.rec.calls.map((x) => [x.op, x.ok]), [['allreduce', true]]);
    }
  } finally {
    await Promise.all(ring.map((c) => c.close()));
  }
});

test('every compression reports codec time once per phase per step', { timeout: 60_000 }, async () => {
  const n = 2;
  const ring = await startLocalGrpcRing(n, { timeoutMs: 5000 });
  try {
    for (const compression of COMPRESSIONS) {
      const obs = ring.map(() => recorder());
      const observed = ring.map((c, r) => new ObservedCollective(c, obs[r]!));
      const reducers = observed.map((c) => c.timeCodec(createGradientReducer({ collective: c, compression, seed: 1 }).reducer));
      for (let step = 0; step < 2; step++) await Promise.all(reducers.map((red, r) => red(Float32Array.from({ length: 5000 }, (_, i) => Math.sin(i + r)), step)));
      for (const o of obs) {
        assert.deepEqual(o.rec.codec.map((x) => x.phase), ['decode', 'encode', 'decode', 'encode'], compression);
        assert.ok(o.rec.calls.length >= 2, `${compression}: ${o.rec.calls.length} calls`);
      }
    }
  } finally {
    await Promise.all(ring.map((c) => c.close()));
  }
});
