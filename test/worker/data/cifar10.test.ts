import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readCifar10, parseCifarBatch } from '../../../worker/data/cifar10.js';
import { loadDataset } from '../../../worker/data/load-dataset.js';
import { DataError } from '../../../common/errors.js';
import { silentLogger } from '../../../common/log.js';
import { buildCifarBatch, makeDataDir, pixelAt, removeDir } from '../../fixtures/data/dataset-files.js';

const PER_BATCH = 3;
const TEST_N = 4;
const TRAIN_FILES = ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin'];

function validFiles(): Record<string, Buffer> {
  const files: Record<string, Buffer> = {};
  TRAIN_FILES.forEach((f, b) => (files[f] = buildCifarBatch(PER_BATCH, b * PER_BATCH)));
  files['test_batch.bin'] = buildCifarBatch(TEST_N, 100);
  return files;
}

test('parseCifarBatch converts channel-major records to HWC', () => {
  const raw = parseCifarBatch(buildCifarBatch(2), 'b.bin');
  assert.equal(raw.n, 2);
  assert.deepEqual(raw.shape, [32, 32, 3]);
  // Image 1, row 5, column 7, each channel.
  const p = 5 * 32 + 7;
  for (let c = 0; c < 3; c++) assert.equal(raw.pixels[1 * 3072 + p * 3 + c], pixelAt(1, p, c), `channel ${c}`);
  assert.deepEqual([...raw.labels], [0, 3]);
});

test('readCifar10 reads the five train batches in order and the test batch', async () => {
  const dir = await makeDataDir(validFiles());
  try {
    const { train, test: t } = await readCifar10(dir);
    assert.equal(train.n, 5 * PER_BATCH);
    assert.equal(t.n, TEST_N);
    assert.deepEqual([...train.labels], Array.from({ length: 15 }, (_, i) => (i * 3) % 10));
    // The first image of batch 3 is global image 6.
    assert.equal(train.pixels[6 * 3072 + 2], pixelAt(6, 0, 2));
  } finally {
    await removeDir(dir);
  }
});

test('loadDataset cifar10 finds the tarball folder and gives [0,1] floats', async () => {
  const dir = await makeDataDir({});
  try {
    await mkdir(join(dir, 'cifar-10-batches-bin'));
    for (const [name, bytes] of Object.entries(validFiles())) await writeFile(join(dir, 'cifar-10-batches-bin', name), bytes);
    const ds = await loadDataset({ dataset: 'cifar10', dataDir: dir, limit: 10, seed: 1, log: silentLogger });
    assert.deepEqual(ds.inputShape, [32, 32, 3]);
    assert.equal(ds.numClasses, 10);
    assert.equal(ds.train.n, 10);
    assert.equal(ds.test.n, TEST_N);
    assert.equal(ds.test.x[(1 * 1024 + 33) * 3 + 1], Math.fround(pixelAt(101, 33, 1) / 255));
    assert.ok(ds.train.x.every((v) => v >= 0 && v <= 1));
  } finally {
    await removeDir(dir);
  }
});

interface BadCase {
  readonly name: string;
  readonly edit: (files: Record<string, Buffer>) => void;
  readonly file: string;
  readonly problem: RegExp;
}

const BAD_CASES: readonly BadCase[] = [
  { name: 'missing test batch', edit: (f) => delete f['test_batch.bin'], file: 'test_batch.bin', problem: /missing file/ },
  { name: 'missing train batch 4', edit: (f) => delete f['data_batch_4.bin'], file: 'data_batch_4.bin', problem: /missing file/ },
  {
    name: 'truncated record',
    edit: (f) => (f['data_batch_2.bin'] = f['data_batch_2.bin']!.subarray(0, 2 * 3073 + 100)),
    file: 'data_batch_2.bin',
    problem: new RegExp(`truncated: expected ${3 * 3073} bytes \\(3 records of 3073\\) got ${2 * 3073 + 100}`),
  },
  { name: 'empty file', edit: (f) => (f['test_batch.bin'] = Buffer.alloc(0)), file: 'test_batch.bin', problem: /empty file/ },
  {
    name: 'label out of range',
    edit: (f) => {
      const b = Buffer.from(f['data_batch_1.bin']!);
      b[2 * 3073] = 10;
      f['data_batch_1.bin'] = b;
    },
    file: 'data_batch_1.bin',
    problem: /label 10 out of range \[0, 10\) in record 2/,
  },
];

for (const c of BAD_CASES) {
  test(`readCifar10 rejects: ${c.name}`, async () => {
    const files = validFiles();
    c.edit(files);
    const dir = await makeDataDir(files);
    try {
      await assert.rejects(readCifar10(dir), (err: unknown) => {
        assert.ok(err instanceof DataError, `want DataError, got ${String(err)}`);
        assert.ok(err.message.includes(join(dir, c.file)), `message should name ${c.file}: ${err.message}`);
        assert.match(err.message, c.problem);
        return true;
      });
    } finally {
      await removeDir(dir);
    }
  });
}

test('readCifar10 rejects a data dir that is a file', async () => {
  const dir = await makeDataDir({ 'x.bin': Buffer.alloc(1) });
  try {
    await assert.rejects(readCifar10(join(dir, 'x.bin')), /x\.bin for dataset cifar10 is not a directory/);
  } finally {
    await removeDir(dir);
  }
});
