/**
 * Graceful stop. A SIGTERM (the kubelet's, when a pod is preempted, drained,
 * suspended or deleted) or a SIGINT asks the run to stop at its next step
 * boundary instead of ending the process mid-step. The ranks agree on that
 * boundary with one small sum about once a second (a rank that was not
 * signalled learns that a peer was), every rank saves its checkpoint there,
 * and the run ends with a typed error. A restart then resumes at the step
 * where the run stopped, not at the last periodic checkpoint.
 *
 * The agreement is a collective: every rank of a ring must call it at the same
 * boundaries, so whether a run has graceful stop depends only on what all its
 * ranks share (their options, and being pod workers or a single process).
 */
import { constants } from 'node:os';
import { performance } from 'node:perf_hooks';
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

/**
 * Seconds of training between two agreements on a ring. An agreement is one
 * all-reduce of N + 1 floats, a few milliseconds of per-operation latency
 * (bench:allreduce --latency), so steps shorter than this share one; a stop
 * then waits at most about this long plus a step.
 */
export const STOP_CHECK_INTERVAL_SECONDS = 1;

/** A run's graceful stop: the signals, and the agreement over the ring. */
export interface StopControl extends Pick<StopSignals, 'arm' | 'disarm'> {
  /**
   * A step boundary: whether the ranks agreed to stop here. Collective: every
   * rank calls it at every boundary, and all of them agree at the same ones
   * (every boundary where one is due; `due` forces one, e.g. after a checkpoint).
   */
  atBoundary(opts?: { readonly due?: boolean }): Promise<StopAgreement | undefined>;
}

/**
 * The stop control of rank `rank` of `worldSize`.
 *
 * Each rank samples its own signal once per agreement and contributes a
 * one-hot flag, plus its mean seconds per boundary since the last agreement.
 * Every rank reads the same sum, so all stop at the same boundary and all
 * space the next agreement alike: every boundary when steps take
 * {@link STOP_CHECK_INTERVAL_SECONDS} or more, every k-th when they are k times
 * shorter. One process needs no agreement and looks at every boundary.
 */
export function stopControl(signals: StopSignals, rank: number, worldSize: number, sum?: SumAcrossRanks, now: () => number = () => performance.now()): StopControl {
  let boundaries = 0;
  let nextDue = 0;
  let last = { at: now(), boundaries: 0 };
  return {
    arm: () => {
      last = { at: now(), boundaries };
      signals.arm();
    },
    disarm: () => signals.disarm(),
    atBoundary: async (opts = {}) => {
      boundaries++;
      const own = signals.requested();
      if (worldSize <= 1 || sum === undefined) return own === undefined ? undefined : { ranks: [rank], own };
      if (opts.due !== true && boundaries < nextDue) return undefined;
      const buf = new Float32Array(worldSize + 1);
      if (own !== undefined) buf[rank] = 1;
      const t = now();
      buf[worldSize] = (t - last.at) / 1000 / Math.max(1, boundaries - last.boundaries);
      last = { at: t, boundaries };
      const total = await sum(buf);
      const meanSeconds = total[worldSize]! / worldSize;
      // The sum is float32: a relative 1e-6 keeps an exact tenth of the interval at 10 steps, not 9.
      nextDue = boundaries + Math.max(1, Math.floor((STOP_CHECK_INTERVAL_SECONDS / Math.max(meanSeconds, 1e-6)) * (1 + 1e-6)));
      const ranks = [...total.subarray(0, worldSize).keys()].filter((r) => total[r]! > 0);
      return ranks.length === 0 ? undefined : { ranks, own };
    },
  };
}

/** The exit code of a process stopped by `signal`: 128 + its number, as a shell reports it. */
export function signalExitCode(signal: NodeJS.Signals): number {
  return 128 + constants.signals[signal];
}

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
    this.exitCode = agreement.own !== undefined ? signalExitCode(agreement.own) : EXIT_CODES.peerFailure;
    this.step = step;
    this.agreement = agreement;
  }
}
