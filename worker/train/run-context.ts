/** What a training run is given (the ring around it) and what it returns. */
import type * as tf from '@tensorflow/tfjs';
import type { CheckpointPart } from '../checkpoint/checkpoint-part.js';
import { identityReducer, type GradientReducer } from '../comm/collective.js';
import type { ProgressReport } from '../../common/contract.js';
import type { Logger } from '../../common/log.js';
import type { StopControl } from './graceful-stop.js';
import type { StepEngine } from './step-engine.js';
import type { RunMetrics } from './metrics.js';
import type { StepTiming } from './time-split.js';

/** Progress of one rank, as passed to {@link RunContext.onProgress}. */
export type TrainProgress = ProgressReport & {
  readonly rank: number;
  readonly worldSize: number;
  /** Images per optimizer step over all ranks. */
  readonly globalBatch: number;
  /** Wall time of the step just taken (training phase only), for the step-duration histogram. */
  readonly stepSeconds?: number;
  /** The step's wall time by part (with `stepSeconds`). */
  readonly stepTiming?: StepTiming;
};

/** How the loop talks to the rest of the ring (or to nothing, in one process). */
export interface RunContext {
  readonly rank: number;
  readonly worldSize: number;
  /** Mean of the flat gradient over all ranks (`identityReducer` in one process). */
  readonly reducer: GradientReducer;
  /** Rank 0's buffer on every rank (initial weights, pseudo-labels, BatchNorm statistics). */
  broadcastWeights?(flat: Float32Array): Promise<Float32Array>;
  /**
   * Element-wise sum over ranks, uncompressed. When given (and worldSize > 1)
   * evaluation is sharded across ranks; otherwise every rank evaluates all.
   */
  sumAcrossRanks?(buf: Float32Array): Promise<Float32Array>;
  /** Called after every step and phase change. */
  onProgress?(p: TrainProgress): void;
  readonly log: Logger;
  /** Rank 0: writes the model and metrics.json. */
  readonly isChief: boolean;
  /** Backend name for metrics.json. @default tf.getBackend() */
  readonly backend?: string;
  /** Extra fields merged into metrics.json before it is written (e.g. bytes sent per step). */
  extraMetrics?(): Partial<RunMetrics>;
  /** Bytes this rank sent in the last reducer call (recorded per step on the chief). @default 0 */
  bytesSentLastStep?(): number;
  /**
   * Stateful parts kept outside the loop (the reducer's compression
   * memories), saved in this rank's checkpoint file and restored on resume
   * next to the loop's own (state/register-parts.ts). Absent: none.
   */
  readonly parts?: readonly CheckpointPart[];
  /**
   * Compiles the model's attack and loss gradient for the backend in use
   * (the native backend runs them as TensorFlow graphs). Undefined, or a
   * result of undefined: the step runs eagerly.
   */
  chooseStepEngine?(model: tf.LayersModel): StepEngine;
  /**
   * Graceful stop on SIGTERM/SIGINT while training with a checkpoint
   * directory (graceful-stop.ts). Every rank of a ring has one, or none does.
   * Absent: a signal ends the process at once.
   */
  readonly stop?: StopControl;
}

/** The context of a run in one process: rank 0 of 1, the identity reducer, the chief writing outputs. */
export function singleProcessContext(
  log: Logger,
  backend: string,
  onProgress: (p: TrainProgress) => void,
  chooseStepEngine?: (model: tf.LayersModel) => StepEngine,
  stop?: StopControl,
): RunContext {
  return { rank: 0, worldSize: 1, reducer: identityReducer, onProgress, log, isChief: true, backend, ...(chooseStepEngine !== undefined ? { chooseStepEngine } : {}), ...(stop !== undefined ? { stop } : {}) };
}

/** What a training run returns. */
export interface RunResult {
  readonly metrics: RunMetrics;
  /** Where the chief wrote its outputs (undefined on other ranks). */
  readonly modelDir?: string;
  readonly metricsPath?: string;
}
