/** Reading user-provided dataset files from `--data-dir`, with errors that name the file. */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzip } from 'node:zlib';
import { promisify } from 'node:util';
import { DataError, getErrorMessage } from '../../common/errors.js';

const gunzipAsync = promisify(gunzip);

/** Fails with a DataError unless `dir` is an existing directory. */
export async function checkDataDir(dir: string, dataset: string): Promise<void> {
  let isDir: boolean;
  try {
    isDir = (await stat(dir)).isDirectory();
  } catch (err) {
    throw new DataError(`data directory ${dir} for dataset ${dataset} does not exist or cannot be read: ${getErrorMessage(err)}`, err);
  }
  if (!isDir) throw new DataError(`data directory ${dir} for dataset ${dataset} is not a directory`);
}

/**
 * Reads the first of `names` that exists in `dir`, also trying each with a
 * `.gz` suffix (gunzipped). Returns the bytes and the path read, for messages.
 */
export async function readDataFile(dir: string, names: readonly string[]): Promise<{ bytes: Buffer; path: string }> {
  for (const name of names) {
    for (const gz of [false, true]) {
      const path = join(dir, gz ? `${name}.gz` : name);
      let bytes: Buffer;
      try {
        bytes = await readFile(path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw new DataError(`${path}: cannot read: ${getErrorMessage(err)}`, err);
      }
      if (!gz) return { bytes, path };
      try {
        return { bytes: await gunzipAsync(bytes), path };
      } catch (err) {
        throw new DataError(`${path}: not a valid gzip file: ${getErrorMessage(err)}`, err);
      }
    }
  }
  throw new DataError(`${join(dir, names[0]!)}: missing file (also tried ${names.flatMap((n) => [n, `${n}.gz`]).join(', ')} in ${dir})`);
}
