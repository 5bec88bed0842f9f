/**
 * The setup phase of a run:
 *
 * 0. Check that the outputs (chief) and the checkpoint directory can be
 *    written: a bad path fails now, permanently, not after all training.
 * 1. Load the dataset and the unlabelled pool (the teacher labels it after
 *    the resume phase, unless the checkpoint holds its labels).
 * 2. Build the model (same seed on every rank) and the optimizer.
 * 3. Broadcast rank 0's initial weights; build the step, evaluation, guard
 *    and loop state, and register the checkpoint parts.
 */
import { performance } from 'node:perf_hooks';
import { ensureWritableDir } from '../../checkpoint/writable-dir.js';
import { FREEZE_WARMUP_STEPS, SIGN_COMPRESSIONS, localMomentumBeta } from '../../comm/compression/local-momentum.js';
import { DEPRECATED_MODELS, type TrainOptions } from '../../../common/contract.js';
import { loadDataset } from '../../data/load-dataset.js';
import { batchIndices, stepsPerEpoch } from '../../data/shard.js';
import { gatherBatch } from '../../data/split-ops.js';
import type { Dataset } from '../../data/types.js';
import { ConfigError } from '../../../common/errors.js';
import { deriveSeed } from '../../util/rng.js';
import { eagerStepEngine, type StepEngine } from '../step-engine.js';
import type { EvaluateOptions } from '../evaluate.js';
import { checkOutputDir } from '../metrics.js';
import { createModel } from '../models/index.js';
import { createOptimizer, type Optimizer } from '../optimizers/index.js';
import { BestWeightsGuard, needsOverfitGuard } from '../overfit-guard.js';
import type { RunContext } from '../run-context.js';
import { buildRunFingerprint, configId } from '../run-config.js';
import { validateScheduleOptions, type ScheduleOptions } from '../schedules.js';
import { createLoopState } from '../state/loop-state.js';
import { registerRunParts } from '../state/register-parts.js';
import { createTimeSplit } from '../time-split.js';
import type { StepConfig } from '../train-step.js';
import { prepareUnlabeled } from '../unlabeled/unlabeled-run.js';
import { modelVariables, totalSize, trainableVariables } from '../variables.js';
import { evalAttackFor, SEED_TAGS, syncWeightsFromChief, type RunReport, type TrainRun } from './train-run.js';

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

/** Runs Steps 0-3 (see the module comment); the caller disposes the run. */
export async function setupRun(opts: TrainOptions, ctx: RunContext): Promise<TrainRun> {
  const startedAt = performance.now();
  const report = (p: RunReport): void =>
    ctx.onProgress?.({ ...p, rank: ctx.rank, worldSize: ctx.worldSize, globalBatch: ctx.worldSize * opts.batchSize, lastHeartbeat: new Date().toISOString() });
  // Step 0
  report({ phase: 'starting', epoch: 0, totalEpochs: opts.epochs, step: 0, totalSteps: 0 });
  if (ctx.isChief) await checkOutputDir(opts.output);
  if (opts.checkpointDir !== undefined) await ensureWritableDir(opts.checkpointDir, 'checkpoint directory (--checkpoint-dir)');
  // Step 1
  const dataset = await loadDataset({ dataset: opts.dataset, dataDir: opts.dataDir, limit: opts.limit, testSize: opts.testSize, seed: opts.seed, log: ctx.log });
  const { labeled: train, unlabeled } = await prepareUnlabeled(dataset, opts, ctx);
  // With a pool, an epoch is one pass over the labelled data at its share of each batch.
  const labeledBatch = unlabeled?.shares.labeled ?? opts.batchSize;
  const steps = stepsPerEpoch(train.n, ctx.worldSize, labeledBatch);
  if (steps === 0) {
    const share = unlabeled !== undefined ? ` (${labeledBatch} labelled per batch with --unlabeled-ratio ${opts.unlabeledRatio})` : '';
    throw new ConfigError(`--batch-size ${opts.batchSize}: ${train.n} training examples give no full global batch of ${ctx.worldSize} x ${labeledBatch}${share}; lower --batch-size or raise --limit`);
  }
  warnAboutCompressionWarmup(opts, ctx, steps * opts.epochs);
  // Step 2
  const optimizer = createRunOptimizer(opts, ctx);
  const renamedTo = DEPRECATED_MODELS[opts.model];
  if (renamedTo !== undefined) ctx.log.warn(`Model ${opts.model} is deprecated; use ${renamedTo}, the same network`, { model: opts.model, use: renamedTo });
  const model = createModel(opts.model, dataset.inputShape, dataset.numClasses, opts.seed);
  let engine: StepEngine = eagerStepEngine;
  try {
    // Graph or eager, decided once for the whole run.
    engine = ctx.chooseStepEngine?.(model) ?? eagerStepEngine;
    // Step 3
    return await assembleRun({ opts, ctx, startedAt, dataset, train, unlabeled, steps, model, optimizer, engine, report });
  } catch (err) {
    engine.dispose();
    optimizer.dispose();
    model.dispose();
    throw err;
  }
}

/**
 * What a compressed run's warm-up will do wrong, said before it starts: every step inside the
 * warm-up (full gradients throughout), or LAMB's second moment frozen after fewer steps than
 * were measured to work (FREEZE_WARMUP_STEPS).
 */
function warnAboutCompressionWarmup(opts: TrainOptions, ctx: RunContext, totalSteps: number): void {
  if (ctx.worldSize === 1 || opts.compression === 'none') return;
  const fields = { compression: opts.compression, totalSteps, compressionWarmupSteps: opts.compressionWarmupSteps };
  if (totalSteps <= opts.compressionWarmupSteps) {
    ctx.log.warn('Every step of this run is in the uncompressed warm-up, so it never compresses; lower --compression-warmup-steps to compress', fields);
  } else if (localMomentumBeta(opts, ctx.worldSize) !== undefined && opts.compressionWarmupSteps < FREEZE_WARMUP_STEPS) {
    ctx.log.warn(
      `LAMB's second moment freezes after only ${opts.compressionWarmupSteps} uncompressed steps; measured on MNIST, freezing after 50 lost 24 points of PGD-20 accuracy against ${FREEZE_WARMUP_STEPS} (docs/compression.md); raise --compression-warmup-steps if the run allows`,
      fields,
    );
  }
}

/**
 * The optimizer. When the ring carries LAMB's first moment (local-momentum.ts) it runs with
 * β1 = 0 and, as 1-bit LAMB does, keeps its second moment fixed once compression starts (lamb.ts).
 */
function createRunOptimizer(opts: TrainOptions, ctx: RunContext): Optimizer {
  const ringMomentum = localMomentumBeta(opts, ctx.worldSize);
  if (ringMomentum !== undefined) {
    ctx.log.info('Each rank keeps and compresses its own first moment; LAMB runs with beta1 = 0 and freezes its second moment after the uncompressed warm-up', {
      beta1: ringMomentum,
      compression: opts.compression,
      compressionWarmupSteps: opts.compressionWarmupSteps,
    });
  } else if (ctx.worldSize > 1 && SIGN_COMPRESSIONS.has(opts.compression) && !(opts.optimizer === 'sgd' && opts.momentum === 0)) {
    // Measured: momentum SGD + sign-ef collapsed PGD training on MNIST; SGD without momentum matched uncompressed.
    ctx.log.warn('Sign compression with an optimizer that keeps its own momentum can amplify the error-feedback residual and diverge; use --optimizer lamb (the ring then carries the moment) or --optimizer sgd --momentum 0', { optimizer: opts.optimizer, compression: opts.compression });
  }
  const ring = ringMomentum === undefined ? {} : { beta1: 0, freezeSecondMomentAfter: opts.compressionWarmupSteps };
  return createOptimizer(opts.optimizer, { weightDecay: opts.weightDecay, momentum: opts.momentum, ...ring });
}

/** What setup has built when the run is assembled around it. */
type Built = Pick<TrainRun, 'opts' | 'ctx' | 'startedAt' | 'dataset' | 'train' | 'unlabeled' | 'steps' | 'model' | 'optimizer' | 'engine' | 'report'>;

/** Step 3. */
async function assembleRun(b: Built): Promise<TrainRun> {
  const { opts, ctx, dataset, train, model } = b;
  await syncWeightsFromChief(model, ctx);
  const evalOpts: EvaluateOptions = { ...heldOutEvalOptions(opts, dataset, ctx), engine: b.engine };
  const guard = needsOverfitGuard(opts.attack)
    ? new BestWeightsGuard({
        batch: gatherBatch(train, batchIndices(train.n, 0, 0, opts.seed, 0, 1, Math.min(opts.batchSize, train.n))),
        eps: opts.eps,
        seed: deriveSeed(opts.seed, SEED_TAGS.guard),
        inputShape: dataset.inputShape,
        attack: evalAttackFor(opts),
      })
    : undefined;
  const loop = createLoopState();
  const schedule: ScheduleOptions = { schedule: opts.schedule, lr: opts.lr, warmupEpochs: opts.warmupEpochs, epochs: opts.epochs, milestones: opts.milestones, gamma: opts.gamma };
  validateScheduleOptions(schedule);
  const fingerprint = buildRunFingerprint(opts, { worldSize: ctx.worldSize, trainExamples: train.n, weightCount: totalSize(modelVariables(model)) });
  return {
    ...b,
    totalSteps: b.steps * opts.epochs,
    guard,
    loop,
    parts: registerRunParts({
      rank: ctx.rank,
      model,
      optimizer: b.optimizer,
      ...(guard !== undefined ? { guard } : {}),
      loop,
      ...(b.unlabeled !== undefined ? { teacher: b.unlabeled.teacher } : {}),
      ...(ctx.parts !== undefined ? { extraParts: ctx.parts } : {}),
    }),
    fingerprint,
    configId: configId(fingerprint),
    stepConfig: buildStepConfig(opts, dataset),
    evalOpts,
    schedule,
    gradSegments: trainableVariables(model).map((v) => v.size),
    hasBatchNorm: model.nonTrainableWeights.length > 0,
    timeSplit: createTimeSplit(),
    recorder: undefined,
  };
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
