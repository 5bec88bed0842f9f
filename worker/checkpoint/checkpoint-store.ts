/**
 * Checkpoints on a shared directory (the job's checkpoint volume).
 *
 * Layout: `<dir>/step-<00000000>/rank-<r>.ckpt` plus `rank-<r>.manifest.json`.
 * Rank 0's file holds the parts of the whole run (model, optimizer state, run
 * position); every rank's file holds its own parts, such as compression
 * memories (checkpoint-part.ts, worker/train/train-checkpoint.ts). A checkpoint is complete when all
 * `worldSize` manifests exist and every file matches its manifest's size and
 * SHA-256: a crash mid-write leaves an incomplete checkpoint that readers skip,
 * and the previous complete one is kept until a newer one is complete.
 *
 * Each write is atomic: temp file, fsync, rename, fsync of the directory; the
 * manifest is written last, so its presence implies the data file is durable.
 *
 * Every manifest names the ring size and the configuration (`configId`) that
 * wrote it. Readers list checkpoints of every configuration, so a run can
 * refuse one that is not its own; pruning deletes only its own.
 */
import { createHash } from 'node:crypto';
import { mkdir, open, readdir, readFile, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ConfigError, DataError, getErrorMessage } from '../../common/errors.js';
import { writeFileAtomic } from './atomic-file.js';
import { decodeTensorFile, encodeTensorFile, type TensorFileContents } from './tensor-file.js';
import { explainFsError } from './writable-dir.js';

export { writeFileAtomic } from './atomic-file.js';

const STEP_DIR_RE = /^step-(\d{8,})$/;
/** Complete checkpoints kept by pruning: the newest and its predecessor. */
export const DEFAULT_KEEP = 2;

/** What a rank records about its own file. */
export interface CheckpointManifest {
  readonly step: number;
  readonly rank: number;
  readonly worldSize: number;
  /**
   * Identity of the training configuration that wrote it (a hash of the
   * options a resume must not change); pruning deletes only its own.
   * Absent in manifests of older workers.
   */
  readonly configId?: string;
  readonly file: string;
  readonly bytes: number;
  readonly sha256: string;
  readonly writtenAt: string;
}

/** A complete checkpoint found on disk. */
export interface CheckpointRef {
  readonly step: number;
  readonly dir: string;
  /** Ranks that wrote it (rank 0's manifest); absent on a ref rebuilt from the step alone. */
  readonly worldSize?: number;
  /** Its configuration (rank 0's manifest); absent for checkpoints of older workers. */
  readonly configId?: string;
}

/** Why a checkpoint directory was not usable. */
export interface SkippedCheckpoint {
  readonly step: number;
  readonly reason: string;
}

export function stepDirName(step: number): string {
  return `step-${String(step).padStart(8, '0')}`;
}

function rankFile(rank: number): string {
  return `rank-${rank}.ckpt`;
}

function manifestFile(rank: number): string {
  return `rank-${rank}.manifest.json`;
}

function sha256(buf: Buffer): string {
  return createHash('sha256').update(buf).digest('hex');
}

async function fsyncDir(dir: string): Promise<void> {
  const h = await open(dir, 'r');
  try {
    await h.sync();
  } finally {
    await h.close();
  }
}

/** What {@link writeCheckpoint} writes. */
export interface CheckpointWrite {
  readonly step: number;
  readonly rank: number;
  readonly worldSize: number;
  readonly tensors: ReadonlyMap<string, Float32Array>;
  readonly meta: unknown;
  /** The configuration the checkpoint belongs to (see {@link CheckpointManifest.configId}). */
  readonly configId?: string;
  /** Complete checkpoints of this configuration kept by pruning. @default DEFAULT_KEEP */
  readonly keep?: number;
}

/** Refuses to overwrite another configuration's file at the same step (two runs sharing one directory). */
async function refuseForeignFile(dir: string, args: CheckpointWrite): Promise<void> {
  const existing = await readManifest(dir, args.rank);
  if (existing === undefined || typeof existing === 'string') return;
  if (existing.configId !== args.configId || existing.worldSize !== args.worldSize) {
    throw new ConfigError(
      `checkpoint ${stepDirName(args.step)} in ${dirname(dir)} already holds rank ${args.rank} of another configuration (${existing.worldSize} ranks, configuration ${String(existing.configId)}); use a fresh --checkpoint-dir`,
    );
  }
}

/**
 * Writes this rank's part of the checkpoint at `step`. Returns the manifest.
 * Rank 0 also prunes old checkpoints of its configuration, never touching
 * the newest complete one.
 */
export async function writeCheckpoint(root: string, args: CheckpointWrite): Promise<CheckpointManifest> {
  const dir = join(root, stepDirName(args.step));
  try {
    await mkdir(dir, { recursive: true });
  } catch (err) {
    throw explainFsError(err, 'create checkpoint directory', dir);
  }
  await refuseForeignFile(dir, args);
  const body = encodeTensorFile(args.tensors, args.meta);
  await writeFileAtomic(join(dir, rankFile(args.rank)), body);
  const manifest: CheckpointManifest = {
    step: args.step,
    rank: args.rank,
    worldSize: args.worldSize,
    ...(args.configId !== undefined ? { configId: args.configId } : {}),
    file: rankFile(args.rank),
    bytes: body.length,
    sha256: sha256(body),
    writtenAt: new Date().toISOString(),
  };
  await writeFileAtomic(join(dir, manifestFile(args.rank)), JSON.stringify(manifest, null, 2));
  await fsyncDir(dir);
  if (args.rank === 0) {
    await pruneCheckpoints(root, { worldSize: args.worldSize, configId: args.configId, keep: args.keep ?? DEFAULT_KEEP, currentStep: args.step });
  }
  return manifest;
}

async function listStepDirs(root: string): Promise<number[]> {
  let names: string[];
  try {
    names = await readdir(root);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw explainFsError(err, 'read checkpoint directory', root);
  }
  return names
    .map((n) => STEP_DIR_RE.exec(n))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
    .sort((a, b) => b - a);
}

/** Rank `rank`'s manifest in `dir`: undefined when absent, a reason string when unreadable. */
async function readManifest(dir: string, rank: number): Promise<CheckpointManifest | string | undefined> {
  try {
    const m = JSON.parse(await readFile(join(dir, manifestFile(rank)), 'utf8')) as CheckpointManifest | null;
    if (m === null || typeof m !== 'object') return `rank ${rank} manifest is unreadable: not an object`;
    return m;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    return `rank ${rank} manifest is unreadable: ${getErrorMessage(err)}`;
  }
}

/**
 * Checks one rank's file against its manifest; returns the reason it is
 * unusable, or undefined. With `head` (rank 0's manifest), the rank must
 * also belong to the same configuration.
 */
async function verifyRank(dir: string, rank: number, worldSize: number, step: number, full: boolean, head?: CheckpointManifest): Promise<string | undefined> {
  const manifest = await readManifest(dir, rank);
  if (manifest === undefined) return `rank ${rank} has not finished writing (no manifest)`;
  if (typeof manifest === 'string') return manifest;
  if (manifest.step !== step || manifest.rank !== rank || manifest.worldSize !== worldSize) {
    return `rank ${rank} manifest is for step ${manifest.step} rank ${manifest.rank} of ${manifest.worldSize}, expected step ${step} rank ${rank} of ${worldSize}`;
  }
  if (head !== undefined && manifest.configId !== head.configId) return `rank ${rank} belongs to configuration ${String(manifest.configId)}, rank 0 to ${String(head.configId)}`;
  const file = join(dir, rankFile(rank));
  try {
    if (!full) {
      const st = await stat(file);
      return st.size === manifest.bytes ? undefined : `${file} is ${st.size} bytes, manifest says ${manifest.bytes}`;
    }
    const body = await readFile(file);
    if (body.length !== manifest.bytes) return `${file} is ${body.length} bytes, manifest says ${manifest.bytes} (truncated)`;
    if (sha256(body) !== manifest.sha256) return `${file} fails its SHA-256 checksum (corrupted)`;
  } catch (err) {
    return `${file} is unreadable: ${getErrorMessage(err)}`;
  }
  return undefined;
}

/** Verifies every rank of the checkpoint at `step` (ring size and configuration from rank 0's manifest). */
async function verifyStep(root: string, step: number): Promise<CheckpointRef | string> {
  const dir = join(root, stepDirName(step));
  const head = await readManifest(dir, 0);
  if (head === undefined) return 'rank 0 has not finished writing (no manifest)';
  if (typeof head === 'string') return head;
  if (!Number.isInteger(head.worldSize) || head.worldSize < 1) return `rank 0 manifest has an invalid ring size ${JSON.stringify(head.worldSize)}`;
  for (let r = 0; r < head.worldSize; r++) {
    const reason = await verifyRank(dir, r, head.worldSize, step, true, head);
    if (reason !== undefined) return reason;
  }
  return { step, dir, worldSize: head.worldSize, ...(head.configId !== undefined ? { configId: head.configId } : {}) };
}

/**
 * Every complete, checksum-verified checkpoint, newest first, whatever ring
 * size and configuration wrote it, plus the ones skipped and why (so callers
 * can report corruption, and refuse another configuration's checkpoint
 * instead of silently starting over next to it).
 */
export async function listCheckpoints(root: string): Promise<{ complete: CheckpointRef[]; skipped: SkippedCheckpoint[] }> {
  const complete: CheckpointRef[] = [];
  const skipped: SkippedCheckpoint[] = [];
  for (const step of await listStepDirs(root)) {
    const got = await verifyStep(root, step);
    if (typeof got === 'string') skipped.push({ step, reason: got });
    else complete.push(got);
  }
  return { complete, skipped };
}

/** Complete, checksum-verified checkpoints for a ring of `worldSize`, newest first, plus the ones skipped and why. */
export async function listCompleteCheckpoints(root: string, worldSize: number): Promise<{ complete: CheckpointRef[]; skipped: SkippedCheckpoint[] }> {
  const all = await listCheckpoints(root);
  const others = all.complete.filter((c) => c.worldSize !== worldSize).map((c) => ({ step: c.step, reason: `written by a ring of ${c.worldSize} ranks, not ${worldSize}` }));
  return {
    complete: all.complete.filter((c) => c.worldSize === worldSize),
    skipped: [...all.skipped, ...others].sort((a, b) => b.step - a.step),
  };
}

/** Reads rank `rank`'s file of a complete checkpoint (verifying its checksum again). */
export async function readCheckpoint<M = unknown>(ref: CheckpointRef, rank: number, worldSize: number): Promise<TensorFileContents<M>> {
  const reason = await verifyRank(ref.dir, rank, worldSize, ref.step, true);
  if (reason !== undefined) throw new DataError(`checkpoint at step ${ref.step} is not usable: ${reason}`);
  const file = join(ref.dir, rankFile(rank));
  return decodeTensorFile<M>(await readFile(file), file);
}

/**
 * The newest step every rank can load, given each rank's list of complete
 * steps (e.g. gathered over the ring); undefined when there is none.
 */
export function chooseCommonStep(perRank: readonly (readonly number[])[]): number | undefined {
  if (perRank.length === 0) return undefined;
  const common = perRank.slice(1).reduce((acc, steps) => acc.filter((s) => steps.includes(s)), [...perRank[0]!]);
  return common.length === 0 ? undefined : Math.max(...common);
}

/** What {@link pruneCheckpoints} may delete. */
export interface PruneOptions {
  /** Ring size of the pruning run. */
  readonly worldSize: number;
  /** Configuration of the pruning run; only its own checkpoints are ever deleted. */
  readonly configId?: string | undefined;
  /** Complete checkpoints of this configuration to keep. */
  readonly keep: number;
  /**
   * The step the pruning rank has just written. No rank of the ring can be
   * writing a later one (the next step's all-reduce needs this rank), so a
   * later directory of this configuration is a leftover (e.g. a run
   * restarted from an older checkpoint, or a stray `step-99999999`).
   */
  readonly currentStep?: number;
}

const MANIFEST_RE = /^rank-\d+\.manifest\.json$/;

/** Whether a step directory holds a readable manifest of another configuration or ring size. */
async function isForeign(dir: string, o: PruneOptions): Promise<boolean> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return false;
  }
  for (const name of names.filter((n) => MANIFEST_RE.test(n))) {
    try {
      const m = JSON.parse(await readFile(join(dir, name), 'utf8')) as Partial<CheckpointManifest> | null;
      if (m !== null && typeof m === 'object' && (m.configId !== o.configId || m.worldSize !== o.worldSize)) return true;
    } catch {
      // An unreadable manifest belongs to nobody who could use it.
    }
  }
  return false;
}

/**
 * Deletes this configuration's checkpoints older than its `keep` newest
 * complete ones, and its leftovers newer than `currentStep`. Incomplete
 * checkpoints between the newest complete one and `currentStep` are left
 * alone: another rank may still be writing them. Directories holding another
 * configuration's or ring size's manifests are never touched.
 */
export async function pruneCheckpoints(root: string, o: PruneOptions): Promise<number[]> {
  const steps = await listStepDirs(root);
  const ours: number[] = [];
  const completeSteps: number[] = [];
  for (const step of steps) {
    const dir = join(root, stepDirName(step));
    if (await isForeign(dir, o)) continue;
    ours.push(step);
    let ok = true;
    for (let r = 0; r < o.worldSize && ok; r++) ok = (await verifyRank(dir, r, o.worldSize, step, false)) === undefined;
    if (ok) completeSteps.push(step);
  }
  const oldestKept = completeSteps.length >= o.keep ? completeSteps[o.keep - 1]! : -1;
  const removed: number[] = [];
  for (const step of ours) {
    if (step < oldestKept || (o.currentStep !== undefined && step > o.currentStep)) {
      await rm(join(root, stepDirName(step)), { recursive: true, force: true });
      removed.push(step);
    }
  }
  return removed;
}
