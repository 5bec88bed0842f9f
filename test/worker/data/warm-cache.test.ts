import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runEntry, type EntryRun } from '../../support/run-entry.js';
import { loadBuiltinRaw } from '../../../worker/data/builtin-datasets.js';
import { silentLogger } from '../../../common/log.js';
import { removeDir } from '../../fixtures/data/dataset-files.js';

const run = (args: readonly string[], cacheDir: string): Promise<EntryRun> => runEntry('worker/data/warm-cache', args, { env: { ...process.env, DAT_CACHE_DIR: cacheDir } });

test('worker processes starting at once share one valid cache entry', async (t) => {
  const cacheDir = await mkdtemp(join(tmpdir(), 'dat-warm-test-'));
  t.after(() => removeDir(cacheDir));
  // Three processes race to build the same entry: each renames a complete temp file into place.
  const runs = await Promise.all([0, 1, 2].map(() => run(['mnist'], cacheDir)));
  for (const r of runs) assert.equal(r.code, 0, r.stderr);
  const names = await readdir(cacheDir);
  assert.equal(names.length, 1, `one entry, no temp files left: ${names.join(',')}`);
  assert.match(names[0]!, /^mnist-[0-9a-f]{8}\.datds$/);
  const hit = await loadBuiltinRaw('mnist', [cacheDir], silentLogger);
  assert.equal(hit.fromCache, true);
  assert.equal(hit.raw.n, 10_000);
  const again = await run(['mnist'], cacheDir);
  const line = JSON.parse(again.stdout.trim()) as { fromCache: boolean; n: number };
  assert.deepEqual({ fromCache: line.fromCache, n: line.n }, { fromCache: true, n: 10_000 });
});

test('warm-cache rejects an unknown dataset with exit code 2', async () => {
  const r = await run(['cifar10'], tmpdir());
  assert.equal(r.code, 2);
  assert.match(r.stderr, /Rejected unknown built-in dataset .*dataset=cifar10/);
});
