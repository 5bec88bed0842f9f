/**
 * Adding a stateful part to a run takes one file (the part) and one
 * registration: this test-only part is registered through `RunContext.parts`,
 * the registry the reducer's compression memories use, and a real tiny run
 * saves it in its checkpoints and a rerun restores it bit for bit, with no
 * change to the checkpoint code.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { selectBackend } from '../../../../worker/backend/select-backend.js';
import { PART_SCOPES, type CheckpointPart, type SavedPart } from '../../../../worker/checkpoint/checkpoint-part.js';
import { listCompleteCheckpoints, readCheckpoint } from '../../../../worker/checkpoint/checkpoint-store.js';
import { runTraining, singleProcessContext } from '../../../../worker/train/run-training.js';
import type { TrainCheckpointMeta } from '../../../../worker/train/train-checkpoint.js';
import { silentLogger } from '../../../../common/log.js';
import { makeTinyRun } from '../../../support/fixtures/train-args-builder.js';

/** The whole new part: state, save, check, load. */
class NoisePart implements CheckpointPart {
  readonly key = 'test-noise';
  readonly scope = PART_SCOPES.rank;
  values = new Float32Array(0);
  note: unknown = undefined;
  loads = 0;

  save(): SavedPart {
    return { meta: { note: this.note }, tensors: new Map([['values', this.values]]) };
  }

  check(saved: SavedPart): string | undefined {
    return saved.tensors.has('values') ? undefined : 'values are missing';
  }

  load(saved: SavedPart): void {
    this.values = saved.tensors.get('values')!.slice();
    this.note = (saved.meta as { note: unknown }).note;
    this.loads++;
  }
}

/** Bit patterns a lossy path would change: a NaN payload, -0, the smallest subnormal, infinity, 0.1. */
const BITS = Uint32Array.of(0x7fc0_0001, 0x8000_0000, 0x0000_0001, 0x7f80_0000, 0x3dcc_cccd);

let root: string;
before(async () => {
  await selectBackend('wasm', silentLogger);
  root = await mkdtemp(join(tmpdir(), 'dat-extra-part-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('a new stateful part registered through RunContext.parts', () => {
  it('is written into every checkpoint and restored bit for bit by a rerun', { timeout: 120_000 }, async () => {
    const opts = makeTinyRun().output(join(root, 'output')).checkpointDir(join(root, 'ckpt')).opts();
    const first = new NoisePart();
    first.values = new Float32Array(BITS.buffer.slice(0));
    first.note = { text: 'π', sum: 0.1 + 0.2 };
    await runTraining(opts, { ...singleProcessContext(silentLogger, 'wasm', () => {}), parts: [first] });

    const { complete } = await listCompleteCheckpoints(join(root, 'ckpt'), 1);
    assert.ok(complete.length > 0, 'the run wrote checkpoints');
    const file = await readCheckpoint<TrainCheckpointMeta>(complete[0]!, 0, 1);
    assert.deepEqual(file.meta.parts['test-noise'], { scope: 'rank', meta: { note: first.note }, tensors: ['values'] });

    const second = new NoisePart();
    await runTraining(opts, { ...singleProcessContext(silentLogger, 'wasm', () => {}), parts: [second] });
    assert.equal(second.loads, 1, 'the rerun resumed and loaded the part once');
    assert.deepEqual(new Uint32Array(second.values.buffer, second.values.byteOffset, second.values.length), BITS);
    assert.deepEqual(second.note, first.note);
  });
});
