/**
 * Checks that a directory the run must write to (`--output`, the checkpoint
 * volume) can be written, before any training, and turns file-system errors
 * into messages that say what is wrong with the path.
 *
 * A path that can never work (read-only volume, no permission, a file where a
 * directory must be) is a {@link ConfigError}: exit code 2, no gang restart.
 * Anything else (a full disk, an I/O error) may pass, so it stays retryable.
 */
import { randomUUID } from 'node:crypto';
import { access, constants, mkdir, rm, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { ConfigError, DatError, getErrorMessage } from '../../common/errors.js';
import { writeFileAtomic } from './atomic-file.js';

/** errno codes for which retrying cannot help, with what they mean for a path. */
const PERMANENT_CODES: Readonly<Record<string, string>> = {
  EROFS: 'read-only file system',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOTDIR: 'a component of the path is a file, not a directory',
  EEXIST: 'a file exists where a directory is needed',
  EISDIR: 'a directory exists where a file is needed',
  ENAMETOOLONG: 'the path is too long',
  ELOOP: 'too many symbolic links in the path',
};

/** errno codes that can pass, with a readable name. */
const TRANSIENT_CODES: Readonly<Record<string, string>> = {
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EIO: 'I/O error',
};

function errnoCode(err: unknown): string | undefined {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * `err` from an operation on `path` as a typed error: permanent codes (and
 * invalid path arguments) become a ConfigError, everything else a retryable
 * DatError. `what` names the operation, e.g. `write checkpoint directory`.
 */
export function explainFsError(err: unknown, what: string, path: string): DatError {
  const code = errnoCode(err);
  if (code !== undefined && code in PERMANENT_CODES) return new ConfigError(`cannot ${what} ${path}: ${PERMANENT_CODES[code]} (${code})`, err);
  // Node rejects paths with NUL bytes before any system call: no retry can fix the path.
  if (code === 'ERR_INVALID_ARG_VALUE' || code === 'ERR_INVALID_ARG_TYPE') return new ConfigError(`cannot ${what} ${JSON.stringify(path)}: invalid path`, err);
  const why = code !== undefined && code in TRANSIENT_CODES ? `${TRANSIENT_CODES[code]} (${code})` : getErrorMessage(err);
  return new DatError(`cannot ${what} ${path}: ${why}`, { retryable: true, cause: err });
}

/**
 * Why `dir` cannot be created when mkdir said ENOENT: a recursive mkdir on a
 * read-only or foreign-owned volume can report ENOENT for a parent instead of
 * the real cause, so look at the nearest existing ancestor.
 */
async function diagnoseMissing(dir: string, original: unknown): Promise<unknown> {
  let p = resolve(dir);
  for (;;) {
    const parent = dirname(p);
    if (parent === p) return original;
    p = parent;
    try {
      const st = await stat(p);
      if (!st.isDirectory()) return Object.assign(new Error(`${p} is not a directory`), { code: 'ENOTDIR' });
      await access(p, constants.W_OK);
      return original;
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') continue;
      return err;
    }
  }
}

/**
 * Creates `dir` if needed and proves it writable by writing and removing a
 * probe file; throws {@link explainFsError}'s error naming `role` (e.g.
 * `output directory (--output)`) otherwise.
 */
export async function ensureWritableDir(dir: string, role: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
  } catch (err) {
    const cause = errnoCode(err) === 'ENOENT' ? await diagnoseMissing(dir, err) : err;
    throw explainFsError(cause, `create ${role}`, dir);
  }
  // Ranks in pods share a volume and often a pid (1): a random part keeps their probes apart.
  const probe = join(dir, `.dat-write-probe-${process.pid}-${randomUUID()}`);
  try {
    await writeFileAtomic(probe, 'probe\n', { durable: false });
    await rm(probe, { force: true });
  } catch (err) {
    throw explainFsError(err, `write to ${role}`, dir);
  }
}
