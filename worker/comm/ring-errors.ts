/**
 * Typed errors of the collective layer. A broken ring is retryable (the gang
 * restarts from a checkpoint); an operation a transport lacks is not.
 */
import { DatError } from '../../common/errors.js';

/** Why a collective step failed. */
export const RING_FAILURES = {
  /** No message from a peer within the hop deadline (hung or overloaded peer). */
  timeout: 'timeout',
  /** The connection or stream to a peer broke (peer died or cancelled). */
  disconnected: 'disconnected',
  /** A peer sent a message that does not fit the protocol (size, step, chunk, sender). */
  malformed: 'malformed',
  /** Another rank failed first and told everyone to stop. */
  aborted: 'aborted',
  /** This collective already failed; a new ring (gang restart) is needed. */
  closed: 'closed',
  /** Ranks disagree about the ring (world size, session, buffer size). */
  mismatch: 'mismatch',
  /** A gradient or partial sum holds NaN or Inf: summing it would corrupt the model on every rank. */
  nonFinite: 'non-finite',
} as const;
export type RingFailure = (typeof RING_FAILURES)[keyof typeof RING_FAILURES];

/** A collective step failed; every rank of the ring gets one, naming the peer at fault. */
export class RingError extends DatError {
  readonly failure: RingFailure;
  /** The rank whose behaviour caused the failure, when known. */
  readonly peerRank: number | undefined;
  constructor(message: string, opts: { failure: RingFailure; peerRank?: number; cause?: unknown }) {
    super(message, { retryable: true, cause: opts.cause });
    this.failure = opts.failure;
    this.peerRank = opts.peerRank;
  }
}

/** `transport X does not support Y`: a programming or configuration error, not retryable. */
export class UnsupportedOperationError extends DatError {
  constructor(transport: string, operation: string) {
    super(`transport ${transport} does not support ${operation}`, { retryable: false });
  }
}
