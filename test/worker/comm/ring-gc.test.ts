import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { RING_GC_TUNING_ENV, tuneGcForRing } from '../../../worker/comm/ring-gc.js';
import { listenGrpcRing } from '../../../worker/comm/start-grpc-ring.js';

const MODULE = fileURLToPath(new URL('../../../worker/comm/ring-gc.js', import.meta.url));

/**
 * A child that applies the setting, then allocates as the ring does (a fresh 1 MiB Buffer per
 * message) while keeping old-space objects alive; returns how many GC trace lines mention
 * incremental marking.
 */
function incrementalMarkingLines(tuning: '0' | '1'): number {
  const script = `
    const { tuneGcForRing } = await import(${JSON.stringify(MODULE)});
    tuneGcForRing();
    const keep = [];
    for (let i = 0; i < 1500; i++) {
      Buffer.alloc(1 << 20);
      for (let j = 0; j < 2000; j++) keep.push({ i, j });
      if (keep.length > 400000) keep.length = 0;
    }`;
  const r = spawnSync(process.execPath, ['--trace-gc', '--input-type=module', '-e', script], { env: { ...process.env, [RING_GC_TUNING_ENV]: tuning }, encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.split('\n').filter((l) => l.includes('incremental marking')).length;
}

describe('tuneGcForRing', () => {
  it('is turned off by DAT_RING_GC_TUNING=0 and on otherwise', () => {
    assert.equal(tuneGcForRing({ [RING_GC_TUNING_ENV]: '0' }), false);
    assert.equal(tuneGcForRing({}), true);
  });

  it('is applied by every process that listens as a ring rank, which says so', async () => {
    const ring = await listenGrpcRing({ rank: 0, worldSize: 1 }, '127.0.0.1', 0);
    try {
      assert.equal(ring.gcTuned, process.env[RING_GC_TUNING_ENV] !== '0');
    } finally {
      await ring.collective.close();
    }
  });

  it('stops V8 from marking incrementally under ring-like allocation; V8 does without it', { timeout: 120_000 }, () => {
    assert.ok(incrementalMarkingLines('0') > 0, 'the default should mark incrementally, or this test shows nothing');
    assert.equal(incrementalMarkingLines('1'), 0);
  });
});
