/**
 * The Ring service's handlers (proto/ring.proto), one named function per RPC.
 *
 * They read and poison the collective only through {@link RingServiceState},
 * so the service's rules (who may pull what, who may join, what an abort
 * does) are visible in one place and testable without streams of our own.
 */
import * as grpc from '@grpc/grpc-js';
import type { RingHandlers } from '../gen/dat/ring/v1/Ring.js';
import { RING_FAILURES, RingError } from './ring-errors.js';
import type { OpSequencer } from './ring-sequencer.js';
import type { PullCall, RingServerHandlers } from './transport.js';

/** What the handlers need from the collective that serves them. */
export interface RingServiceState {
  readonly rank: number;
  readonly worldSize: number;
  /** Ring identity (job name and incarnation). */
  readonly session: string;
  readonly sequencer: OpSequencer;
  /** The failure that poisoned the collective, if any. */
  readonly failure: RingError | undefined;
  /** A peer's name for error messages. */
  describePeer(rank: number): string;
  /** Poisons the collective with `err`; `tellPeers` sends Abort to every peer. */
  fail(err: RingError, tellPeers: boolean): void;
}

/** Handlers for `createRingServer`, bound to `state`. */
export function createRingHandlers(state: RingServiceState): RingServerHandlers {
  return {
    Pull: (call) => handlePull(state, call),
    Join: (call, cb) => handleJoin(state, call, cb),
    Health: (call, cb) => handleHealth(state, call, cb),
    Abort: (call, cb) => handleAbort(state, call, cb),
  };
}

/**
 * Pull: the caller (the receiver of a hop) asks for this rank's chunks of one
 * operation. Refused when the collective failed, the request does not fit the
 * ring, the operation is out of order, or the stream already exists; otherwise
 * the call is attached to the operation's outgoing stream, which may already
 * hold queued chunks.
 */
export function handlePull(state: RingServiceState, call: PullCall): void {
  const req = call.request;
  const reject = (code: grpc.status, details: string): void => {
    call.emit('error', { code, details });
  };
  if (state.failure) {
    reject(grpc.status.ABORTED, state.failure.message);
    return;
  }
  const receiver = req.receiverRank;
  if (req.worldSize !== state.worldSize || receiver >= state.worldSize || receiver === state.rank) {
    reject(grpc.status.INVALID_ARGUMENT, `rank ${state.rank} refused a pull from rank ${receiver} of world ${req.worldSize} (ring of ${state.worldSize})`);
    return;
  }
  const outOfOrder = state.sequencer.refusePull(req.seq, receiver, state.rank);
  if (outOfOrder !== undefined) {
    reject(grpc.status.FAILED_PRECONDITION, outOfOrder);
    return;
  }
  const slot = state.sequencer.slot(req.seq, receiver);
  if (slot.call) {
    reject(grpc.status.ALREADY_EXISTS, `rank ${state.rank} already streams operation ${req.seq} to rank ${receiver}`);
    return;
  }
  call.on('cancelled', () => {
    if (slot.isDone) return;
    state.fail(new RingError(`rank ${state.rank} lost its stream to ${state.describePeer(receiver)}: the receiver cancelled operation ${req.seq} (it failed or went away)`, { failure: RING_FAILURES.disconnected, peerRank: receiver }), true);
  });
  call.on('error', () => undefined);
  slot.attach(call);
}

/** Join: rendezvous; a caller from another ring (world size, job, incarnation) is refused. */
export function handleJoin(state: RingServiceState, call: Parameters<RingHandlers['Join']>[0], cb: Parameters<RingHandlers['Join']>[1]): void {
  const req = call.request;
  if (req.worldSize !== state.worldSize || req.session !== state.session) {
    cb({ code: grpc.status.FAILED_PRECONDITION, details: `rank ${state.rank} is in ring ${state.session} of ${state.worldSize}, caller rank ${req.rank} expects ${req.session} of ${req.worldSize}` });
    return;
  }
  cb(null, { rank: state.rank, worldSize: state.worldSize, session: state.session });
}

/** Health: liveness probe, reporting the current operation and whether this rank failed. */
export function handleHealth(state: RingServiceState, _call: Parameters<RingHandlers['Health']>[0], cb: Parameters<RingHandlers['Health']>[1]): void {
  cb(null, { rank: state.rank, seq: state.sequencer.current, state: state.failure ? 'aborted' : 'ok' });
}

/** Abort: a peer failed; answer, then fail this rank's operations without telling the others again. */
export function handleAbort(state: RingServiceState, call: Parameters<RingHandlers['Abort']>[0], cb: Parameters<RingHandlers['Abort']>[1]): void {
  cb(null, {});
  const req = call.request;
  state.fail(new RingError(`ring aborted by rank ${req.originRank}: ${req.reason}`, { failure: RING_FAILURES.aborted, peerRank: req.originRank }), false);
}
