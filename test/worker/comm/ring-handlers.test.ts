/** The Ring service's handlers against a fake collective state: refusals, Join, Health, Abort. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import * as grpc from '@grpc/grpc-js';
import { EncodePool } from '../../../worker/comm/encode-pool.js';
import { RING_FAILURES, RingError } from '../../../worker/comm/ring-errors.js';
import { handleAbort, handleHealth, handleJoin, handlePull, type RingServiceState } from '../../../worker/comm/ring-handlers.js';
import { Outbound } from '../../../worker/comm/ring-outbound.js';
import { OpSequencer } from '../../../worker/comm/ring-sequencer.js';
import type { PullCall } from '../../../worker/comm/transport.js';

interface FakeState extends RingServiceState {
  failure: RingError | undefined;
  readonly failed: Array<{ err: RingError; tellPeers: boolean }>;
}

function fakeState(): FakeState {
  const failed: Array<{ err: RingError; tellPeers: boolean }> = [];
  const state: FakeState = {
    rank: 0, worldSize: 3, session: 'job-a', failure: undefined, failed,
    sequencer: new OpSequencer(() => new Outbound(() => undefined, new EncodePool(1024, 1))),
    describePeer: (r) => `rank ${r}`,
    fail: (err, tellPeers) => {
      failed.push({ err, tellPeers });
      state.failure ??= err;
    },
  };
  return state;
}

/** A Pull call that records the status it was ended with. */
function fakePull(request: Record<string, number>): PullCall & { errors: Array<{ code: number; details: string }> } {
  const call = new EventEmitter() as EventEmitter & { request: unknown; cancelled: boolean; errors: Array<{ code: number; details: string }>; write: () => boolean };
  call.request = { kind: 1, totalElements: 8, wire: 0, ...request };
  call.cancelled = false;
  call.errors = [];
  call.write = () => true;
  call.on('error', (e: { code: number; details: string }) => call.errors.push(e));
  return call as unknown as PullCall & { errors: Array<{ code: number; details: string }> };
}

test('Pull refuses requests that do not fit the ring', () => {
  const cases: Array<{ name: string; request: Record<string, number>; poisoned?: boolean; want?: { code: grpc.status; details: RegExp } }> = [
    { name: 'in order', request: { seq: 0, receiverRank: 1, worldSize: 3 } },
    { name: 'failed collective', request: { seq: 0, receiverRank: 1, worldSize: 3 }, poisoned: true, want: { code: grpc.status.ABORTED, details: /peer died/ } },
    { name: 'other world size', request: { seq: 0, receiverRank: 1, worldSize: 4 }, want: { code: grpc.status.INVALID_ARGUMENT, details: /of world 4 \(ring of 3\)/ } },
    { name: 'receiver outside the ring', request: { seq: 0, receiverRank: 3, worldSize: 3 }, want: { code: grpc.status.INVALID_ARGUMENT, details: /from rank 3/ } },
    { name: 'receiver is this rank', request: { seq: 0, receiverRank: 0, worldSize: 3 }, want: { code: grpc.status.INVALID_ARGUMENT, details: /from rank 0/ } },
    { name: 'out of order', request: { seq: 5, receiverRank: 1, worldSize: 3 }, want: { code: grpc.status.FAILED_PRECONDITION, details: /operation 5/ } },
  ];
  for (const c of cases) {
    const state = fakeState();
    if (c.poisoned) state.failure = new RingError('peer died', { failure: RING_FAILURES.disconnected });
    const call = fakePull(c.request);
    handlePull(state, call);
    if (c.want) {
      assert.equal(call.errors.length, 1, c.name);
      assert.equal(call.errors[0]!.code, c.want.code, c.name);
      assert.match(call.errors[0]!.details, c.want.details, c.name);
    } else {
      assert.deepEqual(call.errors, [], c.name);
      assert.equal(state.sequencer.slot(0, 1).call, call, `${c.name}: attached to its slot`);
    }
  }
});

test('a second Pull for the same stream is refused, and a cancelled one fails the ring naming the receiver', () => {
  const state = fakeState();
  handlePull(state, fakePull({ seq: 0, receiverRank: 2, worldSize: 3 }));
  const again = fakePull({ seq: 0, receiverRank: 2, worldSize: 3 });
  handlePull(state, again);
  assert.equal(again.errors[0]?.code, grpc.status.ALREADY_EXISTS);
  state.sequencer.slot(0, 2).call!.emit('cancelled');
  assert.equal(state.failed.length, 1);
  assert.equal(state.failed[0]!.tellPeers, true);
  assert.equal(state.failed[0]!.err.peerRank, 2);
  assert.match(state.failed[0]!.err.message, /lost its stream to rank 2/);
});

test('Join accepts only the same ring', () => {
  const cases = [
    { name: 'same ring', request: { rank: 2, worldSize: 3, session: 'job-a' }, ok: true },
    { name: 'other session', request: { rank: 2, worldSize: 3, session: 'job-b' }, ok: false },
    { name: 'other world size', request: { rank: 2, worldSize: 4, session: 'job-a' }, ok: false },
  ];
  for (const c of cases) {
    let got: { err: Partial<grpc.StatusObject> | null; res: unknown } | undefined;
    handleJoin(fakeState(), { request: c.request } as never, ((err: Partial<grpc.StatusObject> | null, res: unknown) => (got = { err, res })) as never);
    if (c.ok) assert.deepEqual(got, { err: null, res: { rank: 0, worldSize: 3, session: 'job-a' } }, c.name);
    else assert.equal(got?.err?.code, grpc.status.FAILED_PRECONDITION, c.name);
  }
});

test('Health reports the current operation and failure; Abort poisons without telling the peers again', () => {
  const state = fakeState();
  state.sequencer.begin();
  state.sequencer.begin();
  const health = (): unknown => {
    let res: unknown;
    handleHealth(state, {} as never, ((_e: unknown, r: unknown) => (res = r)) as never);
    return res;
  };
  assert.deepEqual(health(), { rank: 0, seq: 1, state: 'ok' });
  let answered = false;
  handleAbort(state, { request: { originRank: 2, seq: 1, reason: 'rank 1 died' } } as never, (() => (answered = true)) as never);
  assert.equal(answered, true);
  assert.equal(state.failed.length, 1);
  assert.equal(state.failed[0]!.tellPeers, false);
  assert.equal(state.failed[0]!.err.failure, RING_FAILURES.aborted);
  assert.equal(state.failed[0]!.err.peerRank, 2);
  assert.deepEqual(health(), { rank: 0, seq: 1, state: 'aborted' });
});
