/**
 * The run's `metrics.json`: final accuracies (fractions), the attack that
 * measured them, the per-epoch history and the configuration. Building is
 * pure; {@link writeRunMetrics} is the only side effect.
 */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CompressionId, TrainOptions } from '../contract.js';
import { wrapError } from '../util/errors.js';
import type { TimeSplit } from './time-split.js';

/** File name of the metrics inside `--output`. */
export const METRICS_FILE = 'metrics.json';
/** Sub-directory of `--output` holding the saved model. */
export const MODEL_DIR = 'model';
/** Sub-directory of `--output` holding TensorBoard event files (`tensorboard --logdir <output>/tensorboard`). */
export const TENSORBOARD_DIR = 'tensorboard';
/** The run's training curves inside `--output`. */
export const CURVES_FILE = 'curves.svg';

/** The attack that measured `robustAccuracy`. */
export interface RobustAttackInfo {
  readonly name: string;
  readonly eps: number;
  readonly steps: number;
  readonly restarts: number;
  readonly stepSize: number;
}

/** One epoch of training. */
export interface EpochRecord {
  /** 1-based epoch number. */
  readonly epoch: number;
  /** Mean training loss over the epoch's steps (this rank's batches). */
  readonly loss: number;
  /** Held-out accuracies, when the epoch was evaluated. */
  readonly cleanAccuracy?: number;
  readonly robustAccuracy?: number;
  /** Overfitting guard: PGD-5 accuracy on one training batch (FGSM-type training only). */
  readonly guardAccuracy?: number;
  /** Training images per second over all ranks (excluding evaluation). */
  readonly imagesPerSecond: number;
  /** Wall time of the epoch's training steps. */
  readonly seconds: number;
  /** Learning rate at the epoch's last step. */
  readonly lr: number;
}

/** Contents of `metrics.json`. */
export interface RunMetrics {
  readonly cleanAccuracy: number;
  readonly robustAccuracy: number;
  readonly robustAttack: RobustAttackInfo;
  /** Held-out examples the accuracies were measured on. */
  readonly evalExamples: number;
  readonly history: readonly EpochRecord[];
  readonly config: TrainOptions;
  /** TensorFlow.js backend the run used. */
  readonly backend: string;
  /** Weights of the model (Keras "Total params"). */
  readonly params: number;
  readonly trainExamples: number;
  /** Seconds from the start of runTraining to the metrics. */
  readonly wallSeconds: number;
  /** Training images/s over the whole run, all ranks. */
  readonly imagesPerSecond: number;
  /** Epochs actually run (fewer than configured when the overfitting guard stopped the run). */
  readonly epochsCompleted: number;
  /** Set when the overfitting guard fired: the final model is the one from `bestEpoch`. */
  readonly overfitGuard?: { readonly collapsedAtEpoch: number; readonly bestEpoch: number; readonly bestAccuracy: number };
  /** Ranks in the ring. */
  readonly workers?: number;
  /** Gradient compression in use (filled in by the distributed worker). */
  readonly compression?: CompressionId;
  /** Bytes each rank sent per optimizer step (filled in by the distributed worker). */
  readonly bytesSentPerStepPerRank?: number;
  /** Seconds this rank spent in each part of training (of `wallSeconds`). */
  readonly timeSplit?: TimeSplit;
}

/** Writes `metrics` to `<outputDir>/metrics.json` atomically. */
export async function writeRunMetrics(outputDir: string, metrics: RunMetrics): Promise<string> {
  const path = join(outputDir, METRICS_FILE);
  try {
    await mkdir(outputDir, { recursive: true });
    const tmp = `${path}.tmp-${process.pid}`;
    await writeFile(tmp, JSON.stringify(metrics, null, 2) + '\n');
    await rename(tmp, path);
  } catch (err) {
    throw wrapError(`failed to write ${path}`, err);
  }
  return path;
}
