/**
 * Builds the {@link GradientReducer} for `--compression`: picks the hook,
 * wraps it with the uncompressed warm-up, and counts the bytes each step puts
 * on the wire.
 */
import type { CheckpointPart } from '../../checkpoint/checkpoint-part.js';
import type { CompressionId } from '../../../common/contract.js';
import type { Collective, GradientReducer } from '../collective.js';
import { createAllreduceHook, withWarmup, type CommHook } from '../hooks.js';
import { createFp16Hook } from './fp16.js';
import { MajorityVoteHook } from './majority-vote.js';
import { Qsgd8Hook } from './qsgd8.js';
import { LocalMomentum } from './local-momentum.js';
import { SignEfHook } from './sign-ef.js';

/** Options of {@link createGradientReducer}. */
export interface ReducerOptions {
  readonly collective: Collective;
  readonly compression: CompressionId;
  /** Uncompressed steps before compression starts. @default 0 */
  readonly warmupSteps?: number;
  /** Seed of stochastic quantizers (same on every rank). @default 0 */
  readonly seed?: number;
  /** Per-hop deadline of each collective call. */
  readonly timeoutMs?: number;
  /** qsgd8: per-segment (e.g. per-layer) norms. */
  readonly segments?: readonly number[];
  /** Reduce each rank's gradient moment with this β instead of the gradient (see local-momentum.ts). @default none */
  readonly localMomentum?: number;
}

/** Bytes on the wire, per rank. */
export interface CommStats {
  steps: number;
  totalBytes: number;
  lastStepBytes: number;
}

/** Mean bytes per step so far (0 before the first step). */
export function meanBytesPerStep(stats: CommStats): number {
  return stats.steps === 0 ? 0 : stats.totalBytes / stats.steps;
}

/** A new hook for a compression id (every hook carries its own state and result buffers: one per rank). */
export function createCommHook(compression: CompressionId, seed: number, segments?: readonly number[]): CommHook {
  switch (compression) {
    case 'none':
      return createAllreduceHook();
    case 'fp16':
      return createFp16Hook();
    case 'qsgd8':
      return new Qsgd8Hook({ seed, segments }).hook;
    case 'sign-ef':
      return new SignEfHook().hook;
    case 'majority-vote':
      return new MajorityVoteHook().hook;
  }
}

/**
 * The reducer (flat gradient → mean over the ring), its byte statistics, and
 * the checkpoint parts of the state it keeps: each stateful algorithm is its
 * own part (sign-ef's error-feedback memory, the local moments); the others
 * are stateless (qsgd8 draws from a generator seeded by (seed, rank, step)).
 */
export function createGradientReducer(opts: ReducerOptions): { reducer: GradientReducer; stats: CommStats; parts: readonly CheckpointPart[] } {
  const signEf = opts.compression === 'sign-ef' ? new SignEfHook() : undefined;
  const momentum = opts.localMomentum === undefined ? undefined : new LocalMomentum(opts.localMomentum);
  const warmed = withWarmup(signEf?.hook ?? createCommHook(opts.compression, opts.seed ?? 0, opts.segments), opts.warmupSteps ?? 0);
  const hook = momentum?.wrap(warmed) ?? warmed;
  const state = { collective: opts.collective, timeoutMs: opts.timeoutMs };
  const stats: CommStats = { steps: 0, totalBytes: 0, lastStepBytes: 0 };
  const reducer: GradientReducer = async (flatGrad, step, segments) => {
    const before = opts.collective.bytesSent ?? 0;
    const mean = await hook(state, { index: 0, buffer: flatGrad, step, ...(segments !== undefined ? { segments } : {}) });
    stats.lastStepBytes = (opts.collective.bytesSent ?? 0) - before;
    stats.totalBytes += stats.lastStepBytes;
    stats.steps++;
    return mean;
  };
  const parts = [signEf, momentum].filter((p): p is SignEfHook | LocalMomentum => p !== undefined);
  return { reducer, stats, parts };
}
