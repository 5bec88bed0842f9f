/**
 * On-disk cache of parsed built-in datasets (see cache-format.ts for the
 * bytes). Directory order: `$DAT_CACHE_DIR` or `~/.cache/dat-operator/datasets`,
 * then `os.tmpdir()` (a pod's root FS may be read-only), then no cache.
 * Writes go to a unique temp file renamed into place, so worker processes
 * starting together never see a half-written entry (the last rename wins,
 * and every writer writes the same bytes).
 */
import { mkdir, readFile, readdir, rename, unlink, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Logger } from '../../common/log.js';
import { getErrorMessage } from '../../common/errors.js';
import { CACHE_DIR_ENV, HOME_CACHE_SUBDIR, TMP_CACHE_SUBDIR } from './constants.js';
import { decodeCache, encodeCache } from './cache-format.js';
import type { RawImages } from './raw-images.js';

/** File suffix of cache entries. */
export const CACHE_SUFFIX = '.datds';

/** Inputs of {@link resolveCacheDirs}, injectable for tests. */
export interface CacheDirInputs {
  /** Explicit directory (tests, callers); `null` disables the cache. */
  readonly cacheDir?: string | null;
  readonly env?: NodeJS.ProcessEnv;
  readonly home?: string;
  readonly tmp?: string;
}

/** Candidate cache directories, most preferred first (pure). */
export function resolveCacheDirs(inputs: CacheDirInputs = {}): string[] {
  if (inputs.cacheDir === null) return [];
  const env = inputs.env ?? process.env;
  const tmp = join(inputs.tmp ?? tmpdir(), TMP_CACHE_SUBDIR);
  let primary = inputs.cacheDir ?? env[CACHE_DIR_ENV];
  if (primary === undefined || primary === '') {
    const home = inputs.home ?? homedir();
    // No home (some containers run with HOME unset): only the temp dir is left.
    if (home === '') return [tmp];
    primary = join(home, ...HOME_CACHE_SUBDIR);
  }
  return primary === tmp ? [tmp] : [primary, tmp];
}

/**
 * Returns the first valid entry named `fileName` among `dirs`. A corrupt or
 * stale entry is logged, removed (best effort) and skipped, so the caller
 * rebuilds it.
 */
export async function readCache(dirs: readonly string[], fileName: string, fingerprint: string, log: Logger): Promise<{ raw: RawImages; path: string } | undefined> {
  for (const dir of dirs) {
    const path = join(dir, fileName);
    let buf: Buffer;
    try {
      buf = await readFile(path);
    } catch {
      continue; // Absent or unreadable: a miss here, try the next directory.
    }
    const res = decodeCache(buf, fingerprint);
    if (res.ok) return { raw: res.raw, path };
    log.warn('Discarded invalid dataset cache entry', { path, reason: res.reason });
    await unlink(path).catch(() => undefined);
  }
  return undefined;
}

/**
 * Writes an entry to the first directory that accepts it (atomic rename) and
 * returns its path, or `undefined` (logged) when none is writable.
 */
export async function writeCache(dirs: readonly string[], fileName: string, raw: RawImages, fingerprint: string, log: Logger): Promise<string | undefined> {
  if (dirs.length === 0) return undefined;
  const bytes = encodeCache(raw, fingerprint);
  for (const dir of dirs) {
    const path = join(dir, fileName);
    const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    try {
      await mkdir(dir, { recursive: true });
      await writeFile(tmp, bytes);
      await rename(tmp, path);
      return path;
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      log.warn('Skipped unwritable dataset cache directory', { dir, reason: getErrorMessage(err) });
    }
  }
  log.warn('Disabled dataset cache: no writable directory', { tried: dirs.join(',') });
  return undefined;
}

/**
 * Removes the other entries of the same dataset (names matching
 * `sameDataset`) next to `keepPath` (left by
 * an older package version or format): 55 MB each for fashion-mnist.
 * Best effort: a failure only leaves a stale file behind.
 */
export async function pruneCache(keepPath: string, sameDataset: RegExp, log: Logger): Promise<void> {
  const dir = dirname(keepPath);
  const keep = basename(keepPath);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return;
  }
  for (const name of names) {
    if (name === keep || !sameDataset.test(name)) continue;
    await unlink(join(dir, name)).then(
      () => log.info('Removed stale dataset cache entry', { path: join(dir, name) }),
      () => undefined,
    );
  }
}
