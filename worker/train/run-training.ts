/**
 * The training loop of one rank (also the whole run in single-process mode),
 * as a sequence of named phases (phases/*.ts):
 *
 * 1. setup: check the output paths, load the data, build the model,
 *    optimizer and guard, broadcast rank 0's initial weights, register the
 *    checkpoint parts (state/register-parts.ts).
 * 2. resume: with `--checkpoint-dir`, load every part from the newest
 *    complete checkpoint the ranks agree on.
 * 3. epoch: the optimizer steps of one epoch, checkpointing every
 *    `checkpointEvery` steps.
 * 4. epoch end: the overfitting probe, evaluation, the epoch's record, a
 *    checkpoint. Steps 3-4 repeat until the last epoch or a collapse.
 *    From the first step to the last epoch end, a stop signal stops the run
 *    at the next step boundary with a checkpoint (phases/stop.ts).
 * 5. finish: the final evaluation, metrics, and the chief's outputs.
 *
 * All the state a checkpoint holds is in the registered parts; everything
 * else is a pure function of the options and the loop position (data order,
 * learning rate, eps ramp, attack starts). So a run killed at any step and
 * resumed takes the same optimizer steps on the same batches as an
 * uninterrupted one, bit for bit without compression.
 */
import type { TrainOptions } from '../../common/contract.js';
import { endEpoch } from './phases/epoch-end.js';
import { runEpoch } from './phases/epoch.js';
import { finishRun } from './phases/finish.js';
import { resumeRun } from './phases/resume.js';
import { setupRun } from './phases/setup.js';
import { armStop, stopIfAsked } from './phases/stop.js';
import { disposeRun } from './phases/train-run.js';
import type { RunContext, RunResult } from './run-context.js';

export { singleProcessContext, type RunContext, type RunResult, type TrainProgress } from './run-context.js';

/** Runs the whole training (see the module comment) and returns its metrics. */
export async function runTraining(opts: TrainOptions, ctx: RunContext): Promise<RunResult> {
  const run = await setupRun(opts, ctx);
  try {
    const resumedComplete = await resumeRun(run);
    // Armed for training only: during the resume nothing is newer than the checkpoint just read.
    const disarm = armStop(run);
    try {
      while (run.loop.epoch < opts.epochs && run.loop.collapse === undefined) {
        const { lr } = await runEpoch(run);
        await endEpoch(run, lr);
        // The epoch end just saved a checkpoint.
        await stopIfAsked(run, { saved: true });
      }
    } finally {
      disarm();
    }
    return await finishRun(run, resumedComplete);
  } finally {
    disposeRun(run);
  }
}
