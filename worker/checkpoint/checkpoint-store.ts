/**
 * Checkpoints on a shared directory (the job's checkpoint volume).
 *
 * Layout: `<dir>/step-<00000000>/rank-<r>.ckpt` plus `rank-<r>.manifest.json`.
 * Rank 0's file holds the model, optimizer state and run position; every rank's
 * file holds its own compression residuals. A checkpoint is complete when all
 * `worldSize` manifests exist and every file matches its manifest's size and
 * SHA-256: a crash mid-write leaves an incomplete checkpoint that readers skip,
 * and the previous complete one is kept until a newer one is complete.
 *
 * Each write is atomic: temp file, fsync, rename, fsync of the directory; the
 * manifest is written last, so its presence implies the data file is durable.
 */
import { createHash } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DataError, getErrorMessage } from '../util/errors.js';
import { decodeTensorFile, encodeTensorFile, type TensorFileContents } from './tensor-file.js';

const STEP_DIR_RE = /^step-(\d{8,})$/;
/** Complete checkpoints kept by pruning: the newest and its predecessor. */
export const DEFAULT_KEEP = 2;

/** What a rank records about its own file. */
export interface CheckpointManifest {
  readonly step: number;
  readonly rank: number;
  readonly worldSize: number;
  readonly file: string;
  readonly bytes: number;
  readonly sha256: string;
  readonly writtenAt: string;
}

/** A complete checkpoint found on disk. */
export interface CheckpointRef {
  readonly step: number;
  readonly dir: string;
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

/** Writes `data` to `path` atomically and durably. */
export async function writeFileAtomic(path: string, data: Buffer | string): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}-${Date.now()}`;
  const h = await open(tmp, 'w');
  try {
    await h.writeFile(data);
    await h.sync();
  } finally {
    await h.close();
  }
  await rename(tmp, path);
}

/**
 * Writes this rank's part of the checkpoint at `step`. Returns the manifest.
 * Rank 0 also prunes old checkpoints, never touching the newest complete one.
 */
export async function writeCheckpoint(
  root: string,
  args: { step: number; rank: number; worldSize: number; tensors: ReadonlyMap<string, Float32Array>; meta: unknown; keep?: number },
): Promise<CheckpointManifest> {
  const dir = join(root, stepDirName(args.step));
  await mkdir(dir, { recursive: true });
  const body = encodeTensorFile(args.tensors, args.meta);
  await writeFileAtomic(join(dir, rankFile(args.rank)), body);
  const manifest: CheckpointManifest = {
    step: args.step,
    rank: args.rank,
    worldSize: args.worldSize,
    file: rankFile(args.rank),
    bytes: body.length,
    sha256: sha256(body),
    writtenAt: new Date().toISOString(),
  };
  await writeFileAtomic(join(dir, manifestFile(args.rank)), JSON.stringify(manifest, null, 2));
  await fsyncDir(dir);
  if (args.rank === 0) await pruneCheckpoints(root, args.worldSize, args.keep ?? DEFAULT_KEEP);
  return manifest;
}

async function listStepDirs(root: string): Promise<number[]> {
  let names: string[];
  try {
    names = await readdir(root);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new DataError(`cannot read checkpoint directory ${root}: ${getErrorMessage(err)}`, err);
  }
  return names
    .map((n) => STEP_DIR_RE.exec(n))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
    .sort((a, b) => b - a);
}

/** Checks one rank's file against its manifest; returns the reason it is unusable, or undefined. */
async function verifyRank(dir: string, rank: number, worldSize: number, step: number, full: boolean): Promise<string | undefined> {
  let manifest: CheckpointManifest;
  try {
    manifest = JSON.parse(await readFile(join(dir, manifestFile(rank)), 'utf8')) as CheckpointManifest;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? `rank ${rank} has not finished writing (no manifest)` : `rank ${rank} manifest is unreadable: ${getErrorMessage(err)}`;
  }
  if (manifest.step !== step || manifest.rank !== rank || manifest.worldSize !== worldSize) {
    return `rank ${rank} manifest is for step ${manifest.step} rank ${manifest.rank} of ${manifest.worldSize}, expected step ${step} rank ${rank} of ${worldSize}`;
  }
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

/**
 * Complete, checksum-verified checkpoints for a ring of `worldSize`, newest
 * first, plus the ones skipped and why (so callers can report corruption).
 */
export async function listCompleteCheckpoints(root: string, worldSize: number): Promise<{ complete: CheckpointRef[]; skipped: SkippedCheckpoint[] }> {
  const complete: CheckpointRef[] = [];
  const skipped: SkippedCheckpoint[] = [];
  for (const step of await listStepDirs(root)) {
    const dir = join(root, stepDirName(step));
    let reason: string | undefined;
    for (let r = 0; r < worldSize && reason === undefined; r++) reason = await verifyRank(dir, r, worldSize, step, true);
    if (reason === undefined) complete.push({ step, dir });
    else skipped.push({ step, reason });
  }
  return { complete, skipped };
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

/**
 * Deletes checkpoints older than the `keep` newest complete ones. Incomplete
 * checkpoints newer than the newest complete one are left alone: another rank
 * may still be writing them.
 */
export async function pruneCheckpoints(root: string, worldSize: number, keep: number): Promise<number[]> {
  const steps = await listStepDirs(root);
  const completeSteps: number[] = [];
  for (const step of steps) {
    const dir = join(root, stepDirName(step));
    let ok = true;
    for (let r = 0; r < worldSize && ok; r++) ok = (await verifyRank(dir, r, worldSize, step, false)) === undefined;
    if (ok) completeSteps.push(step);
  }
  if (completeSteps.length < keep) return [];
  const oldestKept = completeSteps[keep - 1]!;
  const removed: number[] = [];
  for (const step of steps) {
    if (step < oldestKept) {
      await rm(join(root, stepDirName(step)), { recursive: true, force: true });
      removed.push(step);
    }
  }
  return removed;
}
