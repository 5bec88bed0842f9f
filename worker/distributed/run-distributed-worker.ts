// Placeholder until the ring all-reduce work lands (owned by the comm/launcher work).
import type { TrainOptions } from '../contract.js';

/** Runs one rank of a ring (rank/world/peers from WORKER_ENV); resolves to the exit code. */
export async function runDistributedWorker(opts: TrainOptions): Promise<number> {
  throw new Error(`distributed worker mode is not implemented yet (dataset ${opts.dataset})`);
}
