/**
 * The epoch phase: the optimizer steps of one epoch, from where the loop
 * state stands. Per step: this rank's shard batch → computeGradients (attack
 * radius ramped by `--eps-warmup-epochs`) → reducer (ring mean) →
 * applyGradients at the scheduled learning rate; a checkpoint every
 * `checkpointEvery` optimizer steps (the epoch's last step is checkpointed at
 * the epoch end, after the probe and evaluation); after each other step, the
 * stop check (stop.ts).
 */
import { performance } from 'node:perf_hooks';
import { batchIndices } from '../../data/shard.js';
import { gatherBatch, type Batch } from '../../data/split-ops.js';
import type { Split } from '../../data/types.js';
import { ConfigError } from '../../../common/errors.js';
import { deriveSeed } from '../../util/rng.js';
import { yieldToEventLoop } from '../../util/yield-to-event-loop.js';
import { drawCropFlip } from '../augment.js';
import { epsWarmupFactor, learningRateAt } from '../schedules.js';
import type { StepTiming } from '../time-split.js';
import { applyGradients, computeGradients, type StepConfig } from '../train-step.js';
import { gatherMixedBatch } from '../unlabeled/unlabeled-run.js';
import { stopIfAsked } from './stop.js';
import { saveCheckpoint, SEED_TAGS, syncWeightsFromChief, type TrainRun } from './train-run.js';

/**
 * `base` with the attack radius and step size scaled by `factor` (the eps
 * ramp of `--eps-warmup-epochs`); `base` itself at factor 1.
 */
export function scaleAttack(base: StepConfig, factor: number): StepConfig {
  if (factor === 1) return base;
  return { ...base, attackParams: { ...base.attackParams, eps: base.attackParams.eps * factor, stepSize: base.attackParams.stepSize * factor } };
}

/** What the epoch end needs from the steps. */
export interface EpochSteps {
  /** The learning rate of the epoch's last step. */
  readonly lr: number;
}

/** A reusable batch buffer (grown when a batch is larger). */
interface BatchBuffer {
  x: Float32Array;
  y: Int32Array;
}

/** Takes the remaining steps of the loop's current epoch. */
export async function runEpoch(run: TrainRun): Promise<EpochSteps> {
  const { loop } = run;
  // DAT re-broadcasts rank 0's parameters each epoch; only BatchNorm statistics can drift between ranks.
  if (loop.epoch > 0 && loop.stepInEpoch === 0 && run.hasBatchNorm) await syncWeightsFromChief(run.model, run.ctx);
  const clock = { start: performance.now(), secondsBefore: loop.epochSeconds, firstStep: loop.stepInEpoch };
  const buf: BatchBuffer = { x: new Float32Array(0), y: new Int32Array(0) };
  let lr = run.opts.lr;
  for (let s = clock.firstStep; s < run.steps; s++) {
    // Signals, /progress and /metrics are served between steps.
    await yieldToEventLoop();
    lr = await takeStep(run, s, buf, clock);
    if (s + 1 === run.steps) break;
    const saved = loop.globalStep % run.opts.checkpointEvery === 0;
    if (saved) await saveCheckpoint(run);
    await stopIfAsked(run, { saved });
  }
  return { lr };
}

/** One optimizer step (step `s` of the current epoch); returns its learning rate. */
async function takeStep(run: TrainRun, s: number, buf: BatchBuffer, clock: { readonly start: number; readonly secondsBefore: number; readonly firstStep: number }): Promise<number> {
  const { opts, ctx, loop, steps } = run;
  const epoch = loop.epoch;
  const stepStart = performance.now();
  const labeledBatch = run.unlabeled?.shares.labeled ?? opts.batchSize;
  const labeledIdx = batchIndices(run.train.n, epoch, s, opts.seed, ctx.rank, ctx.worldSize, labeledBatch);
  const gathered = run.unlabeled !== undefined ? gatherMixedBatch(run.unlabeled, labeledIdx, loop.globalStep, ctx.rank, run.train, buf) : nextBatch(run.train, labeledIdx, buf);
  // Seeded by (seed, epoch, step, rank), never by a generator's state: a resumed step draws what the uninterrupted one drew.
  const batch = opts.augment === 'crop-flip' ? { ...gathered, augment: drawCropFlip(gathered.n, deriveSeed(opts.seed, SEED_TAGS.augment, epoch, s, ctx.rank) || 1) } : gathered;
  const lr = learningRateAt(run.schedule, epoch + s / steps, steps);
  const cfg = scaleAttack(run.stepConfig, epsWarmupFactor(opts.epsWarmupEpochs ?? 0, epoch + s / steps, steps));
  const { flatGrad, loss, attackSeconds, gradientSeconds } = await computeGradients(run.model, batch, cfg, deriveSeed(opts.seed, SEED_TAGS.attack, loop.globalStep, ctx.rank) || 1, run.engine);
  if (!Number.isFinite(loss)) throw new ConfigError(`training diverged: loss ${loss} at epoch ${epoch + 1} step ${s + 1}; lower --lr (now ${opts.lr})`);
  const reduceStart = performance.now();
  const mean = await ctx.reducer(flatGrad, loop.globalStep, run.gradSegments);
  const updateStart = performance.now();
  applyGradients(run.model, run.optimizer, mean, lr, run.engine);
  const stepTiming: StepTiming = { attackSeconds, gradientSeconds, allreduceSeconds: (updateStart - reduceStart) / 1000, updateSeconds: (performance.now() - updateStart) / 1000 };
  run.timeSplit.addStep(stepTiming);
  loop.globalStep++;
  loop.stepInEpoch = s + 1;
  loop.epochLossSum += loss;
  const now = performance.now();
  loop.epochSeconds = clock.secondsBefore + (now - clock.start) / 1000;
  const imagesPerSecond = ((s + 1 - clock.firstStep) * ctx.worldSize * opts.batchSize) / Math.max((now - clock.start) / 1000, 1e-9);
  run.recorder?.recordStep({ step: loop.globalStep, loss, lr, eps: opts.attack === 'none' ? 0 : cfg.attackParams.eps, imagesPerSecond, timing: stepTiming, bytesSent: ctx.bytesSentLastStep?.() ?? 0 });
  run.report({
    phase: 'training',
    epoch: epoch + 1,
    totalEpochs: opts.epochs,
    step: loop.globalStep,
    totalSteps: run.totalSteps,
    loss,
    stepSeconds: (now - stepStart) / 1000,
    stepTiming,
    imagesPerSecond,
    ...(loop.lastEval !== undefined ? { cleanAccuracy: loop.lastEval.cleanAccuracy, robustAccuracy: loop.lastEval.robustAccuracy } : {}),
  });
  return lr;
}

/** The batch of `idx`, gathered into `buf` (grown when too small). */
function nextBatch(train: Split, idx: Int32Array, buf: BatchBuffer): Batch {
  if (buf.y.length < idx.length) {
    buf.x = new Float32Array(idx.length * (train.x.length / train.n));
    buf.y = new Int32Array(idx.length);
  }
  return gatherBatch(train, idx, buf);
}
