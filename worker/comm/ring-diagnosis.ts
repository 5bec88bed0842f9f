/**
 * Failure diagnosis of the gRPC ring. A hop timeout only names the neighbour
 * this rank waited for, which may itself be starved by a hung rank further up
 * the ring; probing every peer's Health finds the ones that do not answer.
 */
import { RING_FAILURES, RingError } from './ring-errors.js';

/** Deadline of the Health probes that find a hung rank after a hop timeout. */
export const HEALTH_PROBE_TIMEOUT_MS = 500;

/** How to reach and name the peers. */
export interface DiagnosisPeers {
  readonly rank: number;
  readonly worldSize: number;
  /** Resolves true when `peer` answers Health within {@link HEALTH_PROBE_TIMEOUT_MS}. */
  probe(peer: number): Promise<boolean>;
  describePeer(rank: number): string;
}

/**
 * Returns `err` with the unresponsive peers named (the first as `peerRank`),
 * or `err` itself when it is no hop timeout or every peer answers.
 */
export async function diagnoseTimeout(err: unknown, peers: DiagnosisPeers): Promise<unknown> {
  if (!(err instanceof RingError) || err.failure !== RING_FAILURES.timeout) return err;
  const others = Array.from({ length: peers.worldSize }, (_, r) => r).filter((r) => r !== peers.rank);
  const alive = await Promise.all(others.map((p) => peers.probe(p)));
  const silent = others.filter((_, i) => !alive[i]);
  if (silent.length === 0) return err;
  return new RingError(`${err.message}; unresponsive: ${silent.map((r) => peers.describePeer(r)).join(', ')}`, { failure: RING_FAILURES.timeout, peerRank: silent[0], cause: err });
}
