/**
 * Property tests of the dataset readers against hostile files: every prefix
 * (truncation) and seeded random mutations of valid IDX, CIFAR-10 and cache
 * files. The property: a reader either returns data consistent with its own
 * header (sizes match, labels in range) or throws a DataError naming the
 * file; never another exception, never a hang. The cache decoder never throws
 * at all: it reports why the bytes cannot be trusted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { parseCifarBatch } from '../../../worker/data/cifar10.js';
import { parseIdxImages, parseIdxLabels, readMnistIdx } from '../../../worker/data/idx.js';
import { decodeCache, encodeCache } from '../../../worker/data/cache-format.js';
import { IDX_FILES } from '../../../worker/data/constants.js';
import { DataError } from '../../../common/errors.js';
import { Rng } from '../../../worker/util/rng.js';
import { buildCifarBatch, buildIdxImages, buildIdxLabels, makeDataDir, removeDir } from '../../fixtures/data/dataset-files.js';

/** Mutations per reader: enough to hit every header field many times, well under a second each. */
const MUTATIONS = 400;
const FILE = 'fuzz-input';

/** One seeded mutation of `src`: flipped bits, random bytes, a hostile header word, a cut or an append. */
function mutate(src: Buffer, rng: Rng): Buffer {
  const b = Buffer.from(src);
  switch (rng.nextInt(5)) {
    case 0: {
      for (let k = 1 + rng.nextInt(4); k > 0; k--) b[rng.nextInt(b.length)]! ^= 1 << rng.nextInt(8);
      return b;
    }
    case 1: {
      for (let k = 1 + rng.nextInt(8); k > 0; k--) b[rng.nextInt(b.length)] = rng.nextInt(256);
      return b;
    }
    case 2: {
      // Header words are where parsers go wrong: lengths and counts at their extremes.
      const extremes = [0, 1, 0x7fffffff, 0x80000000, 0xffffffff, rng.nextUint32()];
      const at = 4 * rng.nextInt(Math.min(16, Math.floor(b.length / 4)));
      b.writeUInt32BE(extremes[rng.nextInt(extremes.length)]!, at);
      return b;
    }
    case 3:
      return b.subarray(0, rng.nextInt(b.length));
    default:
      return Buffer.concat([b, Buffer.from(Array.from({ length: 1 + rng.nextInt(64) }, () => rng.nextInt(256)))]);
  }
}

/** Runs `read`; a throw must be a DataError naming the file, a result must pass `check`. */
function expectDataErrorOrValid<T>(what: string, read: () => T, check: (v: T) => void): 'ok' | 'error' {
  let v: T;
  try {
    v = read();
  } catch (err) {
    assert.ok(err instanceof DataError, `${what}: expected a DataError, got ${(err as Error)?.name}: ${(err as Error)?.message}`);
    assert.match(err.message, new RegExp(FILE), `${what}: the error names the file`);
    return 'error';
  }
  check(v);
  return 'ok';
}

const readers = [
  {
    name: 'IDX images',
    valid: buildIdxImages(5, 4, 3),
    read: (b: Buffer) => parseIdxImages(b, FILE),
    check: (v: ReturnType<typeof parseIdxImages>) => assert.equal(v.pixels.length, v.n * v.rows * v.cols),
  },
  {
    name: 'IDX labels',
    valid: buildIdxLabels(20),
    read: (b: Buffer) => parseIdxLabels(b, FILE),
    check: (v: Uint8Array) => assert.ok(v.length > 0 && v.every((l) => l < 10)),
  },
  {
    name: 'CIFAR-10 batch',
    valid: buildCifarBatch(2),
    read: (b: Buffer) => parseCifarBatch(b, FILE),
    check: (v: ReturnType<typeof parseCifarBatch>) => {
      assert.equal(v.pixels.length, v.n * 32 * 32 * 3);
      assert.ok(v.labels.every((l) => l < 10));
    },
  },
] as const;

for (const r of readers) {
  test(`${r.name}: every truncation is a DataError naming the file`, () => {
    for (let len = 0; len < r.valid.length; len += Math.max(1, Math.floor(r.valid.length / 300))) {
      // Labels and CIFAR records have no trailer: a cut at a record boundary is a valid shorter file (but not for IDX, whose header has the count).
      const outcome = expectDataErrorOrValid(`${r.name} cut at ${len}`, () => r.read(r.valid.subarray(0, len)), r.check as (v: unknown) => void);
      if (r.name !== 'CIFAR-10 batch') assert.equal(outcome, 'error', `${r.name} cut at ${len} must fail`);
    }
  });

  test(`${r.name}: random mutations give a DataError or consistent data, never a crash`, () => {
    const rng = new Rng(0xda7 + r.name.length);
    let errors = 0;
    for (let i = 0; i < MUTATIONS; i++) {
      if (expectDataErrorOrValid(`${r.name} mutation ${i}`, () => r.read(mutate(r.valid, rng)), r.check as (v: unknown) => void) === 'error') errors++;
    }
    // The mutations are hostile enough to matter: most of them must be caught.
    assert.ok(errors > MUTATIONS / 4, `${r.name}: only ${errors} of ${MUTATIONS} mutations were rejected`);
  });
}

test('dataset cache: truncations and mutations are reported, never thrown, never trusted', () => {
  const raw = { n: 6, shape: [3, 3, 1] as const, pixels: Uint8Array.from({ length: 54 }, (_, i) => i), labels: Uint8Array.from([0, 1, 2, 3, 4, 5]) };
  const valid = encodeCache(raw, 'fp');
  for (let len = 0; len < valid.length; len++) assert.equal(decodeCache(valid.subarray(0, len), 'fp').ok, false, `cut at ${len}`);
  const rng = new Rng(7);
  let trusted = 0;
  for (let i = 0; i < MUTATIONS; i++) {
    const m = mutate(valid, rng);
    const res = decodeCache(m, 'fp');
    // The checksum covers the payload and every header field is checked: whatever decodes is the original
    // data (a mutation of the reserved header bytes is harmless).
    if (res.ok) {
      assert.deepEqual([res.raw.n, [...res.raw.shape], [...res.raw.pixels], [...res.raw.labels]], [raw.n, [...raw.shape], [...raw.pixels], [...raw.labels]], `mutation ${i} was trusted`);
      trusted++;
    } else {
      assert.ok(res.reason.length > 0);
    }
  }
  assert.ok(trusted < MUTATIONS / 4, `${trusted} of ${MUTATIONS} mutations decoded`);
});

test('readMnistIdx: a truncated or corrupt gzip file is a DataError naming it', async () => {
  const images = gzipSync(buildIdxImages(4, 2, 2));
  const cases = [
    { name: 'truncated gzip', bytes: images.subarray(0, images.length - 9), want: /train-images-idx3-ubyte\.gz: not a valid gzip file/ },
    { name: 'garbage gzip', bytes: Buffer.from('definitely not gzip'), want: /train-images-idx3-ubyte\.gz: not a valid gzip file/ },
    { name: 'gzip of a corrupt file', bytes: gzipSync(buildIdxImages(4, 2, 2).subarray(0, 20)), want: /train-images-idx3-ubyte\.gz: truncated/ },
  ];
  for (const c of cases) {
    const dir = await makeDataDir({
      [`${IDX_FILES.trainImages}.gz`]: c.bytes,
      [IDX_FILES.trainLabels]: buildIdxLabels(4),
      [IDX_FILES.testImages]: buildIdxImages(4, 2, 2),
      [IDX_FILES.testLabels]: buildIdxLabels(4),
    });
    try {
      await assert.rejects(readMnistIdx(dir), (err: Error) => {
        assert.ok(err instanceof DataError, `${c.name}: ${err.name}`);
        assert.match(err.message, c.want, c.name);
        assert.ok(err.message.includes(join(dir, IDX_FILES.trainImages)), c.name);
        return true;
      });
    } finally {
      await removeDir(dir);
    }
  }
});
