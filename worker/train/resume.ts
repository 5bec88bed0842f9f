/**
 * The side effects of checkpoint and resume for the training loop, on top of
 * worker/checkpoint/checkpoint-store.ts (atomic files, SHA-256 manifests,
 * complete-checkpoint listing, pruning) and the pure bodies of
 * `train-checkpoint.ts`, over the run's registered checkpoint parts
 * (state/register-parts.ts).
 *
 * Resume, on every rank:
 * 1. Rank 0 lists the complete checkpoints of any ring size and
 *    configuration (verifying every rank's file on the shared volume against
 *    its checksum), newest first.
 * 2. Rank 0 picks the newest one whose files also decode and pass each
 *    registered part's own check (a file can pass its checksum and still be
 *    malformed), warns about each newer one it skipped
 *    with the reason, and broadcasts its step and ring size, so all ranks load
 *    the same step even if a file changes between their listings.
 * 3. Every rank reads rank 0's file and refuses it when it was written with
 *    another configuration (run-config.ts): another configuration's
 *    checkpoint is never skipped, or this run would start over next to it.
 * 4. Every rank reads its own file (its `rank` parts: BatchNorm statistics
 *    of ranks > 0, compression memories).
 * 5. Every rank loads the parts: rank 0's `run` parts and its own `rank` ones.
 */
import { dirname, join } from 'node:path';
import { checkParts, loadParts, PART_SCOPES, saveParts, type CheckpointPart, type DecodedPart } from '../checkpoint/checkpoint-part.js';
import type { CheckpointRef, SkippedCheckpoint } from '../checkpoint/checkpoint-store.js';
import { listCheckpoints, readCheckpoint, stepDirName, writeCheckpoint } from '../checkpoint/checkpoint-store.js';
import { ConfigError, DatError, getErrorMessage } from '../../common/errors.js';
import type { Logger } from '../../common/log.js';
import { checkResumeConfig, type ConfigDifference, type RunFingerprint } from './run-config.js';
import { CheckpointVersionError, decodeTrainCheckpoint, encodeTrainCheckpoint, requireFingerprint, type DecodedCheckpoint } from './train-checkpoint.js';

/** What the checkpoint functions need to know about the ring. */
export interface CheckpointRing {
  readonly rank: number;
  readonly worldSize: number;
  /** Rank 0's buffer on every rank (agreement on the step to resume from). */
  broadcastWeights?(flat: Float32Array): Promise<Float32Array>;
  readonly log: Logger;
}

/** What identifies the run in the files it writes. */
export interface CheckpointHeader {
  /** The run's configuration (rank 0's file). */
  readonly fingerprint: RunFingerprint;
  /** Its identity for the manifests (run-config.ts `configId`); pruning keeps other ones. */
  readonly configId?: string;
}

/** The parts a rank writes into its own file: all of them on rank 0, its `rank` parts elsewhere. */
function partsWrittenBy(rank: number, parts: readonly CheckpointPart[]): readonly CheckpointPart[] {
  return rank === 0 ? parts : parts.filter((p) => p.scope === PART_SCOPES.rank);
}

/** Writes this rank's file of the checkpoint at `globalStep`: every part it holds (see {@link partsWrittenBy}). */
export async function writeTrainCheckpoint(dir: string, ring: CheckpointRing, globalStep: number, parts: readonly CheckpointPart[], header: CheckpointHeader): Promise<void> {
  const saved = await saveParts(partsWrittenBy(ring.rank, parts));
  const body = encodeTrainCheckpoint(ring.rank, globalStep, saved, ring.rank === 0 ? header.fingerprint : undefined);
  try {
    const { configId } = header;
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

/** Reads and decodes rank `rank`'s file, then runs the part checks that apply to it (DataError when it fails). */
async function readRankFile(ref: CheckpointRef, rank: number, worldSize: number, parts: readonly CheckpointPart[]): Promise<DecodedCheckpoint> {
  const file = join(ref.dir, `rank-${rank}`);
  const decoded = decodeTrainCheckpoint(await readCheckpoint(ref, rank, worldSize), file);
  if (rank === 0) requireFingerprint(decoded, file);
  checkParts(partsWrittenBy(rank, parts), decoded.parts, file);
  return decoded;
}

/**
 * Why the complete checkpoint `ref` cannot be loaded although it passed its
 * checksums (undefined: it decodes). A checkpoint of another format version
 * throws: it is not damage, and skipping it would let this run overwrite it.
 */
async function undecodableReason(ref: CheckpointRef, parts: readonly CheckpointPart[]): Promise<string | undefined> {
  const worldSize = ref.worldSize ?? 1;
  try {
    for (let r = 0; r < worldSize; r++) await readRankFile(ref, r, worldSize, parts);
  } catch (err) {
    if (err instanceof CheckpointVersionError) throw err;
    return `it passes its checksums but cannot be decoded: ${getErrorMessage(err)}`;
  }
  return undefined;
}

/** Steps 1-2 on rank 0: the newest loadable checkpoint, warning about every newer one skipped. */
async function chooseResumeCheckpoint(dir: string, parts: readonly CheckpointPart[], log: Logger): Promise<CheckpointRef | undefined> {
  // Step 1
  const { complete, skipped } = await listCheckpoints(dir);
  // Step 2
  const undecodable: SkippedCheckpoint[] = [];
  let chosen: CheckpointRef | undefined;
  for (const ref of complete) {
    const reason = await undecodableReason(ref, parts);
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
export async function agreeOnResumeCheckpoint(dir: string, ring: CheckpointRing, parts: readonly CheckpointPart[]): Promise<CheckpointRef | undefined> {
  const collective = ring.broadcastWeights !== undefined && ring.worldSize > 1;
  const chosen = ring.rank === 0 || !collective ? await chooseResumeCheckpoint(dir, parts, ring.log) : undefined;
  if (!collective) return chosen;
  const agreed = decodeChoice(await ring.broadcastWeights!(encodeChoice(chosen)), dir);
  return chosen?.step === agreed?.step ? chosen : agreed;
}

/** What a rank restores from a checkpoint. */
export interface RestoredCheckpoint {
  /** The run's configuration when the checkpoint was written. */
  readonly fingerprint: RunFingerprint;
  /** What this rank loads: rank 0's `run` parts and its own `rank` parts, checked. */
  readonly parts: ReadonlyMap<string, DecodedPart>;
  /** Differences from the checkpoint's configuration that `--allow-config-change` accepted. */
  readonly changed: readonly ConfigDifference[];
}

/** The configuration the resuming run has, for Step 3. */
export interface ResumeExpectation {
  readonly fingerprint: RunFingerprint;
  /** Option names (`epochs`) that may differ. */
  readonly allowChanges: readonly string[];
}

/** Steps 3-4: reads rank 0's file, checks its configuration against `expect`, then reads this rank's own file. */
export async function readTrainCheckpoint(ref: CheckpointRef, ring: CheckpointRing, parts: readonly CheckpointPart[], expect?: ResumeExpectation): Promise<RestoredCheckpoint> {
  const worldSize = ref.worldSize ?? ring.worldSize;
  let chief: DecodedCheckpoint;
  try {
    chief = await readRankFile(ref, 0, worldSize, parts);
  } catch (err) {
    throw readFailure(ref, ring, err);
  }
  const fingerprint = requireFingerprint(chief, join(ref.dir, 'rank-0'));
  // Step 3 (outside the try: a refusal is permanent, not a flaky read)
  const changed = expect === undefined ? [] : checkResumeConfig(fingerprint, expect.fingerprint, expect.allowChanges, `${stepDirName(ref.step)} in ${dirname(ref.dir)}`);
  if (ring.rank === 0) return { fingerprint, parts: chief.parts, changed };
  // Step 4
  let own: DecodedCheckpoint;
  try {
    own = await readRankFile(ref, ring.rank, worldSize, parts);
  } catch (err) {
    throw readFailure(ref, ring, err);
  }
  const ofScope = (d: DecodedCheckpoint, scope: string): [string, DecodedPart][] => [...d.parts].filter(([, p]) => p.scope === scope);
  return { fingerprint, parts: new Map([...ofScope(chief, PART_SCOPES.run), ...ofScope(own, PART_SCOPES.rank)]), changed };
}

function readFailure(ref: CheckpointRef, ring: CheckpointRing, err: unknown): DatError {
  const msg = `failed to read checkpoint ${stepDirName(ref.step)} on rank ${ring.rank}: ${getErrorMessage(err)}`;
  if (err instanceof CheckpointVersionError) return new CheckpointVersionError(msg, err);
  // Rank 0 verified and decoded every file just before; a failure now is a race or a flaky volume, so a restart may help.
  return new DatError(msg, { retryable: true, cause: err });
}

/** Step 5: loads every registered part the checkpoint holds; warns about saved parts this run has no part for. */
export function restoreParts(ring: CheckpointRing, parts: readonly CheckpointPart[], restored: RestoredCheckpoint, step: number): void {
  const dropped = loadParts(parts, restored.parts);
  if (dropped.length > 0) ring.log.warn('Dropped checkpoint parts this run keeps no state for', { step, parts: dropped.join(',') });
}
