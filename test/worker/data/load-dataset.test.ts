import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadDataset } from '../../../worker/data/load-dataset.js';
import type { Split } from '../../../worker/data/types.js';
import { ConfigError } from '../../../common/errors.js';
import { silentLogger } from '../../../common/log.js';
import { recordingLogger, removeDir } from '../../fixtures/data/dataset-files.js';

const PIXELS = 784;

function imageKey(s: Split, i: number): string {
  return Buffer.from(s.x.buffer, s.x.byteOffset + i * PIXELS * 4, PIXELS * 4).toString('base64');
}

function stats(s: Split): { min: number; max: number; mean: number; classes: number[] } {
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  for (const v of s.x) {
    if (v < min) min = v;
    if (v > max) max = v;
    sum += v;
  }
  const classes = new Array<number>(10).fill(0);
  for (const y of s.y) classes[y]!++;
  return { min, max, mean: sum / s.x.length, classes };
}

function sameFloats(a: Float32Array, b: Float32Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

test('mnist: 8,000 / 2,000 real digits, a fixed held-out set, limit and testSize', async (t) => {
  const cacheDir = await mkdtemp(join(tmpdir(), 'dat-load-test-'));
  t.after(() => removeDir(cacheDir));
  const ds = await loadDataset({ dataset: 'mnist', seed: 1, log: silentLogger, cacheDir });

  await t.test('sizes, shape and value ranges', () => {
    assert.equal(ds.name, 'mnist');
    assert.deepEqual(ds.inputShape, [28, 28, 1]);
    assert.equal(ds.numClasses, 10);
    assert.equal(ds.train.n, 8000);
    assert.equal(ds.test.n, 2000);
    assert.equal(ds.train.x.length, 8000 * PIXELS);
    const s = stats(ds.train);
    assert.equal(s.min, 0);
    assert.equal(s.max, 1);
    // Real MNIST digits: mostly background, mean intensity about 0.13.
    assert.ok(Math.abs(s.mean - 0.1312) < 0.001, `mean ${s.mean}`);
    assert.ok(s.classes.every((c) => c > 600), `every class well represented in train: ${s.classes.join(',')}`);
    assert.ok(stats(ds.test).classes.every((c) => c > 150), 'every class well represented in test');
    // Pinned: the fixed held-out permutation decides these.
    assert.deepEqual([...ds.train.y.subarray(0, 10)], [1, 5, 9, 2, 0, 0, 0, 4, 8, 4]);
    assert.deepEqual([...ds.test.y.subarray(0, 5)], [4, 7, 7, 5, 3]);
  });

  await t.test('no image appears in both train and test', () => {
    const trainKeys = new Set<string>();
    for (let i = 0; i < ds.train.n; i++) trainKeys.add(imageKey(ds.train, i));
    assert.equal(trainKeys.size, 8000);
    for (let i = 0; i < ds.test.n; i++) assert.ok(!trainKeys.has(imageKey(ds.test, i)), `test image ${i} is also in train`);
  });

  await t.test('the split is deterministic and independent of seed and limit', async () => {
    const again = await loadDataset({ dataset: 'mnist', seed: 999, limit: 500, log: silentLogger, cacheDir });
    assert.equal(again.train.n, 500);
    assert.ok(sameFloats(again.test.x, ds.test.x));
    assert.deepEqual(again.test.y, ds.test.y);
    // limit takes the first N of the same training order.
    assert.ok(sameFloats(again.train.x, ds.train.x.subarray(0, 500 * PIXELS)));
    assert.deepEqual(again.train.y, ds.train.y.subarray(0, 500));
  });

  await t.test('testSize overrides the held-out size; a smaller one is a prefix of the default', async () => {
    const small = await loadDataset({ dataset: 'mnist', seed: 1, testSize: 1000, log: silentLogger, cacheDir });
    assert.equal(small.test.n, 1000);
    assert.equal(small.train.n, 9000);
    assert.ok(sameFloats(small.test.x, ds.test.x.subarray(0, 1000 * PIXELS)));
  });

  await t.test('a limit above the training size keeps everything', async () => {
    const all = await loadDataset({ dataset: 'mnist', seed: 1, limit: 1_000_000, log: silentLogger, cacheDir });
    assert.equal(all.train.n, 8000);
  });

  await t.test('bad limit or testSize is a ConfigError', async () => {
    for (const opts of [{ limit: 0 }, { limit: 2.5 }, { testSize: 0 }, { testSize: 10_000 }]) {
      await assert.rejects(loadDataset({ dataset: 'mnist', seed: 1, log: silentLogger, cacheDir, ...opts }), ConfigError, JSON.stringify(opts));
    }
  });
});

test('fashion-mnist: 60,000 / 10,000 real images, two empty entries dropped, parsed once then cached', async (t) => {
  const cacheDir = await mkdtemp(join(tmpdir(), 'dat-load-test-'));
  t.after(() => removeDir(cacheDir));
  const rec = recordingLogger();
  // The one cold parse of fashion-mnist in the suite (about 2 s); everything else reads the cache.
  const cold = await loadDataset({ dataset: 'fashion-mnist', seed: 1, log: rec.log, cacheDir });

  await t.test('sizes, value ranges and the dropped-entries note', () => {
    assert.equal(cold.train.n, 60_000);
    assert.equal(cold.test.n, 10_000);
    assert.deepEqual(cold.inputShape, [28, 28, 1]);
    assert.ok(rec.lines.some((l) => l.includes('Dropped empty entries from built-in dataset') && l.includes('dropped=2') && l.includes('entries=0.json#1000,0.json#7001')), rec.lines.join('\n'));
    assert.ok(rec.lines.some((l) => l.includes('Parsed built-in dataset')));
    const train = stats(cold.train);
    const testStats = stats(cold.test);
    assert.equal(train.min, 0);
    assert.equal(train.max, 1);
    // Real Fashion-MNIST: mean intensity about 0.286; 7,000 images per class in all.
    assert.ok(Math.abs(train.mean - 0.2861) < 0.001, `mean ${train.mean}`);
    assert.deepEqual(
      train.classes.map((c, k) => c + testStats.classes[k]!),
      new Array<number>(10).fill(7000),
    );
    // Values are bytes / 255.
    for (let i = 0; i < 5000; i++) {
      const v = cold.train.x[i * 97]! * 255;
      assert.ok(Math.abs(v - Math.round(v)) < 1e-4, `value ${v / 255} is not a byte / 255`);
    }
  });

  await t.test('a second load hits the cache and gives identical data', async () => {
    const rec2 = recordingLogger();
    const warm = await loadDataset({ dataset: 'fashion-mnist', seed: 1, log: rec2.log, cacheDir });
    assert.ok(rec2.lines.some((l) => l.includes('Loaded dataset') && l.includes('source="cache')), rec2.lines.join('\n'));
    assert.ok(!rec2.lines.some((l) => l.includes('Parsed built-in dataset')));
    assert.ok(sameFloats(warm.train.x, cold.train.x));
    assert.ok(sameFloats(warm.test.x, cold.test.x));
    assert.deepEqual(warm.train.y, cold.train.y);
  });
});
