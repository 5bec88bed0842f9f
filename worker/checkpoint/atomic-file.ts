/**
 * Atomic file writes shared by checkpoints and the run's outputs: a temp file
 * next to the target, fsync, rename. On any failure the temp file is removed,
 * so a full volume (ENOSPC) is not left fuller by our own debris.
 */
import { open, rename, rm } from 'node:fs/promises';

/** Options of {@link writeFileAtomic}. */
export interface AtomicWriteOptions {
  /** fsync the data before the rename, so a crash never leaves a renamed but empty file. @default true */
  readonly durable?: boolean;
}

/** Suffix of every temp file {@link writeFileAtomic} creates (`<name>.tmp-<pid>-<ms>`). */
export const TEMP_SUFFIX = '.tmp-';

/** Writes `data` to `path` atomically (and durably unless told otherwise); never leaves its temp file behind. */
export async function writeFileAtomic(path: string, data: Buffer | Uint8Array | string, opts: AtomicWriteOptions = {}): Promise<void> {
  const tmp = `${path}${TEMP_SUFFIX}${process.pid}-${Date.now()}`;
  try {
    const h = await open(tmp, 'w');
    try {
      await h.writeFile(data);
      if (opts.durable !== false) await h.sync();
    } finally {
      await h.close();
    }
    await rename(tmp, path);
  } catch (err) {
    // Best effort: the original error is what the caller needs to see.
    await rm(tmp, { force: true }).catch(() => undefined);
    throw err;
  }
}
