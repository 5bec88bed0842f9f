import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { readMnistIdx, parseIdxImages } from '../../../worker/data/idx.js';
import { loadDataset } from '../../../worker/data/load-dataset.js';
import { DataError, ConfigError } from '../../../common/errors.js';
import { silentLogger } from '../../../common/log.js';
import { buildIdxImages, buildIdxLabels, makeDataDir, pixelAt, removeDir } from '../../fixtures/data/dataset-files.js';

const TRAIN_N = 12;
const TEST_N = 5;

function validFiles(): Record<string, Buffer> {
  return {
    'train-images-idx3-ubyte': buildIdxImages(TRAIN_N, 28, 28),
    'train-labels-idx1-ubyte': buildIdxLabels(TRAIN_N),
    't10k-images-idx3-ubyte': buildIdxImages(TEST_N, 28, 28),
    't10k-labels-idx1-ubyte': buildIdxLabels(TEST_N),
  };
}

function withHeaderU32(buf: Buffer, offset: number, value: number): Buffer {
  const b = Buffer.from(buf);
  b.writeUInt32BE(value, offset);
  return b;
}

test('readMnistIdx reads a valid set of plain files', async () => {
  const dir = await makeDataDir(validFiles());
  try {
    const { train, test: t } = await readMnistIdx(dir);
    assert.equal(train.n, TRAIN_N);
    assert.equal(t.n, TEST_N);
    assert.deepEqual(train.shape, [28, 28, 1]);
    assert.equal(train.pixels[3 * 784 + 100], pixelAt(3, 100));
    assert.deepEqual([...train.labels], Array.from({ length: TRAIN_N }, (_, i) => i % 10));
  } finally {
    await removeDir(dir);
  }
});

test('readMnistIdx reads gzipped files and the dotted file-name spelling', async () => {
  const files = validFiles();
  const dir = await makeDataDir({
    'train-images-idx3-ubyte.gz': gzipSync(files['train-images-idx3-ubyte']!),
    'train-labels.idx1-ubyte': files['train-labels-idx1-ubyte']!,
    't10k-images-idx3-ubyte.gz': gzipSync(files['t10k-images-idx3-ubyte']!),
    't10k-labels-idx1-ubyte.gz': gzipSync(files['t10k-labels-idx1-ubyte']!),
  });
  try {
    const { train, test: t } = await readMnistIdx(dir);
    assert.equal(train.n, TRAIN_N);
    assert.equal(t.pixels[2 * 784 + 5], pixelAt(2, 5));
  } finally {
    await removeDir(dir);
  }
});

test('loadDataset mnist-idx gives float splits and honours limit and testSize', async () => {
  const dir = await makeDataDir(validFiles());
  try {
    const ds = await loadDataset({ dataset: 'mnist-idx', dataDir: dir, limit: 7, testSize: 3, seed: 1, log: silentLogger });
    assert.equal(ds.train.n, 7);
    assert.equal(ds.test.n, 3);
    assert.deepEqual(ds.inputShape, [28, 28, 1]);
    assert.equal(ds.train.x.length, 7 * 784);
    assert.equal(ds.train.x[5 * 784 + 9], Math.fround(pixelAt(5, 9) / 255));
    assert.deepEqual([...ds.test.y], [0, 1, 2]);
    await assert.rejects(loadDataset({ dataset: 'mnist-idx', seed: 1, log: silentLogger }), ConfigError);
  } finally {
    await removeDir(dir);
  }
});

interface BadCase {
  readonly name: string;
  /** Edits the valid file set (mutates it). */
  readonly edit: (files: Record<string, Buffer>) => void;
  /** The file the message must name. */
  readonly file: string;
  readonly problem: RegExp;
}

const BAD_CASES: readonly BadCase[] = [
  { name: 'missing images file', edit: (f) => delete f['train-images-idx3-ubyte'], file: 'train-images-idx3-ubyte', problem: /missing file/ },
  { name: 'missing test labels', edit: (f) => delete f['t10k-labels-idx1-ubyte'], file: 't10k-labels-idx1-ubyte', problem: /missing file/ },
  {
    name: 'images with the labels magic',
    edit: (f) => (f['train-images-idx3-ubyte'] = withHeaderU32(f['train-images-idx3-ubyte']!, 0, 0x801)),
    file: 'train-images-idx3-ubyte',
    problem: /bad magic 0x00000801, expected 0x00000803/,
  },
  {
    name: 'labels with a garbage magic',
    edit: (f) => (f['train-labels-idx1-ubyte'] = withHeaderU32(f['train-labels-idx1-ubyte']!, 0, 0x1f8b0800)),
    file: 'train-labels-idx1-ubyte',
    problem: /bad magic 0x1f8b0800/,
  },
  {
    name: 'zero rows',
    edit: (f) => (f['train-images-idx3-ubyte'] = withHeaderU32(f['train-images-idx3-ubyte']!, 8, 0)),
    file: 'train-images-idx3-ubyte',
    problem: /wrong dims 12x0x28/,
  },
  {
    name: 'truncated images',
    edit: (f) => (f['t10k-images-idx3-ubyte'] = f['t10k-images-idx3-ubyte']!.subarray(0, 16 + 4 * 784 + 10)),
    file: 't10k-images-idx3-ubyte',
    problem: new RegExp(`truncated: expected ${16 + 5 * 784} bytes got ${16 + 4 * 784 + 10}`),
  },
  {
    name: 'truncated header',
    edit: (f) => (f['train-labels-idx1-ubyte'] = f['train-labels-idx1-ubyte']!.subarray(0, 6)),
    file: 'train-labels-idx1-ubyte',
    problem: /truncated: expected at least 8 header bytes got 6/,
  },
  {
    name: 'trailing bytes',
    edit: (f) => (f['train-labels-idx1-ubyte'] = Buffer.concat([f['train-labels-idx1-ubyte']!, Buffer.alloc(3)])),
    file: 'train-labels-idx1-ubyte',
    problem: /expected 20 bytes got 23/,
  },
  {
    name: 'label out of range',
    edit: (f) => (f['train-labels-idx1-ubyte'] = buildIdxLabels(TRAIN_N, [0, 1, 2, 3, 4, 5, 6, 12])),
    file: 'train-labels-idx1-ubyte',
    problem: /label 12 out of range \[0, 10\) at index 7/,
  },
  {
    name: 'count mismatch',
    edit: (f) => (f['train-labels-idx1-ubyte'] = buildIdxLabels(TRAIN_N - 1)),
    file: 'train-labels-idx1-ubyte',
    problem: /count mismatch: 11 labels but .*train-images-idx3-ubyte has 12 images/,
  },
  {
    name: 'test images of another size',
    edit: (f) => (f['t10k-images-idx3-ubyte'] = buildIdxImages(TEST_N, 32, 32)),
    file: '',
    problem: /wrong dims: train images are 28x28 but test images are 32x32/,
  },
  {
    name: 'corrupt gzip',
    edit: (f) => {
      delete f['train-images-idx3-ubyte'];
      f['train-images-idx3-ubyte.gz'] = Buffer.from('not gzip at all');
    },
    file: 'train-images-idx3-ubyte.gz',
    problem: /not a valid gzip file/,
  },
];

for (const c of BAD_CASES) {
  test(`readMnistIdx rejects: ${c.name}`, async () => {
    const files = validFiles();
    c.edit(files);
    const dir = await makeDataDir(files);
    try {
      await assert.rejects(readMnistIdx(dir), (err: unknown) => {
        assert.ok(err instanceof DataError, `want DataError, got ${String(err)}`);
        assert.equal(err.retryable, false);
        assert.ok(err.message.includes(join(dir, c.file)), `message should name ${c.file}: ${err.message}`);
        assert.match(err.message, c.problem);
        return true;
      });
    } finally {
      await removeDir(dir);
    }
  });
}

test('readMnistIdx rejects a missing data directory', async () => {
  await assert.rejects(readMnistIdx('/nonexistent/dat-data'), /data directory \/nonexistent\/dat-data for dataset mnist-idx does not exist/);
});

test('parseIdxImages names the file it was given', () => {
  assert.throws(() => parseIdxImages(new Uint8Array(3), 'some/file'), /^DataError: some\/file: truncated/);
});
