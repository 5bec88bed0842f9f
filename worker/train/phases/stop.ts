/**
 * Graceful stop in the loop (../graceful-stop.ts): armed from the first step
 * to the last epoch end when the run has a checkpoint directory. At step
 * boundaries (about once a second, and after each checkpoint) the ranks agree
 * whether any of them received a stop signal; if one did, every rank saves its
 * checkpoint there (unless it just did) and stops.
 */
import { StopRequestedError } from '../graceful-stop.js';
import { saveCheckpoint, type TrainRun } from './train-run.js';

/** Arms graceful stop when `run` can use it; returns the disarm. */
export function armStop(run: TrainRun): () => void {
  const stop = run.ctx.stop;
  if (stop === undefined || run.opts.checkpointDir === undefined) return () => undefined;
  stop.arm();
  return () => stop.disarm();
}

/**
 * A step boundary: with the ranks' agreement that one was signalled, saves
 * the checkpoint (unless `saved`) and throws {@link StopRequestedError}.
 * Collective: every rank calls it at the same boundaries.
 */
export async function stopIfAsked(run: TrainRun, opts: { readonly saved: boolean }): Promise<void> {
  const { stop } = run.ctx;
  const dir = run.opts.checkpointDir;
  if (stop === undefined || dir === undefined) return;
  // After a checkpoint the stop would cost no save: always agree there.
  const agreement = await stop.atBoundary({ due: opts.saved });
  if (agreement === undefined) return;
  if (!opts.saved) await saveCheckpoint(run);
  run.ctx.log.info('Stopped at a step boundary after a stop signal', { step: run.loop.globalStep, signalledRanks: agreement.ranks.join(','), checkpointDir: dir });
  throw new StopRequestedError(agreement, run.loop.globalStep, dir);
}
