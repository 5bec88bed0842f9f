/**
 * The epoch-end phase, after the epoch's last step:
 *
 * 1. The catastrophic-overfitting probe (FGSM-type training); on a collapse
 *    the guard has restored the best weights, and the run stops.
 * 2. Held-out evaluation every `evalEvery` epochs and at the last one.
 * 3. The epoch's record in the history; the loop moves to the next epoch.
 * 4. A checkpoint.
 */
import { performance } from 'node:perf_hooks';
import type { EvalResult } from '../evaluate.js';
import type { EpochRecord } from '../metrics.js';
import { GUARD_ACTIONS } from '../overfit-guard.js';
import { evaluateHeldOut, saveCheckpoint, type TrainRun } from './train-run.js';

/** Runs Steps 1-4 for the loop's current epoch; `lr` is the rate of its last step. */
export async function endEpoch(run: TrainRun, lr: number): Promise<void> {
  const { loop, opts, ctx } = run;
  const epoch = loop.epoch;
  const seconds = loop.epochSeconds;
  loop.trainSecondsTotal += seconds;
  const imagesPerSecond = (run.steps * ctx.worldSize * opts.batchSize) / Math.max(seconds, 1e-9);
  // Step 1
  const guardAccuracy = await probeOverfitting(run);
  // Step 2
  const evalResult = await evaluateIfDue(run, imagesPerSecond);
  // Step 3
  const record: EpochRecord = {
    epoch: epoch + 1,
    loss: loop.epochLossSum / run.steps,
    ...(evalResult !== undefined ? { cleanAccuracy: evalResult.cleanAccuracy, robustAccuracy: evalResult.robustAccuracy } : {}),
    ...(guardAccuracy !== undefined ? { guardAccuracy } : {}),
    imagesPerSecond,
    seconds,
    lr,
  };
  loop.history.push(record);
  ctx.log.info('Finished epoch', {
    rank: ctx.rank,
    epoch: epoch + 1,
    loss: Number(record.loss.toFixed(4)),
    clean: evalResult === undefined ? undefined : Number(evalResult.cleanAccuracy.toFixed(4)),
    robust: evalResult === undefined ? undefined : Number(evalResult.robustAccuracy.toFixed(4)),
    guard: guardAccuracy === undefined ? undefined : Number(guardAccuracy.toFixed(4)),
    imagesPerSecond: Math.round(imagesPerSecond),
    seconds: Number(seconds.toFixed(1)),
  });
  Object.assign(loop, { epoch: epoch + 1, stepInEpoch: 0, epochLossSum: 0, epochSeconds: 0 });
  // Step 4
  await saveCheckpoint(run);
}

/** Step 1: the probe's accuracy (undefined without a guard); records a collapse in the loop state. */
async function probeOverfitting(run: TrainRun): Promise<number | undefined> {
  const { guard, loop } = run;
  if (guard === undefined) return undefined;
  const epoch = loop.epoch;
  const probeStart = performance.now();
  const check = await guard.check(run.model, epoch + 1);
  run.timeSplit.addEvaluation((performance.now() - probeStart) / 1000);
  if (check.action === GUARD_ACTIONS.collapsed) {
    run.ctx.log.warn('Detected catastrophic overfitting: restored the best weights and stopped', {
      epoch: epoch + 1,
      probeAccuracy: Number(check.accuracy.toFixed(4)),
      bestAccuracy: Number(check.bestAccuracy.toFixed(4)),
      bestEpoch: check.bestEpoch,
    });
    loop.collapse = { collapsedAtEpoch: epoch + 1, bestEpoch: check.bestEpoch, bestAccuracy: check.bestAccuracy };
  }
  return check.accuracy;
}

/** Step 2: evaluates when due (not after a collapse: finish evaluates the restored weights). */
async function evaluateIfDue(run: TrainRun, imagesPerSecond: number): Promise<EvalResult | undefined> {
  const { loop, opts } = run;
  const epoch = loop.epoch;
  const stop = loop.collapse !== undefined;
  const isLast = epoch === opts.epochs - 1 || stop;
  if (stop || ((epoch + 1) % opts.evalEvery !== 0 && !isLast)) return undefined;
  run.report({ phase: 'evaluating', epoch: epoch + 1, totalEpochs: opts.epochs, step: loop.globalStep, totalSteps: run.totalSteps, imagesPerSecond });
  const evalStart = performance.now();
  const result = await evaluateHeldOut(run);
  run.timeSplit.addEvaluation((performance.now() - evalStart) / 1000);
  run.recorder?.recordEvaluation(loop.globalStep, result);
  loop.lastEval = result;
  loop.lastEvalEpoch = epoch;
  return result;
}
