/**
 * The side effects of checkpoint and resume for the training loop, on top of
 * worker/checkpoint/checkpoint-store.ts (atomic files, SHA-256 manifests,
 * complete-checkpoint listing, pruning) and the pure bodies of
 * `train-checkpoint.ts`.
 *
 * Resume, on every rank:
 * 1. Rank 0 lists the complete checkpoints of any ring size and
 *    configuration (verifying every rank's file on the shared volume against
 *    its checksum), newest first.
 * 2. Rank 0 picks the newest one whose files also decode (a file can pass its
 *    checksum and still be malformed), warns about each newer one it skipped
 *    with the reason, and broadcasts its step and ring size, so all ranks load
 *    the same step even if a file changes between their listings.
 * 3. Every rank reads rank 0's file and refuses it when it was written with
 *    another configuration (run-config.ts): another configuration's
 *    checkpoint is never skipped, or this run would start over next to it.
 * 4. Every rank reads its own file (BatchNorm statistics of ranks > 0,
 *    compression residuals).
 */
import { dirname, join } from 'node:path';
import type { CheckpointRef, SkippedCheckpoint } from '../checkpoint/checkpoint-store.js';
import { listCheckpoints, readCheckpoint, stepDirName, writeCheckpoint } from '../checkpoint/checkpoint-store.js';
import { ConfigError, DatError, getErrorMessage } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import { checkResumeConfig, type ConfigDifference, type RunFingerprint } from './run-config.js';
import {
  CheckpointVersionError,
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
  /** The run's configuration identity for the manifest (run-config.ts `configId`); pruning keeps other ones. */
  readonly configId?: string;
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
    const { configId } = extras;
    await writeCheckpoint(dir, { step: globalStep, rank: ring.rank, worldSize: ring.worldSize, tensors: body.tensors, meta: body.meta, ...(configId !== undefined ? { configId } : {}) });
  } catch (err) {
    const msg = `failed to write checkpoint ${stepDirName(globalStep)} in ${dir}: ${getErrorMessage(err)}`;
    // A read-only volume or another run's files: permanent. A full or flaky volume: retryable, the gang restarts from the previous checkpoint.
    if (err instanceof DatError && !err.retryable) throw new ConfigError(msg, err);
    throw new DatError(msg, { retryable: true, cause: err });
  }
}

/** Encodes a step (or -1) exactly in float32 (two 16-bit halves), and the ring size that wrote it. */
function encodeChoice(ref: CheckpointRef | undefined): Float32Array {
  return ref === undefined ? Float32Array.of(-1, 0, 0) : Float32Array.of(Math.floor(ref.step / 65536), ref.step % 65536, ref.worldSize ?? 0);
}

function decodeChoice(buf: Float32Array, dir: string): CheckpointRef | undefined {
  const hi = buf[0]!;
  if (hi < 0) return undefined;
  const step = hi * 65536 + buf[1]!;
  const worldSize = buf[2]!;
  return { step, dir: join(dir, stepDirName(step)), ...(worldSize > 0 ? { worldSize } : {}) };
}

/**
 * Why the complete checkpoint `ref` cannot be loaded although it passed its
 * checksums (undefined: it decodes). A checkpoint of another format version
 * throws: it is not damage, and skipping it would let this run overwrite it.
 */
async function undecodableReason(ref: CheckpointRef): Promise<string | undefined> {
  const worldSize = ref.worldSize ?? 1;
  try {
    for (let r = 0; r < worldSize; r++) {
      const contents = await readCheckpoint<TrainCheckpointMeta>(ref, r, worldSize);
      const file = join(ref.dir, `rank-${r}`);
      if (r === 0) decodeChiefCheckpoint(contents, file);
      else decodeRankMeta(contents.meta, file);
    }
  } catch (err) {
    if (err instanceof CheckpointVersionError) throw err;
    return `it passes its checksums but cannot be decoded: ${getErrorMessage(err)}`;
  }
  return undefined;
}

/** Steps 1-2 on rank 0: the newest loadable checkpoint, warning about every newer one skipped. */
async function chooseResumeCheckpoint(dir: string, log: Logger): Promise<CheckpointRef | undefined> {
  // Step 1
  const { complete, skipped } = await listCheckpoints(dir);
  // Step 2
  const undecodable: SkippedCheckpoint[] = [];
  let chosen: CheckpointRef | undefined;
  for (const ref of complete) {
    const reason = await undecodableReason(ref);
    if (reason === undefined) {
      chosen = ref;
      break;
    }
    undecodable.push({ step: ref.step, reason });
  }
  // Newer than the resume point only: older incomplete ones are pruning leftovers, not news.
  const newest = chosen?.step ?? -1;
  for (const s of [...skipped, ...undecodable].sort((a, b) => b.step - a.step)) {
    if (s.step > newest) log.warn('Skipped checkpoint', { step: s.step, reason: s.reason });
  }
  return chosen;
}

/**
 * Steps 1-2: the checkpoint every rank resumes from, or undefined for a fresh
 * start. Collective when the ring has more than one rank.
 */
export async function agreeOnResumeCheckpoint(dir: string, ring: CheckpointRing): Promise<CheckpointRef | undefined> {
  const collective = ring.broadcastWeights !== undefined && ring.worldSize > 1;
  const chosen = ring.rank === 0 || !collective ? await chooseResumeCheckpoint(dir, ring.log) : undefined;
  if (!collective) return chosen;
  const agreed = decodeChoice(await ring.broadcastWeights!(encodeChoice(chosen)), dir);
  return chosen?.step === agreed?.step ? chosen : agreed;
}

/** What a rank restores from a checkpoint. */
export interface RestoredCheckpoint {
  readonly snapshot: TrainSnapshot;
  readonly residuals: Map<string, Float32Array>;
  /** This rank's own non-trainable weights (ranks > 0 only). */
  readonly nonTrainable?: Float32Array;
  /** Differences from the checkpoint's configuration that `--allow-config-change` accepted. */
  readonly changed: readonly ConfigDifference[];
}

/** The configuration the resuming run has, for Step 3. */
export interface ResumeExpectation {
  readonly fingerprint: RunFingerprint;
  /** Option names (`epochs`) that may differ. */
  readonly allowChanges: readonly string[];
}

/** Steps 3-4: reads rank 0's snapshot, checks its configuration against `expect`, then reads this rank's own file. */
export async function readTrainCheckpoint(ref: CheckpointRef, ring: CheckpointRing, expect?: ResumeExpectation): Promise<RestoredCheckpoint> {
  const worldSize = ref.worldSize ?? ring.worldSize;
  let snapshot: TrainSnapshot;
  let chiefTensors: ReadonlyMap<string, Float32Array>;
  try {
    const chiefFile = await readCheckpoint<TrainCheckpointMeta>(ref, 0, worldSize);
    snapshot = decodeChiefCheckpoint(chiefFile, join(ref.dir, 'rank-0'));
    chiefTensors = chiefFile.tensors;
  } catch (err) {
    throw readFailure(ref, ring, err);
  }
  // Step 3 (outside the try: a refusal is permanent, not a flaky read)
  const changed = expect === undefined ? [] : checkResumeConfig(snapshot.fingerprint, expect.fingerprint, expect.allowChanges, `${stepDirName(ref.step)} in ${dirname(ref.dir)}`);
  if (ring.rank === 0) return { snapshot, residuals: decodeResiduals(chiefTensors), changed };
  // Step 4
  try {
    const own = await readCheckpoint<TrainCheckpointMeta>(ref, ring.rank, worldSize);
    decodeRankMeta(own.meta, join(ref.dir, `rank-${ring.rank}`));
    const nonTrainable = own.tensors.get(RANK_NON_TRAINABLE);
    return { snapshot, residuals: decodeResiduals(own.tensors), ...(nonTrainable !== undefined ? { nonTrainable } : {}), changed };
  } catch (err) {
    throw readFailure(ref, ring, err);
  }
}

function readFailure(ref: CheckpointRef, ring: CheckpointRing, err: unknown): DatError {
  const msg = `failed to read checkpoint ${stepDirName(ref.step)} on rank ${ring.rank}: ${getErrorMessage(err)}`;
  if (err instanceof CheckpointVersionError) return new CheckpointVersionError(msg, err);
  // Rank 0 verified and decoded every file just before; a failure now is a race or a flaky volume, so a restart may help.
  return new DatError(msg, { retryable: true, cause: err });
}

/** Loads residuals into the reducer; warns when the checkpoint has some but the reducer cannot take them. */
export function restoreResiduals(ring: CheckpointRing, residuals: Map<string, Float32Array>, step: number): void {
  if (ring.reducerState !== undefined) ring.reducerState.load(residuals);
  else if (residuals.size > 0) ring.log.warn('Dropped compression residuals from checkpoint: the reducer keeps no state', { step, tensors: residuals.size });
}
