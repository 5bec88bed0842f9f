/**
 * The state one rank's run carries through its phases (setup, resume,
 * epoch, epoch end, finish), and the few actions several phases share.
 */
import type * as tf from '@tensorflow/tfjs';
import type { CheckpointPart } from '../../checkpoint/checkpoint-part.js';
import type { TrainOptions } from '../../../common/contract.js';
import type { Dataset, Split } from '../../data/types.js';
import type { StepEngine } from '../step-engine.js';
import { evaluateCounts, toEvalResult, type EvalAttackId, type EvalResult, type EvaluateOptions } from '../evaluate.js';
import type { Optimizer } from '../optimizers/index.js';
import type { BestWeightsGuard } from '../overfit-guard.js';
import { writeTrainCheckpoint } from '../resume.js';
import type { RunContext, TrainProgress } from '../run-context.js';
import type { RunFingerprint } from '../run-config.js';
import type { RunRecorder } from '../run-recorder.js';
import type { ScheduleOptions } from '../schedules.js';
import type { LoopState } from '../state/loop-state.js';
import type { TimeSplitAccumulator } from '../time-split.js';
import type { StepConfig } from '../train-step.js';
import type { UnlabeledRun } from '../unlabeled/unlabeled-run.js';
import { modelVariables, readWeights, writeWeights } from '../variables.js';

/** Purpose tags mixed into the run seed. */
export const SEED_TAGS = { attack: 0xa77a_c4, eval: 0xe7a1, guard: 0x6a4d, augment: 0xa06_c7f1 } as const;

/** A progress report without the fields every report of the run shares. */
export type RunReport = Omit<TrainProgress, 'rank' | 'worldSize' | 'globalBatch' | 'lastHeartbeat'>;

/** Everything the phases of one rank's run share. */
export interface TrainRun {
  readonly opts: TrainOptions;
  readonly ctx: RunContext;
  /** performance.now() at the start (wallSeconds). */
  readonly startedAt: number;
  readonly dataset: Dataset;
  /** The labelled training split (without the examples `--unlabeled-fraction` moved to the pool). */
  readonly train: Split;
  /** The pseudo-labelled pool and its sampling, with `--unlabeled-data` or `--unlabeled-fraction`. */
  readonly unlabeled: UnlabeledRun | undefined;
  /** Optimizer steps per epoch. */
  readonly steps: number;
  readonly totalSteps: number;
  readonly model: tf.LayersModel;
  readonly optimizer: Optimizer;
  /** How the step's attack, loss gradient and update run (graph or eager), chosen once at setup. */
  readonly engine: StepEngine;
  readonly guard: BestWeightsGuard | undefined;
  /** The loop's position and bookkeeping (a checkpoint part). */
  readonly loop: LoopState;
  /** Every checkpoint part of this rank (state/register-parts.ts). */
  readonly parts: readonly CheckpointPart[];
  readonly fingerprint: RunFingerprint;
  readonly configId: string;
  readonly stepConfig: StepConfig;
  readonly evalOpts: EvaluateOptions;
  readonly schedule: ScheduleOptions;
  /** The flat gradient's layout (computeGradients fuses trainable variables in this order), for per-tensor compression. */
  readonly gradSegments: readonly number[];
  readonly hasBatchNorm: boolean;
  readonly timeSplit: TimeSplitAccumulator;
  /** TensorBoard files and curves (chief only; set once the run is known to train). */
  recorder: RunRecorder | undefined;
  report(p: RunReport): void;
}

/** The evaluation attack matching the training threat model. */
export function evalAttackFor(opts: TrainOptions): EvalAttackId {
  return opts.attack === 'pgd-l2' ? 'pgd-l2' : 'pgd';
}

/** Robust and clean accuracy on the held-out set, summed over the ranks' shards when evaluation is sharded. */
export async function evaluateHeldOut(run: TrainRun): Promise<EvalResult> {
  const { evalOpts, ctx } = run;
  const local = await evaluateCounts(run.model, run.dataset.test, evalOpts);
  if (evalOpts.shard === undefined || ctx.sumAcrossRanks === undefined) return toEvalResult(local, evalOpts);
  const [n, clean, robust] = await ctx.sumAcrossRanks(Float32Array.of(local.n, local.cleanCorrect, local.robustCorrect));
  return toEvalResult({ n: n!, cleanCorrect: clean!, robustCorrect: robust! }, evalOpts);
}

/** Writes this rank's file of a checkpoint of every registered part (a no-op without `--checkpoint-dir`). */
export async function saveCheckpoint(run: TrainRun): Promise<void> {
  const dir = run.opts.checkpointDir;
  if (dir === undefined) return;
  await writeTrainCheckpoint(dir, run.ctx, run.loop.globalStep, run.parts, { fingerprint: run.fingerprint, configId: run.configId });
}

/** Overwrites this rank's weights (trainable and BatchNorm statistics) with rank 0's. */
export async function syncWeightsFromChief(model: tf.LayersModel, ctx: RunContext): Promise<void> {
  if (ctx.broadcastWeights === undefined || ctx.worldSize <= 1) return;
  const vars = modelVariables(model);
  const flat = await ctx.broadcastWeights(await readWeights(vars));
  if (ctx.rank !== 0) writeWeights(vars, flat);
}

/** Releases what the run holds (tensors, the recorder's files). */
export function disposeRun(run: TrainRun): void {
  run.recorder?.close();
  run.engine.dispose();
  run.optimizer.dispose();
  run.model.dispose();
}
