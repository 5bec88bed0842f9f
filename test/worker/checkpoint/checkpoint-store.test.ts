import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, truncate, writeFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  chooseCommonStep,
  listCheckpoints,
  listCompleteCheckpoints,
  readCheckpoint,
  stepDirName,
  writeCheckpoint,
  writeFileAtomic,
} from '../../../worker/checkpoint/checkpoint-store.js';
import { ConfigError } from '../../../common/errors.js';

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'ckpt-test-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function tensors(seed: number): Map<string, Float32Array> {
  return new Map([
    ['w', Float32Array.from({ length: 7 }, (_, i) => seed + i * 0.5)],
    ['b', Float32Array.from([seed, -seed])],
  ]);
}

async function writeAllRanks(dir: string, step: number, worldSize: number): Promise<void> {
  for (let r = worldSize - 1; r >= 0; r--) {
    await writeCheckpoint(dir, { step, rank: r, worldSize, tensors: tensors(step + r), meta: { step, rank: r } });
  }
}

test('a complete checkpoint round-trips every rank\'s tensors and metadata', async () => {
  await withDir(async (dir) => {
    await writeAllRanks(dir, 10, 3);
    const { complete, skipped } = await listCompleteCheckpoints(dir, 3);
    assert.deepEqual(complete.map((c) => c.step), [10]);
    assert.deepEqual(skipped, []);
    for (let r = 0; r < 3; r++) {
      const got = await readCheckpoint<{ step: number; rank: number }>(complete[0]!, r, 3);
      assert.deepEqual(got.meta, { step: 10, rank: r });
      assert.deepEqual([...got.tensors.get('w')!], [...tensors(10 + r).get('w')!]);
      assert.deepEqual([...got.tensors.get('b')!], [...tensors(10 + r).get('b')!]);
    }
  });
});

test('an incomplete or damaged newest checkpoint is skipped with a reason and the previous one is used', async () => {
  const cases = [
    {
      name: 'a rank never wrote its manifest',
      damage: async (d: string) => rm(join(d, 'rank-1.manifest.json')),
      want: /rank 1 has not finished writing/,
    },
    { name: 'truncated data file', damage: async (d: string) => truncate(join(d, 'rank-0.ckpt'), 20), want: /truncated/ },
    {
      name: 'flipped byte',
      damage: async (d: string) => {
        const p = join(d, 'rank-1.ckpt');
        const b = await readFile(p);
        b[b.length - 1] = b[b.length - 1]! ^ 0xff;
        await writeFile(p, b);
      },
      want: /checksum \(corrupted\)/,
    },
    { name: 'garbage manifest', damage: async (d: string) => writeFile(join(d, 'rank-0.manifest.json'), '{not json'), want: /manifest is unreadable/ },
  ];
  for (const c of cases) {
    await withDir(async (dir) => {
      await writeAllRanks(dir, 5, 2);
      await writeAllRanks(dir, 9, 2);
      await c.damage(join(dir, stepDirName(9)));
      const { complete, skipped } = await listCompleteCheckpoints(dir, 2);
      assert.deepEqual(complete.map((x) => x.step), [5], c.name);
      assert.equal(skipped.length, 1, c.name);
      assert.match(skipped[0]!.reason, c.want, c.name);
    });
  }
});

test('pruning keeps the two newest complete checkpoints and any newer in-progress one', async () => {
  await withDir(async (dir) => {
    for (const s of [1, 2, 3]) await writeAllRanks(dir, s, 2);
    // Step 4: only rank 1 has written (rank 0 writes last and prunes).
    await writeCheckpoint(dir, { step: 4, rank: 1, worldSize: 2, tensors: tensors(4), meta: {} });
    assert.deepEqual((await readdir(dir)).sort(), [stepDirName(2), stepDirName(3), stepDirName(4)]);
  });
});

test('chooseCommonStep picks the newest step every rank has', () => {
  const cases = [
    { name: 'agree', in: [[9, 5], [9, 5]], want: 9 },
    { name: 'one rank lost the newest', in: [[9, 5], [5]], want: 5 },
    { name: 'nothing in common', in: [[9], [5]], want: undefined },
    { name: 'no ranks', in: [], want: undefined },
  ];
  for (const c of cases) assert.equal(chooseCommonStep(c.in), c.want, c.name);
});

/** Writes a complete checkpoint of `worldSize` ranks for configuration `configId`. */
async function writeRun(dir: string, step: number, worldSize: number, configId: string | undefined): Promise<void> {
  for (let r = worldSize - 1; r >= 0; r--) {
    await writeCheckpoint(dir, { step, rank: r, worldSize, tensors: tensors(step + r), meta: {}, ...(configId !== undefined ? { configId } : {}) });
  }
}

test('pruning never deletes checkpoints of another configuration or ring size', async () => {
  const cases = [
    { name: 'another ring size', other: { worldSize: 2, configId: 'a' } },
    { name: 'another configuration', other: { worldSize: 1, configId: 'b' } },
    { name: 'an older worker (no configuration recorded)', other: { worldSize: 1, configId: undefined } },
  ];
  for (const c of cases) {
    await withDir(async (dir) => {
      for (const s of [1, 2]) await writeRun(dir, s, c.other.worldSize, c.other.configId);
      // This run: ring of 1, configuration 'a', three later checkpoints (pruning keeps two of its own).
      for (const s of [10, 20, 30]) await writeRun(dir, s, 1, 'a');
      assert.deepEqual((await readdir(dir)).sort(), [1, 2, 20, 30].map(stepDirName), c.name);
      const { complete } = await listCheckpoints(dir);
      assert.deepEqual(
        complete.map((x) => [x.step, x.worldSize, x.configId]),
        [[30, 1, 'a'], [20, 1, 'a'], [2, c.other.worldSize, c.other.configId], [1, c.other.worldSize, c.other.configId]],
        c.name,
      );
    });
  }
});

test('a stray step directory beyond the step just written is pruned, unless another configuration owns it', async () => {
  const cases: { name: string; fill: (d: string) => Promise<unknown>; pruned: boolean }[] = [
    { name: 'empty step-99999999', fill: async () => undefined, pruned: true },
    { name: 'a leftover temp file', fill: async (d) => writeFile(join(d, 'rank-0.ckpt.tmp-1-2'), 'x'), pruned: true },
    { name: 'a manifest of this run for another step', fill: async (d) => writeFile(join(d, 'rank-0.manifest.json'), JSON.stringify({ step: 5, rank: 0, worldSize: 1, configId: 'a' })), pruned: true },
    { name: 'a manifest of another configuration', fill: async (d) => writeFile(join(d, 'rank-0.manifest.json'), JSON.stringify({ step: 99999999, rank: 0, worldSize: 1, configId: 'b' })), pruned: false },
  ];
  for (const c of cases) {
    await withDir(async (dir) => {
      const stray = join(dir, stepDirName(99999999));
      await mkdir(stray);
      await c.fill(stray);
      await writeRun(dir, 1, 1, 'a');
      const want = c.pruned ? [stepDirName(1)] : [stepDirName(1), stepDirName(99999999)];
      assert.deepEqual((await readdir(dir)).sort(), want, c.name);
    });
  }
});

test('a rank refuses to overwrite another configuration\'s file at the same step', async () => {
  await withDir(async (dir) => {
    await writeRun(dir, 4, 2, 'a');
    await assert.rejects(
      writeCheckpoint(dir, { step: 4, rank: 0, worldSize: 1, tensors: tensors(0), meta: {}, configId: 'b' }),
      (err: unknown) => err instanceof ConfigError && /step-00000004 .* already holds rank 0 of another configuration \(2 ranks, configuration a\)/.test(err.message),
    );
    assert.deepEqual((await listCompleteCheckpoints(dir, 2)).complete.map((c) => c.step), [4]);
  });
});

test('a failed write leaves no temp file behind', async () => {
  await withDir(async (dir) => {
    // The rename fails: a non-empty directory sits where the file goes.
    await mkdir(join(dir, 'target', 'inside'), { recursive: true });
    await assert.rejects(writeFileAtomic(join(dir, 'target'), Buffer.alloc(1024)));
    assert.deepEqual(await readdir(dir), ['target']);
  });
});
