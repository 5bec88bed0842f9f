/**
 * Graceful stop. A SIGTERM (the kubelet's, when a pod is preempted, drained,
 * suspended or deleted) or a SIGINT asks the run to stop at its next step
 * boundary instead of ending the process mid-step. The ranks agree on that
 * boundary with one small sum per step (a rank that was not signalled learns
 * that a peer was), every rank saves its checkpoint there, and the run ends
 * with a typed error. A restart then resumes at the step where the signal
 * came, not at the last periodic checkpoint.
 *
 * The agreement is a collective: every rank of a ring must call it at the same
 * boundaries, so whether a run has graceful stop depends only on what all its
 * ranks share (their options, and being pod workers or a single process).
 */
import { EXIT_CODES } from '../../common/contract.js';
import { DatError } from '../../common/errors.js';

/** The process side: which signal asked this rank to stop, and whether a signal stops gracefully now. */
export interface StopSignals {
  /** The first signal received while armed; undefined when none. */
  requested(): NodeJS.Signals | undefined;
  /** From now on a signal asks for a graceful stop. */
  arm(): void;
  /** From now on a signal ends the process at once again. */
  disarm(): void;
}

/** What the ranks agreed at a boundary: who was signalled. */
export interface StopAgreement {
  /** The ranks that received a stop signal, ascending (never empty). */
  readonly ranks: readonly number[];
  /** This rank's own signal, when it was one of them. */
  readonly own: NodeJS.Signals | undefined;
}

/** Element-wise sum of a buffer over all ranks (uncompressed). */
export type SumAcrossRanks = (buf: Float32Array) => Promise<Float32Array>;

/** A run's graceful stop: the signals, and the agreement over the ring. */
export interface StopControl extends Pick<StopSignals, 'arm' | 'disarm'> {
  /** Collective: whether any rank asked to stop; every rank calls it at the same boundaries. */
  agree(): Promise<StopAgreement | undefined>;
}

/**
 * The stop control of rank `rank` of `worldSize`. Each rank samples its own
 * signal once per agreement and contributes a one-hot flag, so every rank
 * reads the same sum and stops at the same step.
 */
export function stopControl(signals: StopSignals, rank: number, worldSize: number, sum?: SumAcrossRanks): StopControl {
  return {
    arm: () => signals.arm(),
    disarm: () => signals.disarm(),
    agree: async () => {
      const own = signals.requested();
      if (worldSize <= 1 || sum === undefined) return own === undefined ? undefined : { ranks: [rank], own };
      const flags = new Float32Array(worldSize);
      if (own !== undefined) flags[rank] = 1;
      const total = await sum(flags);
      const ranks = [...total.keys()].filter((r) => total[r]! > 0);
      return ranks.length === 0 ? undefined : { ranks, own };
    },
  };
}

/** The exit code of a run stopped by `signal`: 128 + its number, as a shell reports it. */
const SIGNAL_EXIT_CODES: Readonly<Record<string, number>> = { SIGINT: EXIT_CODES.interrupted, SIGTERM: EXIT_CODES.terminated };

/**
 * The run stopped at a step boundary after saving its checkpoint (retryable:
 * a restart resumes there). A signalled rank exits 128 + the signal's number;
 * the others exit as after a peer failure.
 */
export class StopRequestedError extends DatError {
  readonly exitCode: number;
  readonly step: number;
  readonly agreement: StopAgreement;

  constructor(agreement: StopAgreement, step: number, checkpointDir: string) {
    const who = agreement.own !== undefined ? `received ${agreement.own}` : `stopping with rank${agreement.ranks.length > 1 ? 's' : ''} ${agreement.ranks.join(', ')}, which received a stop signal`;
    super(`${who}: saved the checkpoint at step ${step} in ${checkpointDir} and stopped; a restart resumes from it`, { retryable: true });
    this.exitCode = agreement.own !== undefined ? (SIGNAL_EXIT_CODES[agreement.own] ?? EXIT_CODES.terminated) : EXIT_CODES.peerFailure;
    this.step = step;
    this.agreement = agreement;
  }
}
