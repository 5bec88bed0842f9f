/**
 * What a training checkpoint holds, as pure encode/decode functions between
 * the loop's state and the (named Float32Arrays + JSON meta) body of a
 * checkpoint file (worker/checkpoint/tensor-file.ts). The side effects
 * (writing, choosing and reading a checkpoint) live in `resume.ts`.
 *
 * Rank 0's file holds everything needed to continue bit-identically: all
 * model variables (BatchNorm statistics included), the optimizer state, the
 * overfitting guard, the position (epoch, step in epoch, global step; the
 * data order is a pure function of (seed, epoch, step), worker/data/shard.ts),
 * the metrics so far, and rank 0's compression residuals. Every other rank's
 * file holds only its own residuals. There is no RNG stream to save: attack
 * starts are seeded from (seed, global step, rank), evaluation and the guard
 * probe from (seed, purpose[, epoch]).
 */
import type { OptimizerId } from '../contract.js';
import { DataError } from '../util/errors.js';
import type { RunFingerprint } from './run-config.js';
import type { EvalResult } from './evaluate.js';
import type { EpochRecord, RunMetrics } from './metrics.js';
import type { OptimizerState } from './optimizers/index.js';
import type { GuardSnapshot } from './overfit-guard.js';

/** Bumped when the layout changes incompatibly; older files are refused with a clear error. */
export const TRAIN_CHECKPOINT_VERSION = 1;

export type { RunFingerprint } from './run-config.js';

/**
 * A checkpoint of another format version: not damage, so a resume must not
 * fall back past it (and then overwrite it), but refuse.
 */
export class CheckpointVersionError extends DataError {}

/** Tensor names inside a checkpoint file. */
export const CHECKPOINT_TENSORS = {
  /** All model variables in `model.weights` order (variables.ts `modelVariables`). */
  weights: 'model/weights',
  /** The overfitting guard's best weights, same layout. */
  guardBest: 'guard/best-weights',
  /** Prefix of optimizer slots (`optimizer/m/3`). */
  optimizerPrefix: 'optimizer/',
  /** Prefix of the reducer's (compression) residuals (`residual/<name>`). */
  residualPrefix: 'residual/',
} as const;

/** Where training continues: the state after `globalStep` optimizer steps. */
export interface TrainPosition {
  /** Epoch (0-based) the next step belongs to; `epochs` when training is over. */
  readonly epoch: number;
  /** Steps of `epoch` already taken (0 at an epoch boundary). */
  readonly stepInEpoch: number;
  readonly globalStep: number;
}

/** Loop bookkeeping that shapes the metrics (not the weights). */
export interface LoopProgress {
  /** Loss summed over the current epoch's steps taken so far. */
  readonly epochLossSum: number;
  /** Training seconds of the current epoch so far. */
  readonly epochSeconds: number;
  /** Training seconds of the whole run so far (resumes included). */
  readonly trainSecondsTotal: number;
  readonly history: readonly EpochRecord[];
  readonly lastEval?: EvalResult;
  /** 0-based epoch of `lastEval`; -1 when none. */
  readonly lastEvalEpoch: number;
  /** Set once the overfitting guard stopped the run: a resume must not train further. */
  readonly collapse?: RunMetrics['overfitGuard'];
}

/** Everything rank 0 saves about the run. */
export interface TrainSnapshot {
  readonly position: TrainPosition;
  readonly fingerprint: RunFingerprint;
  /** All model variables, flat. */
  readonly weights: Float32Array;
  readonly optimizer: OptimizerState;
  readonly guard?: GuardSnapshot;
  readonly loop: LoopProgress;
}

/** Compression residuals of one rank (error-feedback memory), by name. */
export type Residuals = ReadonlyMap<string, Float32Array>;

interface SlotShape {
  readonly name: string;
  readonly shape: readonly number[];
}

/** The JSON meta of a checkpoint file. */
export interface TrainCheckpointMeta {
  readonly version: number;
  readonly rank: number;
  readonly globalStep: number;
  /** Rank 0 only. */
  readonly chief?: {
    readonly position: TrainPosition;
    readonly fingerprint: RunFingerprint;
    readonly optimizer: { readonly id: OptimizerId; readonly step: number; readonly slots: readonly SlotShape[] };
    readonly guard?: { readonly bestAccuracy: number; readonly bestEpoch: number };
    readonly loop: LoopProgress;
  };
}

/** A checkpoint file's body before encoding. */
export interface CheckpointBody {
  readonly tensors: Map<string, Float32Array>;
  readonly meta: TrainCheckpointMeta;
}

function addResiduals(tensors: Map<string, Float32Array>, residuals: Residuals | undefined): void {
  for (const [name, arr] of residuals ?? []) tensors.set(CHECKPOINT_TENSORS.residualPrefix + name, arr);
}

/** Rank 0's checkpoint body: the run snapshot plus its own residuals. */
export function encodeChiefCheckpoint(snap: TrainSnapshot, residuals?: Residuals): CheckpointBody {
  const tensors = new Map<string, Float32Array>([[CHECKPOINT_TENSORS.weights, snap.weights]]);
  for (const slot of snap.optimizer.slots) tensors.set(CHECKPOINT_TENSORS.optimizerPrefix + slot.name, slot.values);
  if (snap.guard?.bestWeights !== undefined) tensors.set(CHECKPOINT_TENSORS.guardBest, snap.guard.bestWeights);
  addResiduals(tensors, residuals);
  const meta: TrainCheckpointMeta = {
    version: TRAIN_CHECKPOINT_VERSION,
    rank: 0,
    globalStep: snap.position.globalStep,
    chief: {
      position: snap.position,
      fingerprint: snap.fingerprint,
      optimizer: { id: snap.optimizer.id, step: snap.optimizer.step, slots: snap.optimizer.slots.map((s) => ({ name: s.name, shape: [...s.shape] })) },
      ...(snap.guard !== undefined ? { guard: { bestAccuracy: snap.guard.bestAccuracy, bestEpoch: snap.guard.bestEpoch } } : {}),
      loop: snap.loop,
    },
  };
  return { tensors, meta };
}

/** A non-chief rank's checkpoint body: its residuals only. */
export function encodeRankCheckpoint(rank: number, globalStep: number, residuals?: Residuals): CheckpointBody {
  const tensors = new Map<string, Float32Array>();
  addResiduals(tensors, residuals);
  return { tensors, meta: { version: TRAIN_CHECKPOINT_VERSION, rank, globalStep } };
}

function checkVersion(meta: TrainCheckpointMeta | undefined, file: string): TrainCheckpointMeta {
  if (meta === null || typeof meta !== 'object' || meta.version !== TRAIN_CHECKPOINT_VERSION) {
    throw new CheckpointVersionError(`checkpoint ${file} has format version ${String(meta?.version)}, this worker reads ${TRAIN_CHECKPOINT_VERSION}; use a fresh --checkpoint-dir`);
  }
  return meta;
}

/** The residuals stored in a decoded checkpoint file (names without the prefix). */
export function decodeResiduals(tensors: ReadonlyMap<string, Float32Array>): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const [name, arr] of tensors) {
    if (name.startsWith(CHECKPOINT_TENSORS.residualPrefix)) out.set(name.slice(CHECKPOINT_TENSORS.residualPrefix.length), arr);
  }
  return out;
}

/** A file can pass its checksum and still be inconsistent (written by a buggy or hostile writer): check sizes. */
function checkSizes(fp: RunFingerprint | undefined, weights: Float32Array, optimizer: OptimizerState, file: string): void {
  const bad = (what: string): never => {
    throw new DataError(`checkpoint ${file} is inconsistent: ${what}`);
  };
  if (fp === null || typeof fp !== 'object') bad('the run configuration is missing');
  if (weights.length !== fp!.weightCount) bad(`${weights.length} weights, its configuration says ${String(fp!.weightCount)}`);
  for (const slot of optimizer.slots) {
    const size = slot.shape.reduce((a, b) => a * b, 1);
    if (slot.values.length !== size) bad(`optimizer slot ${slot.name} holds ${slot.values.length} values for shape [${slot.shape.join(',')}]`);
  }
}

/**
 * Rebuilds the run snapshot from rank 0's decoded file; `file` names it in
 * errors. Anything malformed is a DataError (a version mismatch a
 * {@link CheckpointVersionError}), never a TypeError.
 */
export function decodeChiefCheckpoint(contents: { readonly meta: TrainCheckpointMeta; readonly tensors: ReadonlyMap<string, Float32Array> }, file: string): TrainSnapshot {
  try {
    return decodeChief(contents, file);
  } catch (err) {
    if (err instanceof DataError) throw err;
    throw new DataError(`checkpoint ${file} is malformed: ${(err as Error).message}`, err);
  }
}

function decodeChief(contents: { readonly meta: TrainCheckpointMeta; readonly tensors: ReadonlyMap<string, Float32Array> }, file: string): TrainSnapshot {
  const meta = checkVersion(contents.meta, file);
  const chief = meta.chief;
  const missing = (what: string): never => {
    throw new DataError(`checkpoint ${file} is not a rank-0 training checkpoint: ${what} is missing`);
  };
  if (chief === undefined) return missing('the run state');
  if (!Number.isInteger(chief.position?.globalStep) || !Number.isInteger(chief.position.epoch)) return missing('the run position');
  if (!Array.isArray(chief.loop?.history)) return missing('the metrics history');
  const weights = contents.tensors.get(CHECKPOINT_TENSORS.weights) ?? missing(CHECKPOINT_TENSORS.weights);
  const optimizer: OptimizerState = {
    id: chief.optimizer.id,
    step: chief.optimizer.step,
    slots: chief.optimizer.slots.map((s) => ({
      name: s.name,
      shape: s.shape,
      values: contents.tensors.get(CHECKPOINT_TENSORS.optimizerPrefix + s.name) ?? missing(`optimizer slot ${s.name}`),
    })),
  };
  checkSizes(chief.fingerprint, weights, optimizer, file);
  const guardWeights = contents.tensors.get(CHECKPOINT_TENSORS.guardBest);
  const guard: GuardSnapshot | undefined =
    chief.guard === undefined ? undefined : { ...chief.guard, ...(guardWeights !== undefined ? { bestWeights: guardWeights } : {}) };
  return { position: chief.position, fingerprint: chief.fingerprint, weights, optimizer, ...(guard !== undefined ? { guard } : {}), loop: chief.loop };
}

/** Reads the meta of any rank's file, checking its version. */
export function decodeRankMeta(meta: TrainCheckpointMeta, file: string): TrainCheckpointMeta {
  return checkVersion(meta, file);
}
