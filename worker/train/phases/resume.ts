/**
 * The resume phase: with `--checkpoint-dir`, every rank resumes from the
 * newest complete checkpoint the ranks agree on (../resume.ts), refusing one
 * written with another configuration (../run-config.ts), and loads every
 * registered part from it. Then the robust self-training teacher labels the
 * unlabelled pool, unless the checkpoint held its labels, and the chief
 * starts recording, unless the checkpoint shows the run complete.
 */
import { countParams } from '../models/index.js';
import { agreeOnResumeCheckpoint, readTrainCheckpoint, restoreParts } from '../resume.js';
import { createRunRecorder } from '../run-recorder.js';
import { ConfigError } from '../../../common/errors.js';
import { ensureTeacher } from '../unlabeled/unlabeled-run.js';
import type { TrainRun } from './train-run.js';

/** Resumes `run` when a checkpoint allows; returns whether the checkpoint shows the run already complete. */
export async function resumeRun(run: TrainRun): Promise<boolean> {
  const complete = await restoreFromCheckpoint(run);
  // After the restore: a checkpoint that holds the teacher's labels spares training it again.
  if (!complete) await ensureTeacher(run);
  // TensorBoard files and curves.svg: written by the chief only, like metrics.json; a rerun of a
  // completed run leaves every output alone.
  if (run.ctx.isChief && !complete) run.recorder = createRunRecorder({ opts: run.opts, stepsPerEpoch: run.steps, worldSize: run.ctx.worldSize, log: run.ctx.log });
  logStart(run);
  return complete;
}

async function restoreFromCheckpoint(run: TrainRun): Promise<boolean> {
  const { opts, ctx, loop } = run;
  const dir = opts.checkpointDir;
  if (dir === undefined) return false;
  const ref = await agreeOnResumeCheckpoint(dir, ctx, run.parts);
  if (ref === undefined) return false;
  const restored = await readTrainCheckpoint(ref, ctx, run.parts, { fingerprint: run.fingerprint, allowChanges: opts.allowConfigChange ?? [] });
  if (restored.changed.length > 0) ctx.log.warn('Resumed with changed options', Object.fromEntries(restored.changed.map((d) => [d.name, `${d.saved}→${d.current}`])));
  restoreParts(ctx, run.parts, restored, ref.step);
  if (loop.epoch > opts.epochs) throw new ConfigError(`invalid value ${opts.epochs} for --epochs: checkpoint ${ref.dir} is already at the end of epoch ${loop.epoch}`);
  const complete = loop.epoch >= opts.epochs || loop.collapse !== undefined;
  if (complete) {
    ctx.log.info('Found the run already complete in its checkpoint', { step: loop.globalStep, epochs: loop.epoch, dir: ref.dir });
    return true;
  }
  const epochNo = Math.min(loop.epoch + 1, opts.epochs);
  ctx.log.info('Resumed from checkpoint', { step: loop.globalStep, epoch: epochNo, stepInEpoch: loop.stepInEpoch, dir: ref.dir });
  run.report({
    phase: 'training',
    epoch: epochNo,
    totalEpochs: opts.epochs,
    step: loop.globalStep,
    totalSteps: run.totalSteps,
    ...(loop.lastEval !== undefined ? { cleanAccuracy: loop.lastEval.cleanAccuracy, robustAccuracy: loop.lastEval.robustAccuracy } : {}),
  });
  return false;
}

function logStart(run: TrainRun): void {
  const { opts, ctx } = run;
  ctx.log.info('Started training', {
    rank: ctx.rank,
    worldSize: ctx.worldSize,
    model: opts.model,
    params: countParams(run.model),
    attack: opts.attack,
    loss: opts.loss,
    optimizer: opts.optimizer,
    train: run.train.n,
    stepsPerEpoch: run.steps,
    globalBatch: ctx.worldSize * opts.batchSize,
    startStep: run.loop.globalStep,
  });
}

