/**
 * loadUnlabeledPool on real files and the real built-ins: which images a
 * source gives, that labels are never read (label files and CIFAR label
 * bytes are garbage here), and errors that name --unlabeled-data.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { ConfigError } from '../../../common/errors.js';
import { silentLogger } from '../../../common/log.js';
import { CIFAR10, MNIST_DEFAULT_TEST_SIZE, UNLABELED } from '../../../worker/data/constants.js';
import { loadDataset } from '../../../worker/data/load-dataset.js';
import { loadUnlabeledPool, type UnlabeledPoolOptions } from '../../../worker/data/unlabeled-source.js';

const MNIST_SHAPE = [28, 28, 1] as const;
const CIFAR_SHAPE = [32, 32, 3] as const;

/** An IDX3 image file of `n` images of rows x cols; image i's pixels are all `i % 256`. */
function idxImages(n: number, rows: number, cols: number): Buffer {
  const b = Buffer.alloc(16 + n * rows * cols);
  b.writeUInt32BE(0x0803, 0);
  b.writeUInt32BE(n, 4);
  b.writeUInt32BE(rows, 8);
  b.writeUInt32BE(cols, 12);
  for (let i = 0; i < n; i++) b.fill(i % 256, 16 + i * rows * cols, 16 + (i + 1) * rows * cols);
  return b;
}

/** CIFAR-10 records whose label byte is 255 (not a class: a reader that looked at it would refuse the file). */
function cifarRecords(n: number): Buffer {
  const b = Buffer.alloc(n * CIFAR10.recordBytes);
  for (let i = 0; i < n; i++) {
    b[i * CIFAR10.recordBytes] = 255;
    b.fill(i + 1, i * CIFAR10.recordBytes + 1, (i + 1) * CIFAR10.recordBytes);
  }
  return b;
}

let root: string;
const opts = (source: string, o: Partial<UnlabeledPoolOptions> = {}): UnlabeledPoolOptions => ({ source, dataset: 'mnist-idx', inputShape: MNIST_SHAPE, log: silentLogger, ...o });

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'dat-unlabeled-src-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

async function dirWith(name: string, files: Record<string, Buffer>): Promise<string> {
  const dir = join(root, name);
  await mkdir(dir, { recursive: true });
  for (const [f, b] of Object.entries(files)) await writeFile(join(dir, f), b);
  return dir;
}

describe('loadUnlabeledPool: directories', () => {
  it('reads every IDX image file in name order (gzipped too), skips t10k test files and never opens label files', async () => {
    const dir = await dirWith('idx', {
      'a-images-idx3-ubyte': idxImages(3, 28, 28),
      'train-images-idx3-ubyte.gz': gzipSync(idxImages(5, 28, 28)),
      't10k-images-idx3-ubyte': idxImages(7, 28, 28),
      // Not an IDX file at all: reading it would fail.
      'train-labels-idx1-ubyte': Buffer.from('not labels'),
    });
    const pool = await loadUnlabeledPool(opts(dir));
    assert.equal(pool.n, 8);
    assert.equal(pool.x.length, 8 * 784);
    assert.ok(pool.y.every((y) => y === UNLABELED));
    // a-images first (0, 1, 2), then train-images (0..4).
    assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 7].map((i) => Math.round(pool.x[i * 784]! * 255)), [0, 1, 2, 0, 1, 2, 3, 4]);
  });

  it('reads CIFAR-10 binary files without reading the label byte, skipping test_batch.bin', async () => {
    const dir = await dirWith('cifar', { 'data_batch_1.bin': cifarRecords(2), 'extra.bin': cifarRecords(1), [CIFAR10.testFile]: cifarRecords(4) });
    const pool = await loadUnlabeledPool(opts(dir, { inputShape: CIFAR_SHAPE, dataset: 'cifar10' }));
    assert.equal(pool.n, 3);
    assert.deepEqual([0, 1, 2].map((i) => Math.round(pool.x[i * 3072]! * 255)), [1, 2, 1]);
  });
});

describe('loadUnlabeledPool: built-in ids', () => {
  it('the run\'s own dataset gives its training images past --limit, never a held-out one', { timeout: 60_000 }, async () => {
    const limit = 500;
    const pool = await loadUnlabeledPool(opts('mnist', { dataset: 'mnist', limit }));
    assert.equal(pool.n, 10_000 - MNIST_DEFAULT_TEST_SIZE - limit);
    const ds = await loadDataset({ dataset: 'mnist', seed: 1, log: silentLogger });
    const key = (x: Float32Array, i: number): string => Buffer.from(x.buffer, x.byteOffset + i * 784 * 4, 784 * 4).toString('base64');
    // The held-out images are not in ds.train at all, and the first `limit` are the labelled ones.
    const rest = new Set(Array.from({ length: ds.train.n - limit }, (_, i) => key(ds.train.x, limit + i)));
    for (let i = 0; i < pool.n; i++) assert.ok(rest.has(key(pool.x, i)), `pool image ${i} is not a training image past --limit`);
    assert.equal(new Set(Array.from({ length: pool.n }, (_, i) => key(pool.x, i))).size, rest.size, 'and every one of them is in the pool');
  });

  it('another built-in gives its training images', { timeout: 60_000 }, async () => {
    const pool = await loadUnlabeledPool(opts('mnist', { dataset: 'fashion-mnist', limit: 100 }));
    assert.equal(pool.n, 10_000 - MNIST_DEFAULT_TEST_SIZE);
  });
});

describe('loadUnlabeledPool: errors name --unlabeled-data', () => {
  const cases: { name: string; setup: () => Promise<UnlabeledPoolOptions>; want: RegExp }[] = [
    { name: 'missing directory', setup: async () => opts(join(root, 'nope')), want: /--unlabeled-data .*nope: not a built-in dataset id \(mnist, fashion-mnist\) and no such directory/ },
    { name: 'a file, not a directory', setup: async () => (await writeFile(join(root, 'plain'), 'x'), opts(join(root, 'plain'))), want: /--unlabeled-data .*plain: not a directory/ },
    { name: 'a directory without image files', setup: async () => opts(await dirWith('none', { 'readme.txt': Buffer.from('hi') })), want: /--unlabeled-data .*none: no IDX image files/ },
    { name: 'an empty source (IDX file of 0 images)', setup: async () => opts(await dirWith('empty', { 'train-images-idx3-ubyte': idxImages(0, 28, 28) })), want: /--unlabeled-data .*empty: the source holds no images/ },
    { name: 'an empty source (the run\'s own built-in with every image labelled)', setup: async () => opts('mnist', { dataset: 'mnist', limit: 8000 }), want: /--unlabeled-data mnist: the source holds no images/ },
    { name: 'images of another shape than the model', setup: async () => opts(await dirWith('shape', { 'train-images-idx3-ubyte': idxImages(2, 32, 32) })), want: /--unlabeled-data .*shape: images are 32x32x1 but the model takes 28x28x1/ },
    { name: 'CIFAR images for an MNIST model', setup: async () => opts(await dirWith('cifar-for-mnist', { 'data_batch_1.bin': cifarRecords(1) })), want: /images are 32x32x3 but the model takes 28x28x1/ },
    { name: 'a corrupt IDX file', setup: async () => opts(await dirWith('corrupt', { 'train-images-idx3-ubyte': idxImages(2, 28, 28).subarray(0, 100) })), want: /--unlabeled-data: .*train-images-idx3-ubyte: truncated/ },
    { name: 'a truncated CIFAR file', setup: async () => opts(await dirWith('cifar-trunc', { 'data_batch_1.bin': cifarRecords(1).subarray(1) }), { inputShape: CIFAR_SHAPE }), want: /--unlabeled-data: .*data_batch_1\.bin: 3072 bytes is not a whole number/ },
  ];
  for (const c of cases) {
    it(c.name, { timeout: 60_000 }, async () => {
      const o = await c.setup();
      await assert.rejects(loadUnlabeledPool(o), (err: unknown) => {
        assert.ok(err instanceof ConfigError, `want a ConfigError, got ${String(err)}`);
        assert.match(err.message, c.want);
        return true;
      });
    });
  }
});
