/**
 * The finish phase:
 *
 * 1. Evaluate the final weights unless the last epoch end already did (after
 *    a collapse the restored best weights were never evaluated).
 * 2. With `--final-eval`, attack the final model with `dat eval`'s ensemble
 *    (final-eval.ts; every rank takes its share).
 * 3. Compute the run's metrics.
 * 4. On the chief: save the model and metrics.json; a rerun of a run its
 *    checkpoint shows complete leaves the matching outputs alone. The last
 *    progress report carries the final evaluation, so it reaches the
 *    termination message and the DATJob's status.
 */
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import * as tf from '@tensorflow/tfjs';
import type { Logger } from '../../../common/log.js';
import type { EvalResult } from '../evaluate.js';
import { METRICS_FILE, MODEL_DIR, readCompletedOutputs, writeRunMetrics, type RunMetrics } from '../metrics.js';
import { countParams } from '../models/index.js';
import type { RunResult } from '../run-context.js';
import type { RunRecorder } from '../run-recorder.js';
import { MODEL_FILES, saveModel } from '../save-model.js';
import { runFinalEvaluation } from './final-eval.js';
import { evaluateHeldOut, type TrainRun } from './train-run.js';

/** Runs Steps 1-4; `resumedComplete`: the checkpoint showed the run complete before any step. */
export async function finishRun(run: TrainRun, resumedComplete: boolean): Promise<RunResult> {
  const { loop, opts, ctx } = run;
  // Step 1
  const lastEval = await finalEvaluation(run);
  // Step 2
  const finalEval = await runFinalEvaluation(run);
  // Step 3
  const computed: RunMetrics = {
    cleanAccuracy: lastEval.cleanAccuracy,
    robustAccuracy: lastEval.robustAccuracy,
    robustAttack: lastEval.attack,
    evalExamples: lastEval.n,
    history: loop.history,
    config: opts,
    backend: ctx.backend ?? tf.getBackend(),
    params: countParams(run.model),
    trainExamples: run.train.n,
    wallSeconds: (performance.now() - run.startedAt) / 1000,
    imagesPerSecond: (loop.globalStep * ctx.worldSize * opts.batchSize) / Math.max(loop.trainSecondsTotal, 1e-9),
    epochsCompleted: loop.epoch,
    workers: ctx.worldSize,
    compression: opts.compression,
    ...(loop.collapse !== undefined ? { overfitGuard: loop.collapse } : {}),
    timeSplit: run.timeSplit.snapshot(),
    ...(finalEval !== undefined ? { finalEvaluation: finalEval } : {}),
    ...(ctx.extraMetrics?.() ?? {}),
  };
  // Step 4
  const outputs = ctx.isChief ? await writeOutputs(opts.output, run.model, computed, resumedComplete, ctx.log, run.recorder) : undefined;
  const metrics = outputs?.metrics ?? computed;
  run.report({
    phase: 'done',
    epoch: loop.epoch,
    totalEpochs: opts.epochs,
    step: loop.globalStep,
    totalSteps: run.totalSteps,
    cleanAccuracy: metrics.cleanAccuracy,
    robustAccuracy: metrics.robustAccuracy,
    imagesPerSecond: metrics.imagesPerSecond,
    ...(metrics.finalEvaluation !== undefined ? { finalEvaluation: metrics.finalEvaluation } : {}),
  });
  return { metrics, ...(outputs !== undefined ? { modelDir: outputs.modelDir, metricsPath: outputs.metricsPath } : {}) };
}

/** Step 1. */
async function finalEvaluation(run: TrainRun): Promise<EvalResult> {
  const { loop, opts } = run;
  const last = loop.lastEval;
  if (last !== undefined && loop.lastEvalEpoch === loop.epoch - 1 && loop.collapse === undefined) return last;
  run.report({ phase: 'evaluating', epoch: loop.epoch, totalEpochs: opts.epochs, step: loop.globalStep, totalSteps: run.totalSteps });
  const evalStart = performance.now();
  const result = await evaluateHeldOut(run);
  run.timeSplit.addEvaluation((performance.now() - evalStart) / 1000);
  return result;
}

/**
 * Step 4 on the chief: saves the model and metrics.json. A rerun of a run
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
