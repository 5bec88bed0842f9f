/**
 * The training loop's own state: where the run is (epoch, step in epoch,
 * global step) and the bookkeeping that shapes its metrics. Everything else
 * the loop uses is a pure function of the options and this position: the
 * data order of (seed, epoch, step), the learning rate and eps ramp of the
 * fractional epoch, attack starts of (seed, global step, rank). So saving
 * this object (a JSON checkpoint part) is saving the data position; there is
 * no RNG stream to keep.
 */
import { PART_SCOPES, type CheckpointPart, type SavedPart } from '../../checkpoint/checkpoint-part.js';
import type { EvalResult } from '../evaluate.js';
import type { EpochRecord, RunMetrics } from '../metrics.js';

export const LOOP_PART = 'loop';

/** Explicit loop state: what the epoch and finish phases read and advance. */
export interface LoopState {
  /** Epoch (0-based) of the next step; `epochs` when training is over. */
  epoch: number;
  /** Steps of `epoch` already taken (0 at an epoch boundary). */
  stepInEpoch: number;
  /** Optimizer steps taken so far (monotonic across resumes). */
  globalStep: number;
  history: EpochRecord[];
  /** Loss summed over the current epoch's steps so far. */
  epochLossSum: number;
  /** Training seconds of the current epoch so far. */
  epochSeconds: number;
  /** Training seconds of the run so far (evaluation excluded; resumes included). */
  trainSecondsTotal: number;
  lastEval?: EvalResult;
  /** 0-based epoch of `lastEval`; -1 when none. */
  lastEvalEpoch: number;
  /** Set once the overfitting guard stopped the run: a resume must not train further. */
  collapse?: RunMetrics['overfitGuard'];
}

/** The state of a fresh run. */
export function createLoopState(): LoopState {
  return { epoch: 0, stepInEpoch: 0, globalStep: 0, history: [], epochLossSum: 0, epochSeconds: 0, trainSecondsTotal: 0, lastEvalEpoch: -1 };
}

/** `state` as a checkpoint part: saved as JSON, loaded in place. */
export function createLoopPart(state: LoopState): CheckpointPart {
  return {
    key: LOOP_PART,
    scope: PART_SCOPES.run,
    required: true,
    save: () => ({ meta: snapshotLoop(state), tensors: new Map() }),
    check: checkLoop,
    load: (saved) => {
      const s = saved.meta as LoopState;
      // Optional fields absent from the checkpoint must not survive from before the load.
      delete state.lastEval;
      delete state.collapse;
      Object.assign(state, createLoopState(), s, { history: [...s.history] });
    },
  };
}

/** A copy of `state` without undefined fields (JSON drops them, and a round trip must compare equal). */
function snapshotLoop(state: LoopState): LoopState {
  const { lastEval, collapse, ...rest } = state;
  return { ...rest, history: [...state.history], ...(lastEval !== undefined ? { lastEval } : {}), ...(collapse !== undefined ? { collapse } : {}) };
}

function checkLoop(saved: SavedPart): string | undefined {
  const s = saved.meta as Partial<LoopState> | undefined;
  if (s === null || typeof s !== 'object' || !Number.isInteger(s.globalStep) || !Number.isInteger(s.epoch) || !Number.isInteger(s.stepInEpoch)) return 'the run position is missing';
  if (!Array.isArray(s.history)) return 'the metrics history is missing';
  return undefined;
}
