/**
 * The side effects of checkpoint and resume for the training loop, on top of
 * worker/checkpoint/checkpoint-store.ts (atomic files, SHA-256 manifests,
 * complete-checkpoint listing, pruning) and the pure bodies of
 * `train-checkpoint.ts`.
 *
 * Resume, on every rank:
 * 1. Rank 0 lists the complete checkpoints for the ring size (verifying every
 *    rank's file on the shared volume against its checksum) and warns about
 *    each skipped one with the reason.
 * 2. Rank 0 picks the newest complete one and broadcasts its step, so all
 *    ranks load the same step even if a file changes between their listings.
 * 3. Every rank reads rank 0's file (model, optimizer, position, metrics) and
 *    its own (BatchNorm statistics of ranks > 0, compression residuals).
 */
import { join } from 'node:path';
import type { CheckpointRef } from '../checkpoint/checkpoint-store.js';
import { listCompleteCheckpoints, readCheckpoint, stepDirName, writeCheckpoint } from '../checkpoint/checkpoint-store.js';
import { DatError, getErrorMessage } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import {
  decodeChiefCheckpoint,
  decodeRankMeta,
  decodeResiduals,
  encodeChiefCheckpoint,
  encodeRankCheckpoint,
  type CheckpointBody,
  type Residuals,
  type TrainCheckpointMeta,
  type TrainSnapshot,
} from './train-checkpoint.js';

/**
 * Save/restore of a gradient reducer's internal state (compression
 * error-feedback residuals); provided by the distributed worker when its
 * compressor keeps state. Names are the reducer's own (e.g. `worker/0`).
 */
export interface ReducerStateHooks {
  save(): Map<string, Float32Array>;
  load(m: Map<string, Float32Array>): void;
}

/** What the checkpoint functions need to know about the ring. */
export interface CheckpointRing {
  readonly rank: number;
  readonly worldSize: number;
  /** Rank 0's buffer on every rank (agreement on the step to resume from). */
  broadcastWeights?(flat: Float32Array): Promise<Float32Array>;
  readonly reducerState?: ReducerStateHooks;
  readonly log: Logger;
}

/** Name of the non-trainable weights (BatchNorm statistics) a rank > 0 keeps in its own file. */
export const RANK_NON_TRAINABLE = 'model/non-trainable';

/** What this rank writes besides rank 0's snapshot. */
export interface RankExtras {
  /** This rank's non-trainable weights (ranks > 0; BatchNorm statistics drift per rank within an epoch). */
  readonly nonTrainable?: Float32Array;
}

/**
 * Writes this rank's file of the checkpoint at `globalStep`: the snapshot on
 * rank 0 (`snap` is ignored elsewhere), residuals and extras on every rank.
 */
export async function writeTrainCheckpoint(dir: string, ring: CheckpointRing, globalStep: number, snap: TrainSnapshot | undefined, extras: RankExtras = {}): Promise<void> {
  const residuals: Residuals | undefined = ring.reducerState?.save();
  let body: CheckpointBody;
  if (ring.rank === 0) {
    if (snap === undefined) throw new DatError('writeTrainCheckpoint: rank 0 needs the run snapshot', { retryable: false });
    body = encodeChiefCheckpoint(snap, residuals);
  } else {
    body = encodeRankCheckpoint(ring.rank, globalStep, residuals);
    if (extras.nonTrainable !== undefined) body.tensors.set(RANK_NON_TRAINABLE, extras.nonTrainable);
  }
  try {
    await writeCheckpoint(dir, { step: globalStep, rank: ring.rank, worldSize: ring.worldSize, tensors: body.tensors, meta: body.meta });
  } catch (err) {
    // A full or flaky volume: retryable, the gang restarts from the previous checkpoint.
    throw new DatError(`failed to write checkpoint ${stepDirName(globalStep)} in ${dir}: ${getErrorMessage(err)}`, { retryable: true, cause: err });
  }
}

/** Encodes a step (or -1) exactly in float32: two 16-bit halves. */
function encodeStep(step: number | undefined): Float32Array {
  return step === undefined ? Float32Array.of(-1, 0) : Float32Array.of(Math.floor(step / 65536), step % 65536);
}

function decodeStep(buf: Float32Array): number | undefined {
  const hi = buf[0]!;
  return hi < 0 ? undefined : hi * 65536 + buf[1]!;
}

/**
 * Step 1-2: the checkpoint every rank resumes from, or undefined for a fresh
 * start. Collective when the ring has more than one rank.
 */
export async function agreeOnResumeCheckpoint(dir: string, ring: CheckpointRing): Promise<CheckpointRef | undefined> {
  const chooser = ring.rank === 0 || ring.broadcastWeights === undefined || ring.worldSize <= 1;
  let chosen: CheckpointRef | undefined;
  if (chooser) {
    // Step 1
    const { complete, skipped } = await listCompleteCheckpoints(dir, ring.worldSize);
    // Newer than the resume point only: older incomplete ones are pruning leftovers, not news.
    const newest = complete[0]?.step ?? -1;
    for (const s of skipped) {
      if (s.step > newest) ring.log.warn('Skipped checkpoint', { step: s.step, reason: s.reason });
    }
    chosen = complete[0];
  }
  if (ring.broadcastWeights === undefined || ring.worldSize <= 1) return chosen;
  // Step 2
  const step = decodeStep(await ring.broadcastWeights(encodeStep(chosen?.step)));
  if (step === undefined) return undefined;
  return chosen?.step === step ? chosen : { step, dir: join(dir, stepDirName(step)) };
}

/** What a rank restores from a checkpoint. */
export interface RestoredCheckpoint {
  readonly snapshot: TrainSnapshot;
  readonly residuals: Map<string, Float32Array>;
  /** This rank's own non-trainable weights (ranks > 0 only). */
  readonly nonTrainable?: Float32Array;
}

/** Step 3: reads rank 0's snapshot and this rank's own file. */
export async function readTrainCheckpoint(ref: CheckpointRef, ring: CheckpointRing): Promise<RestoredCheckpoint> {
  try {
    const chiefFile = await readCheckpoint<TrainCheckpointMeta>(ref, 0, ring.worldSize);
    const snapshot = decodeChiefCheckpoint(chiefFile, join(ref.dir, 'rank-0'));
    if (ring.rank === 0) return { snapshot, residuals: decodeResiduals(chiefFile.tensors) };
    const own = await readCheckpoint<TrainCheckpointMeta>(ref, ring.rank, ring.worldSize);
    decodeRankMeta(own.meta, join(ref.dir, `rank-${ring.rank}`));
    const nonTrainable = own.tensors.get(RANK_NON_TRAINABLE);
    return { snapshot, residuals: decodeResiduals(own.tensors), ...(nonTrainable !== undefined ? { nonTrainable } : {}) };
  } catch (err) {
    // Rank 0 verified every file just before; a failure now is a race or a flaky volume, so a restart may help.
    throw new DatError(`failed to read checkpoint ${stepDirName(ref.step)} on rank ${ring.rank}: ${getErrorMessage(err)}`, { retryable: true, cause: err });
  }
}

/** Loads residuals into the reducer; warns when the checkpoint has some but the reducer cannot take them. */
export function restoreResiduals(ring: CheckpointRing, residuals: Map<string, Float32Array>, step: number): void {
  if (ring.reducerState !== undefined) ring.reducerState.load(residuals);
  else if (residuals.size > 0) ring.log.warn('Dropped compression residuals from checkpoint: the reducer keeps no state', { step, tensors: residuals.size });
}
