/**
 * The run's `metrics.json`: final accuracies (fractions), the attack that
 * measured them, the per-epoch history and the configuration. Building is
 * pure; {@link writeRunMetrics} is the only side effect.
 */
import { mkdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../checkpoint/atomic-file.js';
import { ensureWritableDir, explainFsError } from '../checkpoint/writable-dir.js';
import type { CompressionId, FinalEvaluationReport, TrainOptions } from '../../common/contract.js';
import { ConfigError } from '../../common/errors.js';
import type { TimeSplit } from './time-split.js';
import type { CollectiveSummary } from '../comm/observed-collective.js';

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
  /** This rank's collective totals: all-reduce latency, wire bytes, codec time (filled in by the distributed worker). */
  readonly collective?: CollectiveSummary;
  /** Seconds this rank spent in each part of training (of `wallSeconds`). */
  readonly timeSplit?: TimeSplit;
  /** The `--final-eval` result: `dat eval`'s attacks on the final model (absent with `--final-eval none`). */
  readonly finalEvaluation?: FinalEvaluationReport;
}

/** Writes `metrics` to `<outputDir>/metrics.json` atomically. */
export async function writeRunMetrics(outputDir: string, metrics: RunMetrics): Promise<string> {
  const path = join(outputDir, METRICS_FILE);
  try {
    await mkdir(outputDir, { recursive: true });
    await writeFileAtomic(path, JSON.stringify(metrics, null, 2) + '\n', { durable: false });
  } catch (err) {
    throw explainFsError(err, 'write', path);
  }
  return path;
}

/**
 * Proves before training that the outputs can be written: `outputDir` and
 * its `model/` are (or can be made) writable directories, and `metrics.json`
 * is not a directory. Throws a ConfigError (exit 2) for a path that can never
 * work, so a run does not train for hours and then fail on its last line.
 */
export async function checkOutputDir(outputDir: string): Promise<void> {
  await ensureWritableDir(outputDir, 'output directory (--output)');
  await ensureWritableDir(join(outputDir, MODEL_DIR), 'model directory (--output)');
  const metricsPath = join(outputDir, METRICS_FILE);
  const st = await stat(metricsPath).catch(() => undefined);
  if (st?.isDirectory() === true) throw new ConfigError(`cannot write ${metricsPath}: it is a directory (--output)`);
}

/**
 * The metrics.json in `outputDir` when it is the record of a run with this
 * `history` and its model is there too (a rerun of a finished run then
 * leaves both alone); undefined otherwise.
 */
export async function readCompletedOutputs(outputDir: string, history: readonly EpochRecord[], modelJson: string): Promise<RunMetrics | undefined> {
  try {
    const metrics = JSON.parse(await readFile(join(outputDir, METRICS_FILE), 'utf8')) as RunMetrics;
    await stat(join(outputDir, MODEL_DIR, modelJson));
    return JSON.stringify(metrics.history) === JSON.stringify(history) ? metrics : undefined;
  } catch {
    return undefined;
  }
}
