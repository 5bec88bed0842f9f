import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeTensorFile, encodeTensorFile } from '../../../worker/checkpoint/tensor-file.js';
import { DataError } from '../../../worker/util/errors.js';
import { resolveTrainOptions } from '../../../worker/cli/defaults.js';
import { buildRunFingerprint } from '../../../worker/train/run-config.js';
import {
  decodeChiefCheckpoint,
  decodeResiduals,
  encodeChiefCheckpoint,
  encodeRankCheckpoint,
  TRAIN_CHECKPOINT_VERSION,
  type RunFingerprint,
  type TrainCheckpointMeta,
  type TrainSnapshot,
} from '../../../worker/train/train-checkpoint.js';

const fingerprint: RunFingerprint = buildRunFingerprint(resolveTrainOptions({ model: 'mlp', dataset: 'mnist', optimizer: 'lamb', seed: 7, batchSize: 64 }), {
  worldSize: 2,
  trainExamples: 512,
  weightCount: 5,
});

function snapshot(withGuardWeights: boolean): TrainSnapshot {
  return {
    position: { epoch: 1, stepInEpoch: 2, globalStep: 6 },
    fingerprint,
    weights: Float32Array.from([0.1, -0.2, 0.3, 1e-30, -7]),
    optimizer: {
      id: 'lamb',
      step: 6,
      slots: [
        { name: 'm/0', shape: [2, 2], values: Float32Array.from([1, 2, 3, 4]) },
        { name: 'v/0', shape: [2, 2], values: Float32Array.from([5, 6, 7, 8]) },
        { name: 'm/1', shape: [1], values: Float32Array.from([0.5]) },
      ],
    },
    guard: { bestAccuracy: 0.75, bestEpoch: 1, ...(withGuardWeights ? { bestWeights: Float32Array.from([9, 8, 7, 6, 5]) } : {}) },
    loop: {
      epochLossSum: 1.2345678901234567,
      epochSeconds: 0.5,
      trainSecondsTotal: 2.25,
      history: [{ epoch: 1, loss: 0.1 + 0.2, imagesPerSecond: 100, seconds: 1, lr: 0.001, guardAccuracy: 0.75 }],
      lastEval: { n: 10, cleanAccuracy: 0.9, robustAccuracy: 0.3, attack: { name: 'pgd', eps: 0.3, steps: 20, restarts: 1, stepSize: 0.0375 } },
      lastEvalEpoch: 0,
    },
  };
}

/** Through the real file encoding, as a checkpoint on disk would be. */
function roundTrip(body: { tensors: Map<string, Float32Array>; meta: TrainCheckpointMeta }): { meta: TrainCheckpointMeta; tensors: ReadonlyMap<string, Float32Array> } {
  return decodeTensorFile<TrainCheckpointMeta>(encodeTensorFile(body.tensors, body.meta), 'test.ckpt');
}

describe('train checkpoint bodies', () => {
  for (const withGuardWeights of [true, false]) {
    it(`rank 0's snapshot round-trips exactly (guard weights: ${withGuardWeights})`, () => {
      const snap = snapshot(withGuardWeights);
      const residuals = new Map([['worker/0', Float32Array.from([0.25, -0.5])]]);
      const file = roundTrip(encodeChiefCheckpoint(snap, residuals));
      assert.deepEqual(decodeChiefCheckpoint(file, 'test.ckpt'), snap);
      assert.deepEqual(decodeResiduals(file.tensors), residuals);
    });
  }

  it('a non-chief body holds only its residuals', () => {
    const residuals = new Map([
      ['worker/0', Float32Array.from([1, 2, 3])],
      ['server/0', Float32Array.from([4])],
    ]);
    const file = roundTrip(encodeRankCheckpoint(3, 12, residuals));
    assert.deepEqual(file.meta, { version: TRAIN_CHECKPOINT_VERSION, rank: 3, globalStep: 12 });
    assert.deepEqual(decodeResiduals(file.tensors), residuals);
    assert.throws(() => decodeChiefCheckpoint(file, 'rank-3.ckpt'), (err: unknown) => err instanceof DataError && /rank-3\.ckpt is not a rank-0 training checkpoint/.test(err.message));
  });

  const bad: { name: string; mutate: (b: { tensors: Map<string, Float32Array>; meta: TrainCheckpointMeta }) => unknown; want: RegExp }[] = [
    { name: 'another format version', mutate: (b) => ((b.meta as { version: number }).version = 99), want: /format version 99, this worker reads 1; use a fresh --checkpoint-dir/ },
    { name: 'a missing optimizer slot', mutate: (b) => b.tensors.delete('optimizer/v/0'), want: /optimizer slot v\/0 is missing/ },
    { name: 'missing weights', mutate: (b) => b.tensors.delete('model/weights'), want: /model\/weights is missing/ },
  ];
  for (const c of bad) {
    it(`refuses ${c.name} with a DataError naming the file`, () => {
      const body = encodeChiefCheckpoint(snapshot(true));
      c.mutate(body);
      assert.throws(() => decodeChiefCheckpoint(roundTrip(body), 'x/rank-0'), (err: unknown) => err instanceof DataError && c.want.test(err.message) && err.message.includes('x/rank-0'));
    });
  }
});
