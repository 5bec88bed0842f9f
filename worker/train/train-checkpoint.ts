/**
 * The body of one rank's training checkpoint file, as pure encode/decode
 * functions over the registered parts (worker/checkpoint/checkpoint-part.ts)
 * and the (named Float32Arrays + JSON meta) file of
 * worker/checkpoint/tensor-file.ts. The side effects (writing, choosing and
 * reading a checkpoint) live in `resume.ts`.
 *
 * Rank 0's file holds the run's configuration fingerprint, every `run` part
 * (weights, optimizer, overfitting guard, loop position) and its own `rank`
 * parts; every other rank's file holds only its own `rank` parts (BatchNorm
 * statistics, compression memories). There is no RNG stream to save: attack
 * starts are seeded from (seed, global step, rank), evaluation and the guard
 * probe from (seed, purpose[, epoch]).
 *
 * Version 2 lists the parts in the meta; version 1 files (a fixed layout)
 * are translated on read by state/legacy-checkpoint.ts.
 */
import { decodeParts, encodeParts, type DecodedPart, type PartIndex, type SavedParts } from '../checkpoint/checkpoint-part.js';
import { DataError } from '../../common/errors.js';
import type { RunFingerprint } from './run-config.js';
import { isLegacyCheckpoint, translateLegacyCheckpoint } from './state/legacy-checkpoint.js';

/** Bumped when the layout changes incompatibly; older files are translated or refused with a clear error. */
export const TRAIN_CHECKPOINT_VERSION = 2;

export type { RunFingerprint } from './run-config.js';

/**
 * A checkpoint of another format version: not damage, so a resume must not
 * fall back past it (and then overwrite it), but refuse.
 */
export class CheckpointVersionError extends DataError {}

/** The JSON meta of a checkpoint file. */
export interface TrainCheckpointMeta {
  readonly version: number;
  readonly rank: number;
  readonly globalStep: number;
  /** The run's configuration (rank 0 only). */
  readonly fingerprint?: RunFingerprint;
  readonly parts: PartIndex;
}

/** A checkpoint file's body before encoding. */
export interface CheckpointBody {
  readonly tensors: Map<string, Float32Array>;
  readonly meta: TrainCheckpointMeta;
}

/** A decoded checkpoint file. */
export interface DecodedCheckpoint {
  readonly rank: number;
  readonly globalStep: number;
  readonly fingerprint?: RunFingerprint;
  readonly parts: Map<string, DecodedPart>;
}

/** One rank's body: its saved parts, plus the fingerprint on rank 0. */
export function encodeTrainCheckpoint(rank: number, globalStep: number, saved: SavedParts, fingerprint?: RunFingerprint): CheckpointBody {
  const { tensors, index } = encodeParts(saved);
  return { tensors, meta: { version: TRAIN_CHECKPOINT_VERSION, rank, globalStep, ...(fingerprint !== undefined ? { fingerprint } : {}), parts: index } };
}

type FileContents = { readonly meta: unknown; readonly tensors: ReadonlyMap<string, Float32Array> };

/**
 * Decodes any rank's file; `file` names it in errors. Anything malformed is a
 * DataError (another version a {@link CheckpointVersionError}), never a TypeError.
 * Each part's own check runs later, against the registered parts (resume.ts).
 */
export function decodeTrainCheckpoint(contents: FileContents, file: string): DecodedCheckpoint {
  try {
    const current = isLegacyCheckpoint(contents.meta) ? translateLegacyCheckpoint(contents.meta, contents.tensors) : contents;
    const meta = checkVersion(current.meta, file);
    const parts = decodeParts(meta.parts, current.tensors, file);
    return { rank: meta.rank, globalStep: meta.globalStep, ...(meta.fingerprint !== undefined ? { fingerprint: meta.fingerprint } : {}), parts };
  } catch (err) {
    if (err instanceof DataError) throw err;
    throw new DataError(`checkpoint ${file} is malformed: ${(err as Error).message}`, err);
  }
}

/** Rank 0's configuration, which a rank-0 file must carry. */
export function requireFingerprint(decoded: DecodedCheckpoint, file: string): RunFingerprint {
  const fp = decoded.fingerprint;
  if (fp === null || typeof fp !== 'object') throw new DataError(`checkpoint ${file} is not a rank-0 training checkpoint: the run configuration is missing`);
  return fp;
}

function checkVersion(meta: unknown, file: string): TrainCheckpointMeta {
  const m = meta as Partial<TrainCheckpointMeta> | null | undefined;
  if (m === null || typeof m !== 'object' || m.version !== TRAIN_CHECKPOINT_VERSION) {
    throw new CheckpointVersionError(`checkpoint ${file} has format version ${String(m?.version)}, this worker reads ${TRAIN_CHECKPOINT_VERSION}; use a fresh --checkpoint-dir`);
  }
  return m as TrainCheckpointMeta;
}
