/** Names, magic numbers and fixed seeds of the data layer, in one place. */

/** Dataset ids this layer loads (mirrors `DATASETS` in common/contract.ts). */
export const DATASET_IDS = {
  mnist: 'mnist',
  fashionMnist: 'fashion-mnist',
  mnistIdx: 'mnist-idx',
  cifar10: 'cifar10',
} as const;

/** Environment variable that overrides the dataset cache directory. */
export const CACHE_DIR_ENV = 'DAT_CACHE_DIR';
/** Cache location under `$HOME` when {@link CACHE_DIR_ENV} is unset. */
export const HOME_CACHE_SUBDIR = ['.cache', 'dat-operator', 'datasets'] as const;
/** Fallback cache folder under `os.tmpdir()` (read-only root FS in a pod). */
export const TMP_CACHE_SUBDIR = 'dat-operator-datasets';

/**
 * Seed of the built-in datasets' held-out selection. Fixed on purpose (not
 * the run's `--seed`): runs with different seeds are then evaluated on the
 * same test images, and `--limit` never moves an image across the split.
 */
export const HOLDOUT_SEED = 0x5eed_7e57;

/** Purpose tag mixed into the run seed for the labeled/unlabeled split. */
export const UNLABELED_SEED_TAG = 0x0b1a_be15;

/** Purpose tag mixed into the run seed for the order of the unlabelled pool's batches. */
export const UNLABELED_ORDER_SEED_TAG = 0x0b1a_0bde;

/** Label given to examples whose label was removed. */
export const UNLABELED = -1;

/** Classes of every dataset this layer loads. */
export const NUM_CLASSES = 10;

/**
 * Examples in each built-in dataset before the held-out split (the operator
 * checks a job's global batch against them before it creates any pod).
 */
export const BUILTIN_EXAMPLES = { mnist: 10_000, 'fashion-mnist': 70_000 } as const;

/** Built-in MNIST: 10,000 digits, 2,000 held out by default. */
export const MNIST_DEFAULT_TEST_SIZE = 2000;
/** Built-in Fashion-MNIST: the standard 60,000 / 10,000 sizes. */
export const FASHION_MNIST_DEFAULT_TEST_SIZE = 10_000;

/** Side of the 28x28 grayscale images of both built-ins. */
export const MNIST_SIDE = 28;

/** IDX file names (`t10k` is the test split), as published with MNIST. */
export const IDX_FILES = {
  trainImages: 'train-images-idx3-ubyte',
  trainLabels: 'train-labels-idx1-ubyte',
  testImages: 't10k-images-idx3-ubyte',
  testLabels: 't10k-labels-idx1-ubyte',
} as const;
/** IDX magic: two zero bytes, type 0x08 (unsigned byte), then the number of dimensions. */
export const IDX_MAGIC = { images: 0x0000_0803, labels: 0x0000_0801 } as const;

/** CIFAR-10 binary version: file names and record layout. */
export const CIFAR10 = {
  trainFiles: ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin'],
  testFile: 'test_batch.bin',
  /** The folder the official tarball extracts into; looked for inside `--data-dir` too. */
  subdir: 'cifar-10-batches-bin',
  side: 32,
  channels: 3,
  /** 1 label byte + 3 x 32 x 32 pixel bytes (channel-major: all R, then G, then B). */
  recordBytes: 3073,
} as const;
