/**
 * One stateful part of a run, as a checkpoint sees it: a key, `save()` and
 * `load()`. The checkpoint is generic over the parts registered for a run
 * (worker/train/state/register-parts.ts): saving iterates them, restoring
 * checks each saved part with the part's own `check` and then loads it. A
 * new piece of state is one part and one registration, not an edit to the
 * file format.
 *
 * In a file, part `key`'s tensor `name` is stored as `key/name`, and the
 * meta records each part's tensor names explicitly, so decoding never splits
 * names by prefix.
 */
import { DataError, getErrorMessage } from '../../common/errors.js';

/** What one part saves: named tensors and JSON. */
export interface SavedPart {
  /** JSON-serializable; absent when the part keeps only tensors. */
  readonly meta?: unknown;
  readonly tensors: ReadonlyMap<string, Float32Array>;
}

/**
 * Who holds a part. `run`: one copy for the whole ring, written by rank 0 and
 * loaded by every rank (weights, optimizer, loop position). `rank`: each rank
 * writes and loads its own (compression memories, BatchNorm statistics).
 */
export const PART_SCOPES = { run: 'run', rank: 'rank' } as const;
export type PartScope = (typeof PART_SCOPES)[keyof typeof PART_SCOPES];

/** A stateful part of a run (see the module comment). */
export interface CheckpointPart {
  /** Unique among a run's parts; also the tensor name prefix in the file. */
  readonly key: string;
  readonly scope: PartScope;
  /** A checkpoint without this part cannot be resumed (weights); otherwise the part keeps its fresh state. @default false */
  readonly required?: boolean;
  /** The state to write; undefined when there is nothing to save on this rank. */
  save(): SavedPart | undefined | Promise<SavedPart | undefined>;
  /**
   * Why `saved` cannot be loaded (undefined: it can). Checks the saved data
   * against itself only, never against the live run: a checkpoint of another
   * configuration must reach the configuration check and be refused there,
   * not be skipped here as damaged.
   */
  check?(saved: SavedPart): string | undefined;
  /** Replaces the part's state with `saved` (already checked). */
  load(saved: SavedPart): void;
}

/** How a file's meta lists its parts: each part's scope, JSON and tensor names. */
export type PartIndex = Readonly<Record<string, { readonly scope: PartScope; readonly meta?: unknown; readonly tensors: readonly string[] }>>;

/** A part as read back from a file. */
export interface DecodedPart extends SavedPart {
  readonly scope: PartScope;
}

/** What {@link saveParts} returns: each saved part with its scope. */
export type SavedParts = ReadonlyMap<string, DecodedPart>;

/** Saves every part in `parts` (in order) that has something to save. */
export async function saveParts(parts: readonly CheckpointPart[]): Promise<Map<string, DecodedPart>> {
  const out = new Map<string, DecodedPart>();
  for (const part of parts) {
    if (out.has(part.key)) throw new RangeError(`checkpoint part ${part.key} is registered twice`);
    const saved = await part.save();
    if (saved !== undefined) out.set(part.key, { ...saved, scope: part.scope });
  }
  return out;
}

/** Flattens saved parts into one tensor map (`key/name`) and the index the meta records. */
export function encodeParts(saved: SavedParts): { tensors: Map<string, Float32Array>; index: PartIndex } {
  const tensors = new Map<string, Float32Array>();
  const index: Record<string, { scope: PartScope; meta?: unknown; tensors: string[] }> = {};
  for (const [key, part] of saved) {
    for (const [name, arr] of part.tensors) tensors.set(`${key}/${name}`, arr);
    index[key] = { scope: part.scope, ...(part.meta !== undefined ? { meta: part.meta } : {}), tensors: [...part.tensors.keys()] };
  }
  return { tensors, index };
}

/** Rebuilds the saved parts of a file from its index; a listed tensor that is absent is a DataError. */
export function decodeParts(index: PartIndex, tensors: ReadonlyMap<string, Float32Array>, file: string): Map<string, DecodedPart> {
  if (index === null || typeof index !== 'object') throw new DataError(`checkpoint ${file} is malformed: its part index is missing`);
  const out = new Map<string, DecodedPart>();
  for (const [key, entry] of Object.entries(index)) {
    if (!Array.isArray(entry?.tensors)) throw new DataError(`checkpoint ${file} is malformed: part ${key} lists no tensors`);
    if (entry.scope !== PART_SCOPES.run && entry.scope !== PART_SCOPES.rank) throw new DataError(`checkpoint ${file} is malformed: part ${key} has scope ${String(entry.scope)}`);
    const own = new Map<string, Float32Array>();
    for (const name of entry.tensors) {
      const arr = tensors.get(`${key}/${name}`);
      if (arr === undefined) throw new DataError(`checkpoint ${file} is inconsistent: ${key}/${name} is missing`);
      own.set(name, arr);
    }
    out.set(key, { scope: entry.scope, ...(entry.meta !== undefined ? { meta: entry.meta } : {}), tensors: own });
  }
  return out;
}

/**
 * Runs each registered part's own check on what `saved` holds for it, and
 * refuses a file that lacks a required part. Throws a DataError naming the
 * file; saved parts no registered part claims are left to the caller.
 */
export function checkParts(parts: readonly CheckpointPart[], saved: ReadonlyMap<string, SavedPart>, file: string): void {
  for (const part of parts) {
    const got = saved.get(part.key);
    if (got === undefined) {
      if (part.required === true) throw new DataError(`checkpoint ${file} is not a complete training checkpoint: ${part.key} is missing`);
      continue;
    }
    const reason = checkOne(part, got);
    if (reason !== undefined) throw new DataError(`checkpoint ${file} is inconsistent: ${part.key}: ${reason}`);
  }
}

/** A part's check, where a check that throws on garbage counts as a reason, not a crash. */
function checkOne(part: CheckpointPart, saved: SavedPart): string | undefined {
  try {
    return part.check?.(saved);
  } catch (err) {
    return getErrorMessage(err);
  }
}

/** Loads each part that `saved` holds, in registration order; returns the saved keys no part claimed. */
export function loadParts(parts: readonly CheckpointPart[], saved: ReadonlyMap<string, SavedPart>): string[] {
  for (const part of parts) {
    const got = saved.get(part.key);
    if (got !== undefined) part.load(got);
  }
  const known = new Set(parts.map((p) => p.key));
  return [...saved.keys()].filter((k) => !known.has(k));
}
