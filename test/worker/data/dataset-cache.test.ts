import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readCache, resolveCacheDirs, writeCache } from '../../../worker/data/dataset-cache.js';
import type { RawImages } from '../../../worker/data/raw-images.js';
import { silentLogger } from '../../../common/log.js';
import { recordingLogger, removeDir } from '../../fixtures/data/dataset-files.js';

const RAW: RawImages = { n: 2, shape: [1, 3, 1], pixels: Uint8Array.from([1, 2, 3, 4, 5, 6]), labels: Uint8Array.from([7, 8]) };
const FP = 'test-fingerprint';

test('resolveCacheDirs: explicit dir, env, home, then tmp; null disables', () => {
  const cases = [
    { name: 'explicit', in: { cacheDir: '/c', env: { DAT_CACHE_DIR: '/e' }, home: '/h', tmp: '/t' }, want: ['/c', '/t/dat-operator-datasets'] },
    { name: 'env', in: { env: { DAT_CACHE_DIR: '/e' }, home: '/h', tmp: '/t' }, want: ['/e', '/t/dat-operator-datasets'] },
    { name: 'home', in: { env: {}, home: '/h', tmp: '/t' }, want: ['/h/.cache/dat-operator/datasets', '/t/dat-operator-datasets'] },
    { name: 'empty env is unset', in: { env: { DAT_CACHE_DIR: '' }, home: '/h', tmp: '/t' }, want: ['/h/.cache/dat-operator/datasets', '/t/dat-operator-datasets'] },
    { name: 'no home', in: { env: {}, home: '', tmp: '/t' }, want: ['/t/dat-operator-datasets'] },
    { name: 'disabled', in: { cacheDir: null, env: { DAT_CACHE_DIR: '/e' } }, want: [] },
  ];
  for (const c of cases) assert.deepEqual(resolveCacheDirs(c.in), c.want, c.name);
});

test('writeCache falls back past an unwritable directory, and readCache finds the entry there', async () => {
  const root = await mkdtemp(join(tmpdir(), 'dat-cache-test-'));
  try {
    // A directory under a regular file cannot be created, even by root (ENOTDIR), like a read-only root FS.
    await writeFile(join(root, 'file'), 'x');
    const bad = join(root, 'file', 'cache');
    const good = join(root, 'good');
    const rec = recordingLogger();
    const path = await writeCache([bad, good], 'e.datds', RAW, FP, rec.log);
    assert.equal(path, join(good, 'e.datds'));
    assert.ok(rec.lines.some((l) => l.includes('WARN Skipped unwritable dataset cache directory') && l.includes(bad)), rec.lines.join('\n'));
    const hit = await readCache([bad, good], 'e.datds', FP, silentLogger);
    assert.equal(hit?.path, path);
    assert.deepEqual([...hit.raw.labels], [7, 8]);
  } finally {
    await removeDir(root);
  }
});

test('writeCache logs and returns undefined when no directory is writable', async () => {
  const root = await mkdtemp(join(tmpdir(), 'dat-cache-test-'));
  try {
    await writeFile(join(root, 'file'), 'x');
    const rec = recordingLogger();
    assert.equal(await writeCache([join(root, 'file', 'a')], 'e.datds', RAW, FP, rec.log), undefined);
    assert.ok(rec.lines.some((l) => l.includes('WARN Disabled dataset cache: no writable directory')));
    assert.equal(await writeCache([], 'e.datds', RAW, FP, rec.log), undefined);
  } finally {
    await removeDir(root);
  }
});

test('readCache discards a corrupt entry so the caller rebuilds it', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dat-cache-test-'));
  try {
    const path = (await writeCache([dir], 'e.datds', RAW, FP, silentLogger))!;
    const bytes = await readFile(path);
    bytes[bytes.length - 3]! ^= 0xff;
    await writeFile(path, bytes);
    const rec = recordingLogger();
    assert.equal(await readCache([dir], 'e.datds', FP, rec.log), undefined);
    assert.ok(rec.lines.some((l) => l.includes('WARN Discarded invalid dataset cache entry') && l.includes('checksum mismatch')), rec.lines.join('\n'));
    assert.deepEqual(await readdir(dir), [], 'the corrupt entry was removed');
  } finally {
    await removeDir(dir);
  }
});

test('concurrent writers of the same entry leave one valid file and no temp files', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dat-cache-test-'));
  try {
    const paths = await Promise.all(Array.from({ length: 8 }, () => writeCache([dir], 'e.datds', RAW, FP, silentLogger)));
    assert.ok(paths.every((p) => p === join(dir, 'e.datds')));
    assert.deepEqual(await readdir(dir), ['e.datds']);
    assert.ok(await readCache([dir], 'e.datds', FP, silentLogger));
  } finally {
    await removeDir(dir);
  }
});
