// Placeholder until the ring all-reduce work lands (owned by the comm/launcher work).
import type { TrainOptions } from '../contract.js';

/** Starts `opts.workers` worker processes on this machine and merges their progress; resolves to the exit code. */
export async function launchLocal(opts: TrainOptions): Promise<number> {
  throw new Error(`multi-worker local mode (--workers ${opts.workers}) is not implemented yet`);
}
