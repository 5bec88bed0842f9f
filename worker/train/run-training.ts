/**
 * The training loop of one rank (also the whole run in single-process mode).
 *
 * 0. Check that the outputs (chief) and the checkpoint directory can be
 *    written: a bad path fails now, permanently, not after all training.
 * 1. Load the dataset; pseudo-label the unlabeled fraction with a teacher.
 * 2. Build the model (same seed on every rank) and the optimizer.
 * 3. Broadcast rank 0's initial weights; with `--checkpoint-dir`, resume
 *    from the newest complete checkpoint the ranks agree on (resume.ts),
 *    refusing one written with another configuration (run-config.ts).
 * 4. Per epoch and step: this rank's shard batch → computeGradients (attack
 *    radius ramped by `--eps-warmup-epochs`) → reducer (ring mean) →
 *    applyGradients at the scheduled learning rate; a checkpoint every
 *    `checkpointEvery` optimizer steps.
 * 5. After each epoch: the catastrophic-overfitting probe (FGSM-type
 *    training), then held-out evaluation every `evalEvery` epochs and at the
 *    end, then a checkpoint.
 * 6. On a collapse, restore the best weights and stop.
 * 7. On the chief: save the model and metrics.json; a rerun of a run its
 *    checkpoint shows complete leaves the matching outputs alone.
 *
 * All loop state lives in one {@link TrainState} object, which is what a
 * checkpoint saves. Everything else is a pure function of the options and
 * the position: the data order of (seed, epoch, step), the learning rate and
 * eps ramp of the fractional epoch, attack starts of (seed, global step,
 * rank). So a run killed at any step and resumed takes the same optimizer
 * steps on the same batches as an uninterrupted one, bit for bit without
 * compression.
 */
import { performance } from 'node:perf_hooks';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { ProgressReport, TrainOptions } from '../contract.js';
import { identityReducer, type GradientReducer } from '../comm/collective.js';
import { SIGN_COMPRESSIONS, localMomentumBeta } from '../comm/compression/local-momentum.js';
import { loadDataset } from '../data/load-dataset.js';
import { batchIndices, stepsPerEpoch } from '../data/shard.js';
import { concatSplits, gatherBatch } from '../data/split-ops.js';
import { splitUnlabeled, withPseudoLabels } from '../data/unlabeled.js';
import type { Dataset, Split } from '../data/types.js';
import { ConfigError } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import { deriveSeed } from '../util/rng.js';
import { createModel, countParams } from './models/index.js';
import { createOptimizer, type Optimizer } from './optimizers/index.js';
import { epsWarmupFactor, learningRateAt, validateScheduleOptions } from './schedules.js';
import { modelVariables, nonTrainableVariables, readWeights, totalSize, trainableVariables, writeWeights } from './variables.js';
import { applyGradients, computeGradients, type StepConfig } from './train-step.js';
import type { CompiledStep } from './compiled-step.js';
import { evaluateCounts, toEvalResult, type EvalAttackId, type EvalResult, type EvaluateOptions } from './evaluate.js';
import { BestWeightsGuard, GUARD_ACTIONS, needsOverfitGuard } from './overfit-guard.js';
import { pseudoLabel } from './pseudo-label.js';
import { MODEL_FILES, saveModel } from './save-model.js';
import { checkOutputDir, METRICS_FILE, MODEL_DIR, readCompletedOutputs, writeRunMetrics, type EpochRecord, type RunMetrics } from './metrics.js';
import { createRunRecorder, type RunRecorder } from './run-recorder.js';
import { createTimeSplit, type StepTiming } from './time-split.js';
import { agreeOnResumeCheckpoint, readTrainCheckpoint, restoreResiduals, writeTrainCheckpoint, type ReducerStateHooks } from './resume.js';
import { buildRunFingerprint, configId } from './run-config.js';
import type { TrainSnapshot } from './train-checkpoint.js';
import { ensureWritableDir } from '../checkpoint/writable-dir.js';
import { yieldToEventLoop } from '../util/yield-to-event-loop.js';

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
   * The reducer's internal state (compression error-feedback residuals),
   * saved in this rank's checkpoint file and restored on resume. Absent: the
   * reducer is stateless (or its state restarts from zero after a resume).
   */
  readonly reducerState?: ReducerStateHooks;
  /**
   * Compiles the model's attack and loss gradient for the backend in use
   * (the native backend runs them as TensorFlow graphs). Undefined, or a
   * result of undefined: the step runs eagerly.
   */
  compileStep?(model: tf.LayersModel): CompiledStep | undefined;
}

/** The context of a run in one process: rank 0 of 1, the identity reducer, the chief writing outputs. */
export function singleProcessContext(
  log: Logger,
  backend: string,
  onProgress: (p: TrainProgress) => void,
  compileStep?: (model: tf.LayersModel) => CompiledStep | undefined,
): RunContext {
  return { rank: 0, worldSize: 1, reducer: identityReducer, onProgress, log, isChief: true, backend, ...(compileStep !== undefined ? { compileStep } : {}) };
}

/** What {@link runTraining} returns. */
export interface RunResult {
  readonly metrics: RunMetrics;
  /** Where the chief wrote its outputs (undefined on other ranks). */
  readonly modelDir?: string;
  readonly metricsPath?: string;
}

/** Explicit loop state (what a checkpoint holds besides weights and optimizer state). */
export interface TrainState {
  /** Epoch (0-based) of the next step. */
  epoch: number;
  /** Steps of `epoch` already taken. */
  stepInEpoch: number;
  /** Optimizer steps taken so far (monotonic across resumes). */
  globalStep: number;
  readonly seed: number;
  history: EpochRecord[];
  /** Loss summed over the current epoch's steps so far. */
  epochLossSum: number;
  /** Training seconds of the current epoch so far. */
  epochSeconds: number;
  /** Training seconds of the run so far (evaluation excluded). */
  trainSecondsTotal: number;
  lastEval?: EvalResult;
  /** 0-based epoch of `lastEval`; -1 when none. */
  lastEvalEpoch: number;
  /** Set when the overfitting guard stopped the run. */
  collapse?: RunMetrics['overfitGuard'];
}

/** Purpose tags mixed into the run seed. */
const SEED_TAGS = { attack: 0xa77a_c4, eval: 0xe7a1, guard: 0x6a4d } as const;

/** The evaluation attack matching the training threat model. */
function evalAttackFor(opts: TrainOptions): EvalAttackId {
  return opts.attack === 'pgd-l2' ? 'pgd-l2' : 'pgd';
}

/** The step configuration (attack, loss) built from the options. */
export function buildStepConfig(opts: TrainOptions, dataset: Pick<Dataset, 'numClasses' | 'inputShape'>): StepConfig {
  return {
    attack: opts.attack,
    attackParams: {
      eps: opts.eps,
      steps: opts.attackSteps,
      stepSize: opts.attackStepSize,
      restarts: opts.attackRestarts,
      randomStart: true,
      seed: opts.seed,
    },
    loss: opts.loss,
    lambda: opts.lambda,
    beta: opts.beta,
    numClasses: dataset.numClasses,
    inputShape: dataset.inputShape,
  };
}

/**
 * `base` with the attack radius and step size scaled by `factor` (the eps
 * ramp of `--eps-warmup-epochs`); `base` itself at factor 1.
 */
export function scaleAttack(base: StepConfig, factor: number): StepConfig {
  if (factor === 1) return base;
  return { ...base, attackParams: { ...base.attackParams, eps: base.attackParams.eps * factor, stepSize: base.attackParams.stepSize * factor } };
}

/** Training split after pseudo-labeling (Step 1). */
async function prepareTrainSplit(dataset: Dataset, opts: TrainOptions, ctx: RunContext): Promise<Split> {
  if (opts.unlabeledFraction <= 0) return dataset.train;
  const { labeled, unlabeled } = splitUnlabeled(dataset.train, opts.unlabeledFraction, opts.seed);
  if (unlabeled.n === 0) return labeled;
  let labels = await pseudoLabel({
    labeled,
    unlabeled,
    model: opts.model,
    inputShape: dataset.inputShape,
    numClasses: dataset.numClasses,
    epochs: opts.teacherEpochs,
    batchSize: opts.batchSize,
    seed: opts.seed,
    log: ctx.log,
  });
  if (ctx.broadcastWeights !== undefined && ctx.worldSize > 1) {
    // Teachers train identically from the same seed; rank 0's labels make agreement certain.
    labels = Int32Array.from(await ctx.broadcastWeights(Float32Array.from(labels)));
  }
  return concatSplits(labeled, withPseudoLabels(unlabeled, labels));
}

/** Evaluation options for the held-out set. */
function heldOutEvalOptions(opts: TrainOptions, dataset: Dataset, ctx: RunContext): EvaluateOptions {
  const shard = ctx.sumAcrossRanks !== undefined && ctx.worldSize > 1 ? { rank: ctx.rank, worldSize: ctx.worldSize } : undefined;
  return {
    attack: evalAttackFor(opts),
    eps: opts.eps,
    steps: opts.evalAttackSteps,
    restarts: opts.evalRestarts,
    seed: deriveSeed(opts.seed, SEED_TAGS.eval),
    limit: opts.evalSize,
    inputShape: dataset.inputShape,
    ...(shard !== undefined ? { shard } : {}),
  };
}

async function evaluateHeldOut(model: tf.LayersModel, dataset: Dataset, evalOpts: EvaluateOptions, ctx: RunContext): Promise<EvalResult> {
  const local = await evaluateCounts(model, dataset.test, evalOpts);
  if (evalOpts.shard === undefined || ctx.sumAcrossRanks === undefined) return toEvalResult(local, evalOpts);
  const [n, clean, robust] = await ctx.sumAcrossRanks(Float32Array.of(local.n, local.cleanCorrect, local.robustCorrect));
  return toEvalResult({ n: n!, cleanCorrect: clean!, robustCorrect: robust! }, evalOpts);
}

/** Runs the whole training (see the module comment) and returns its metrics. */
export async function runTraining(opts: TrainOptions, ctx: RunContext): Promise<RunResult> {
  const t0 = performance.now();
  const log = ctx.log;
  const { rank, worldSize } = ctx;
  const report = (p: Omit<TrainProgress, 'rank' | 'worldSize' | 'globalBatch' | 'lastHeartbeat'>): void =>
    ctx.onProgress?.({ ...p, rank, worldSize, globalBatch: worldSize * opts.batchSize, lastHeartbeat: new Date().toISOString() });

  // Step 0
  report({ phase: 'starting', epoch: 0, totalEpochs: opts.epochs, step: 0, totalSteps: 0 });
  if (ctx.isChief) await checkOutputDir(opts.output);
  if (opts.checkpointDir !== undefined) await ensureWritableDir(opts.checkpointDir, 'checkpoint directory (--checkpoint-dir)');

  // Step 1
  const dataset = await loadDataset({ dataset: opts.dataset, dataDir: opts.dataDir, limit: opts.limit, testSize: opts.testSize, seed: opts.seed, log });
  const train = await prepareTrainSplit(dataset, opts, ctx);
  const steps = stepsPerEpoch(train.n, worldSize, opts.batchSize);
  if (steps === 0) {
    throw new ConfigError(`--batch-size ${opts.batchSize}: ${train.n} training examples give no full global batch of ${worldSize} x ${opts.batchSize}; lower --batch-size or raise --limit`);
  }
  const totalSteps = steps * opts.epochs;

  // Step 2
  const model = createModel(opts.model, dataset.inputShape, dataset.numClasses, opts.seed);
  // With a sign compression the ring carries LAMB's first moment (local-momentum.ts): the optimizer must not add its own.
  const ringMomentum = localMomentumBeta(opts, worldSize);
  if (ringMomentum !== undefined) log.info('Each rank keeps and compresses its own first moment; LAMB runs with beta1 = 0', { beta1: ringMomentum, compression: opts.compression });
  else if (worldSize > 1 && SIGN_COMPRESSIONS.has(opts.compression) && !(opts.optimizer === 'sgd' && opts.momentum === 0)) {
    // Measured: momentum SGD + sign-ef collapsed PGD training on MNIST; SGD without momentum matched uncompressed.
    log.warn('Sign compression with an optimizer that keeps its own momentum can amplify the error-feedback residual and diverge; use --optimizer lamb (the ring then carries the moment) or --optimizer sgd --momentum 0', { optimizer: opts.optimizer, compression: opts.compression });
  }
  const compiled = ctx.compileStep?.(model);
  const optimizer: Optimizer = createOptimizer(opts.optimizer, { weightDecay: opts.weightDecay, momentum: opts.momentum, ...(ringMomentum !== undefined ? { beta1: 0 } : {}) });
  const timeSplit = createTimeSplit();
  let recorder: RunRecorder | undefined;
  try {
    // Step 3
    await syncWeightsFromChief(model, ctx);
    const stepCfg = buildStepConfig(opts, dataset);
    const evalOpts: EvaluateOptions = { ...heldOutEvalOptions(opts, dataset, ctx), ...(compiled !== undefined ? { compiled } : {}) };
    const hasBatchNorm = model.nonTrainableWeights.length > 0;
    // The flat gradient's layout (computeGradients fuses trainable variables in this order), for per-tensor compression.
    const gradSegments = trainableVariables(model).map((v) => v.size);
    const guard = needsOverfitGuard(opts.attack)
      ? new BestWeightsGuard({
          batch: gatherBatch(train, batchIndices(train.n, 0, 0, opts.seed, 0, 1, Math.min(opts.batchSize, train.n))),
          eps: opts.eps,
          seed: deriveSeed(opts.seed, SEED_TAGS.guard),
          inputShape: dataset.inputShape,
          attack: evalAttackFor(opts),
        })
      : undefined;
    const state: TrainState = {
      epoch: 0,
      stepInEpoch: 0,
      globalStep: 0,
      seed: opts.seed,
      history: [],
      epochLossSum: 0,
      epochSeconds: 0,
      trainSecondsTotal: 0,
      lastEvalEpoch: -1,
    };
    const batchBuf = { x: new Float32Array(0), y: new Int32Array(0) };
    const schedule = {
      schedule: opts.schedule,
      lr: opts.lr,
      warmupEpochs: opts.warmupEpochs,
      epochs: opts.epochs,
      milestones: opts.milestones,
      gamma: opts.gamma,
    };
    validateScheduleOptions(schedule);
    const fingerprint = buildRunFingerprint(opts, { worldSize, trainExamples: train.n, weightCount: totalSize(modelVariables(model)) });
    const runConfigId = configId(fingerprint);
    const checkpointDir = opts.checkpointDir;
    let resumedComplete = false;
    if (checkpointDir !== undefined) {
      const ref = await agreeOnResumeCheckpoint(checkpointDir, ctx);
      if (ref !== undefined) {
        const restored = await readTrainCheckpoint(ref, ctx, { fingerprint, allowChanges: opts.allowConfigChange ?? [] });
        const snap = restored.snapshot;
        if (restored.changed.length > 0) log.warn('Resumed with changed options', Object.fromEntries(restored.changed.map((d) => [d.name, `${d.saved}→${d.current}`])));
        if (snap.position.epoch > opts.epochs) {
          throw new ConfigError(`invalid value ${opts.epochs} for --epochs: checkpoint ${ref.dir} is already at the end of epoch ${snap.position.epoch}`);
        }
        writeWeights(modelVariables(model), snap.weights);
        // BatchNorm statistics drift per rank within an epoch; each rank > 0 keeps its own.
        if (restored.nonTrainable !== undefined) writeWeights(nonTrainableVariables(model), restored.nonTrainable);
        optimizer.setState(snap.optimizer);
        if (guard !== undefined && snap.guard !== undefined) guard.restore(snap.guard);
        restoreResiduals(ctx, restored.residuals, ref.step);
        Object.assign(state, {
          epoch: snap.position.epoch,
          stepInEpoch: snap.position.stepInEpoch,
          globalStep: snap.position.globalStep,
          history: [...snap.loop.history],
          epochLossSum: snap.loop.epochLossSum,
          epochSeconds: snap.loop.epochSeconds,
          trainSecondsTotal: snap.loop.trainSecondsTotal,
          lastEval: snap.loop.lastEval,
          lastEvalEpoch: snap.loop.lastEvalEpoch,
          collapse: snap.loop.collapse,
        } satisfies Partial<TrainState>);
        const epochNo = Math.min(state.epoch + 1, opts.epochs);
        resumedComplete = state.epoch >= opts.epochs || state.collapse !== undefined;
        if (resumedComplete) {
          log.info('Found the run already complete in its checkpoint', { step: state.globalStep, epochs: state.epoch, dir: ref.dir });
        } else {
          log.info('Resumed from checkpoint', { step: state.globalStep, epoch: epochNo, stepInEpoch: state.stepInEpoch, dir: ref.dir });
          report({
            phase: 'training',
            epoch: epochNo,
            totalEpochs: opts.epochs,
            step: state.globalStep,
            totalSteps,
            ...(state.lastEval !== undefined ? { cleanAccuracy: state.lastEval.cleanAccuracy, robustAccuracy: state.lastEval.robustAccuracy } : {}),
          });
        }
      }
    }
    // TensorBoard files and curves.svg: written by the chief only, like metrics.json; a rerun of a
    // completed run leaves every output alone.
    if (ctx.isChief && !resumedComplete) recorder = createRunRecorder({ opts, stepsPerEpoch: steps, worldSize, log });

    /** Writes this rank's part of a checkpoint of the current state. */
    const checkpoint = async (): Promise<void> => {
      if (checkpointDir === undefined) return;
      const snap: TrainSnapshot | undefined =
        rank === 0
          ? {
              position: { epoch: state.epoch, stepInEpoch: state.stepInEpoch, globalStep: state.globalStep },
              fingerprint,
              weights: await readWeights(modelVariables(model)),
              optimizer: optimizer.getState(),
              ...(guard !== undefined ? { guard: guard.snapshot() } : {}),
              loop: {
                epochLossSum: state.epochLossSum,
                epochSeconds: state.epochSeconds,
                trainSecondsTotal: state.trainSecondsTotal,
                history: state.history,
                ...(state.lastEval !== undefined ? { lastEval: state.lastEval } : {}),
                lastEvalEpoch: state.lastEvalEpoch,
                ...(state.collapse !== undefined ? { collapse: state.collapse } : {}),
              },
            }
          : undefined;
      const nonTrainable = rank !== 0 && hasBatchNorm ? await readWeights(nonTrainableVariables(model)) : undefined;
      await writeTrainCheckpoint(checkpointDir, ctx, state.globalStep, snap, { nonTrainable, configId: runConfigId });
    };

    log.info('Started training', {
      rank,
      worldSize,
      model: opts.model,
      params: countParams(model),
      attack: opts.attack,
      loss: opts.loss,
      optimizer: opts.optimizer,
      train: train.n,
      stepsPerEpoch: steps,
      globalBatch: worldSize * opts.batchSize,
      startStep: state.globalStep,
    });

    while (state.epoch < opts.epochs && state.collapse === undefined) {
      const epoch = state.epoch;
      // DAT re-broadcasts rank 0's parameters each epoch; only BatchNorm statistics can drift between ranks.
      if (epoch > 0 && state.stepInEpoch === 0 && hasBatchNorm) await syncWeightsFromChief(model, ctx);
      // Step 4
      const epochStart = performance.now();
      const secondsBefore = state.epochSeconds;
      const firstStep = state.stepInEpoch;
      let lr = opts.lr;
      for (let s = firstStep; s < steps; s++) {
        // Signals, /progress and /metrics are served between steps.
        await yieldToEventLoop();
        const idx = batchIndices(train.n, epoch, s, state.seed, rank, worldSize, opts.batchSize);
        if (batchBuf.y.length < idx.length) {
          batchBuf.x = new Float32Array(idx.length * (train.x.length / train.n));
          batchBuf.y = new Int32Array(idx.length);
        }
        const stepStart = performance.now();
        const batch = gatherBatch(train, idx, batchBuf);
        lr = learningRateAt(schedule, epoch + s / steps, steps);
        const cfg = scaleAttack(stepCfg, epsWarmupFactor(opts.epsWarmupEpochs ?? 0, epoch + s / steps, steps));
        const { flatGrad, loss, attackSeconds, gradientSeconds } = await computeGradients(model, batch, cfg, deriveSeed(state.seed, SEED_TAGS.attack, state.globalStep, rank) || 1, compiled);
        if (!Number.isFinite(loss)) throw new ConfigError(`training diverged: loss ${loss} at epoch ${epoch + 1} step ${s + 1}; lower --lr (now ${opts.lr})`);
        const reduceStart = performance.now();
        const mean = await ctx.reducer(flatGrad, state.globalStep, gradSegments);
        const updateStart = performance.now();
        applyGradients(model, optimizer, mean, lr, compiled);
        const stepTiming: StepTiming = { attackSeconds, gradientSeconds, allreduceSeconds: (updateStart - reduceStart) / 1000, updateSeconds: (performance.now() - updateStart) / 1000 };
        timeSplit.addStep(stepTiming);
        state.globalStep++;
        state.stepInEpoch = s + 1;
        state.epochLossSum += loss;
        const now = performance.now();
        state.epochSeconds = secondsBefore + (now - epochStart) / 1000;
        const imagesPerSecond = ((s + 1 - firstStep) * worldSize * opts.batchSize) / Math.max((now - epochStart) / 1000, 1e-9);
        recorder?.recordStep({
          step: state.globalStep,
          loss,
          lr,
          eps: opts.attack === 'none' ? 0 : cfg.attackParams.eps,
          imagesPerSecond,
          timing: stepTiming,
          bytesSent: ctx.bytesSentLastStep?.() ?? 0,
        });
        report({
          phase: 'training',
          epoch: epoch + 1,
          totalEpochs: opts.epochs,
          step: state.globalStep,
          totalSteps,
          loss,
          stepSeconds: (now - stepStart) / 1000,
          stepTiming,
          imagesPerSecond,
          ...(state.lastEval !== undefined ? { cleanAccuracy: state.lastEval.cleanAccuracy, robustAccuracy: state.lastEval.robustAccuracy } : {}),
        });
        // The epoch's last step is checkpointed at the epoch end, after the probe and evaluation.
        if (state.globalStep % opts.checkpointEvery === 0 && s + 1 < steps) await checkpoint();
      }
      const seconds = state.epochSeconds;
      state.trainSecondsTotal += seconds;
      const imagesPerSecond = (steps * worldSize * opts.batchSize) / Math.max(seconds, 1e-9);

      // Step 5
      let guardAccuracy: number | undefined;
      if (guard !== undefined) {
        const probeStart = performance.now();
        const check = await guard.check(model, epoch + 1);
        timeSplit.addEvaluation((performance.now() - probeStart) / 1000);
        guardAccuracy = check.accuracy;
        if (check.action === GUARD_ACTIONS.collapsed) {
          // Step 6 (the guard has already restored the best weights)
          log.warn('Detected catastrophic overfitting: restored the best weights and stopped', {
            epoch: epoch + 1,
            probeAccuracy: Number(check.accuracy.toFixed(4)),
            bestAccuracy: Number(check.bestAccuracy.toFixed(4)),
            bestEpoch: check.bestEpoch,
          });
          state.collapse = { collapsedAtEpoch: epoch + 1, bestEpoch: check.bestEpoch, bestAccuracy: check.bestAccuracy };
        }
      }
      const stop = state.collapse !== undefined;
      const isLast = epoch === opts.epochs - 1 || stop;
      let evalResult: EvalResult | undefined;
      if (!stop && ((epoch + 1) % opts.evalEvery === 0 || isLast)) {
        report({ phase: 'evaluating', epoch: epoch + 1, totalEpochs: opts.epochs, step: state.globalStep, totalSteps, imagesPerSecond });
        const evalStart = performance.now();
        evalResult = await evaluateHeldOut(model, dataset, evalOpts, ctx);
        timeSplit.addEvaluation((performance.now() - evalStart) / 1000);
        recorder?.recordEvaluation(state.globalStep, evalResult);
        state.lastEval = evalResult;
        state.lastEvalEpoch = epoch;
      }
      const record: EpochRecord = {
        epoch: epoch + 1,
        loss: state.epochLossSum / steps,
        ...(evalResult !== undefined ? { cleanAccuracy: evalResult.cleanAccuracy, robustAccuracy: evalResult.robustAccuracy } : {}),
        ...(guardAccuracy !== undefined ? { guardAccuracy } : {}),
        imagesPerSecond,
        seconds,
        lr,
      };
      state.history.push(record);
      log.info('Finished epoch', {
        rank,
        epoch: epoch + 1,
        loss: Number(record.loss.toFixed(4)),
        clean: evalResult === undefined ? undefined : Number(evalResult.cleanAccuracy.toFixed(4)),
        robust: evalResult === undefined ? undefined : Number(evalResult.robustAccuracy.toFixed(4)),
        guard: guardAccuracy === undefined ? undefined : Number(guardAccuracy.toFixed(4)),
        imagesPerSecond: Math.round(imagesPerSecond),
        seconds: Number(seconds.toFixed(1)),
      });
      state.epoch = epoch + 1;
      state.stepInEpoch = 0;
      state.epochLossSum = 0;
      state.epochSeconds = 0;
      await checkpoint();
    }

    // The restored (best) weights were never evaluated: do it now.
    let lastEval = state.lastEval;
    if (lastEval === undefined || state.lastEvalEpoch !== state.epoch - 1 || state.collapse !== undefined) {
      report({ phase: 'evaluating', epoch: state.epoch, totalEpochs: opts.epochs, step: state.globalStep, totalSteps });
      const evalStart = performance.now();
      lastEval = await evaluateHeldOut(model, dataset, evalOpts, ctx);
      timeSplit.addEvaluation((performance.now() - evalStart) / 1000);
    }

    // Step 7
    const computed: RunMetrics = {
      cleanAccuracy: lastEval.cleanAccuracy,
      robustAccuracy: lastEval.robustAccuracy,
      robustAttack: lastEval.attack,
      evalExamples: lastEval.n,
      history: state.history,
      config: opts,
      backend: ctx.backend ?? tf.getBackend(),
      params: countParams(model),
      trainExamples: train.n,
      wallSeconds: (performance.now() - t0) / 1000,
      imagesPerSecond: (state.globalStep * worldSize * opts.batchSize) / Math.max(state.trainSecondsTotal, 1e-9),
      epochsCompleted: state.epoch,
      workers: worldSize,
      compression: opts.compression,
      ...(state.collapse !== undefined ? { overfitGuard: state.collapse } : {}),
      timeSplit: timeSplit.snapshot(),
      ...(ctx.extraMetrics?.() ?? {}),
    };
    const outputs = ctx.isChief ? await writeOutputs(opts.output, model, computed, resumedComplete, log, recorder) : undefined;
    const metrics = outputs?.metrics ?? computed;
    report({
      phase: 'done',
      epoch: state.epoch,
      totalEpochs: opts.epochs,
      step: state.globalStep,
      totalSteps,
      cleanAccuracy: metrics.cleanAccuracy,
      robustAccuracy: metrics.robustAccuracy,
      imagesPerSecond: metrics.imagesPerSecond,
    });
    return { metrics, ...(outputs !== undefined ? { modelDir: outputs.modelDir, metricsPath: outputs.metricsPath } : {}) };
  } finally {
    recorder?.close();
    compiled?.dispose();
    optimizer.dispose();
    model.dispose();
  }
}

/**
 * Step 7 on the chief: saves the model and metrics.json. A rerun of a run
 * its checkpoint shows complete (`complete`) keeps outputs that already
 * record it: rewriting them would change wallSeconds and the like.
 */
async function writeOutputs(output: string, model: tf.LayersModel, metrics: RunMetrics, complete: boolean, log: Logger, recorder: RunRecorder | undefined): Promise<Required<RunResult>> {
  const modelDir = join(output, MODEL_DIR);
  const kept = complete ? await readCompletedOutputs(output, metrics.history, MODEL_FILES.json) : undefined;
  if (kept !== undefined) {
    const metricsPath = join(output, METRICS_FILE);
    log.info('Left the outputs of the completed run unchanged', { modelDir, metrics: metricsPath });
    return { metrics: kept, modelDir, metricsPath };
  }
  await saveModel(model, modelDir);
  const metricsPath = await writeRunMetrics(output, metrics);
  const curves = await recorder?.finish(metrics);
  log.info('Saved model and metrics', { modelDir, metrics: metricsPath, curves });
  return { metrics, modelDir, metricsPath };
}

/** Overwrites this rank's weights (trainable and BatchNorm statistics) with rank 0's. */
async function syncWeightsFromChief(model: tf.LayersModel, ctx: RunContext): Promise<void> {
  if (ctx.broadcastWeights === undefined || ctx.worldSize <= 1) return;
  const vars = modelVariables(model);
  const flat = await ctx.broadcastWeights(await readWeights(vars));
  if (ctx.rank !== 0) writeWeights(vars, flat);
}
