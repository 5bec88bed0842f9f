/**
 * The images of `--unlabeled-data SOURCE`, as an unlabelled pool (every
 * label {@link UNLABELED}). SOURCE is one of:
 *
 * - a built-in dataset id (`mnist`, `fashion-mnist`): its training images,
 *   never its held-out ones. When it is the run's own `--dataset`, the pool
 *   is the training images past `--limit` (the labelled ones are the first
 *   `--limit`), so "10,000 labelled plus the other 50,000" is
 *   `--dataset fashion-mnist --limit 10000 --unlabeled-data fashion-mnist`.
 *   Their class (the JSON file they come from) is dropped.
 * - a directory: every `*idx3-ubyte` file (IDX images, optionally `.gz`) or,
 *   failing that, every `*.bin` file (CIFAR-10 binary records), in name
 *   order. Test files (`t10k-*`, `test_batch.bin`) are skipped, so a
 *   dataset's own test images never enter training. Label files are not
 *   opened, and the label byte of a CIFAR record is skipped unread.
 *
 * Errors name the flag: a missing directory, a directory with no image
 * files, an empty pool, images of another shape than the model's input.
 */
import { readdir, stat } from 'node:fs/promises';
import type { Logger } from '../../common/log.js';
import { ConfigError, DatError, getErrorMessage } from '../../common/errors.js';
import { loadBuiltinRaw, type BuiltinId } from './builtin-datasets.js';
import { CIFAR10, DATASET_IDS, UNLABELED } from './constants.js';
import { readDataFile } from './data-files.js';
import { resolveCacheDirs } from './dataset-cache.js';
import { computeHoldout } from './holdout.js';
import { parseIdxImages } from './idx.js';
import { defaultTestSize } from './load-dataset.js';
import type { Split } from './types.js';

const FLAG = '--unlabeled-data';

/** Options of {@link loadUnlabeledPool}. */
export interface UnlabeledPoolOptions {
  /** The value of `--unlabeled-data`. */
  readonly source: string;
  /** The run's `--dataset`, `--limit` and `--test-size` (a built-in SOURCE equal to the dataset excludes what the run already uses). */
  readonly dataset: string;
  readonly limit?: number;
  readonly testSize?: number;
  /** The model's input [h, w, c]: the pool must match it. */
  readonly inputShape: readonly [number, number, number];
  readonly log: Logger;
  /** Cache directory of the built-ins; `null` disables the cache. */
  readonly cacheDir?: string | null;
}

/** Bytes of images in NHWC order, as read from the source. */
interface PoolImages {
  readonly n: number;
  readonly shape: readonly [number, number, number];
  readonly pixels: Uint8Array;
  /** Where they came from, for logs. */
  readonly from: string;
}

const BUILTINS: readonly string[] = [DATASET_IDS.mnist, DATASET_IDS.fashionMnist];

/** Loads the unlabelled pool of `--unlabeled-data` (see the module comment). */
export async function loadUnlabeledPool(opts: UnlabeledPoolOptions): Promise<Split> {
  const images = BUILTINS.includes(opts.source) ? await builtinImages(opts) : await directoryImages(opts.source);
  if (images.n === 0) throw new ConfigError(`${FLAG} ${opts.source}: the source holds no images (${images.from})`);
  const [h, w, c] = opts.inputShape;
  if (images.shape[0] !== h || images.shape[1] !== w || images.shape[2] !== c) {
    throw new ConfigError(`${FLAG} ${opts.source}: images are ${images.shape.join('x')} but the model takes ${h}x${w}x${c} (dataset ${opts.dataset})`);
  }
  const pool = toUnlabeledSplit(images);
  opts.log.info('Loaded unlabeled pool', { source: opts.source, n: pool.n, shape: images.shape.join('x'), from: images.from });
  return pool;
}

/** Float images in [0, 1] with every label {@link UNLABELED}. */
export function toUnlabeledSplit(images: Pick<PoolImages, 'n' | 'pixels'>): Split {
  const x = new Float32Array(images.pixels.length);
  for (let i = 0; i < x.length; i++) x[i] = images.pixels[i]! / 255;
  return { n: images.n, x, y: new Int32Array(images.n).fill(UNLABELED) };
}

/** A built-in's training images; past `--limit` when it is the run's own dataset. */
async function builtinImages(opts: UnlabeledPoolOptions): Promise<PoolImages> {
  const id = opts.source as BuiltinId;
  const { raw } = await loadBuiltinRaw(id, resolveCacheDirs({ cacheDir: opts.cacheDir }), opts.log);
  const own = id === opts.dataset;
  // The run's own held-out split (same size, same fixed seed as loadDataset), so no test image is ever in the pool.
  const holdout = computeHoldout(raw.n, own ? (opts.testSize ?? defaultTestSize(id)) : defaultTestSize(id));
  const skip = own ? Math.min(opts.limit ?? holdout.train.length, holdout.train.length) : 0;
  const idx = holdout.train.subarray(skip);
  const size = raw.shape[0] * raw.shape[1] * raw.shape[2];
  const pixels = new Uint8Array(idx.length * size);
  for (let i = 0; i < idx.length; i++) pixels.set(raw.pixels.subarray(idx[i]! * size, (idx[i]! + 1) * size), i * size);
  const from = own ? `${id} training images past the first ${skip} (the labelled ones)` : `${id} training images`;
  return { n: idx.length, shape: raw.shape, pixels, from };
}

/** Every IDX image file of `dir`, else every CIFAR-10 binary file, in name order (test files skipped). */
async function directoryImages(dir: string): Promise<PoolImages> {
  const names = await listDir(dir);
  // `x` and `x.gz` are one file to readDataFile.
  const idx = [...new Set(names.filter((n) => /idx3-ubyte(\.gz)?$/.test(n) && !n.startsWith('t10k')).map((n) => n.replace(/\.gz$/, '')))];
  if (idx.length > 0) return concatImages(await Promise.all(idx.map((n) => readIdxImages(dir, n))), dir);
  const bins = names.filter((n) => n.endsWith('.bin') && n !== CIFAR10.testFile);
  if (bins.length > 0) return concatImages(await Promise.all(bins.map((n) => readCifarImages(dir, n))), dir);
  throw new ConfigError(`${FLAG} ${dir}: no IDX image files (*idx3-ubyte[.gz]) or CIFAR-10 binary files (*.bin) in the directory; test files (t10k-*, ${CIFAR10.testFile}) are skipped`);
}

/** The directory's file names, sorted; a missing path is a ConfigError naming the flag. */
async function listDir(dir: string): Promise<string[]> {
  let isDir: boolean;
  try {
    isDir = (await stat(dir)).isDirectory();
  } catch (err) {
    throw new ConfigError(`${FLAG} ${dir}: not a built-in dataset id (${BUILTINS.join(', ')}) and no such directory: ${getErrorMessage(err)}`, err);
  }
  if (!isDir) throw new ConfigError(`${FLAG} ${dir}: not a directory`);
  return (await readdir(dir)).sort();
}

async function readIdxImages(dir: string, name: string): Promise<PoolImages> {
  const f = await readDataFile(dir, [name]);
  // parseIdxImages refuses a zero count as corrupt; here it is an empty source, reported as such by the caller.
  if (f.bytes.length >= 16 && f.bytes.readUInt32BE(0) === 0x0803 && f.bytes.readUInt32BE(4) === 0) {
    return { n: 0, shape: [f.bytes.readUInt32BE(8), f.bytes.readUInt32BE(12), 1], pixels: new Uint8Array(0), from: f.path };
  }
  try {
    const img = parseIdxImages(f.bytes, f.path);
    return { n: img.n, shape: [img.rows, img.cols, 1], pixels: img.pixels, from: f.path };
  } catch (err) {
    throw flagError(err);
  }
}

/** One CIFAR-10 binary file's images (HWC); the label byte of each record is skipped, never read. */
async function readCifarImages(dir: string, name: string): Promise<PoolImages> {
  const f = await readDataFile(dir, [name]);
  const rec = CIFAR10.recordBytes;
  if (f.bytes.length % rec !== 0) throw new ConfigError(`${FLAG}: ${f.path}: ${f.bytes.length} bytes is not a whole number of ${rec}-byte CIFAR-10 records`);
  const n = f.bytes.length / rec;
  const plane = CIFAR10.side * CIFAR10.side;
  const ch = CIFAR10.channels;
  const pixels = new Uint8Array(n * plane * ch);
  for (let i = 0; i < n; i++) {
    const base = i * rec + 1;
    for (let c = 0; c < ch; c++) {
      for (let p = 0; p < plane; p++) pixels[i * plane * ch + p * ch + c] = f.bytes[base + c * plane + p]!;
    }
  }
  return { n, shape: [CIFAR10.side, CIFAR10.side, ch], pixels, from: f.path };
}

function concatImages(parts: readonly PoolImages[], dir: string): PoolImages {
  const shape = parts[0]!.shape;
  for (const p of parts) {
    if (p.shape.join('x') !== shape.join('x')) throw new ConfigError(`${FLAG} ${dir}: ${p.from} holds ${p.shape.join('x')} images but ${parts[0]!.from} holds ${shape.join('x')}`);
  }
  const n = parts.reduce((a, p) => a + p.n, 0);
  const pixels = new Uint8Array(parts.reduce((a, p) => a + p.pixels.length, 0));
  let at = 0;
  for (const p of parts) {
    pixels.set(p.pixels, at);
    at += p.pixels.length;
  }
  return { n, shape, pixels, from: parts.map((p) => p.from).join(', ') };
}

/** A data error about one of the source's files, with the flag named. */
function flagError(err: unknown): DatError {
  return new ConfigError(`${FLAG}: ${getErrorMessage(err)}`, err);
}
