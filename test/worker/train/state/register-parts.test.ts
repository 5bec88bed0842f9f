/**
 * The registered parts of a run, on real objects: their order, and a save →
 * file → check → load round trip into fresh objects that restores every bit
 * (rank 0's weights, optimizer and loop state; rank 1's own BatchNorm statistics).
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { checkParts, loadParts, PART_SCOPES, saveParts } from '../../../../worker/checkpoint/checkpoint-part.js';
import { decodeTensorFile, encodeTensorFile } from '../../../../worker/checkpoint/tensor-file.js';
import { SignEfHook } from '../../../../worker/comm/compression/sign-ef.js';
import { createOptimizer } from '../../../../worker/train/optimizers/index.js';
import { createLoopState, type LoopState } from '../../../../worker/train/state/loop-state.js';
import { registerRunParts } from '../../../../worker/train/state/register-parts.js';
import { TeacherState } from '../../../../worker/train/unlabeled/teacher-state.js';
import { eagerStepEngine } from '../../../../worker/train/step-engine.js';
import { applyGradients } from '../../../../worker/train/train-step.js';
import { decodeTrainCheckpoint, encodeTrainCheckpoint, type TrainCheckpointMeta } from '../../../../worker/train/train-checkpoint.js';
import { modelVariables, nonTrainableVariables, readWeights, totalSize, trainableVariables, writeWeights } from '../../../../worker/train/variables.js';

before(async () => {
  await tf.setBackend('cpu');
});

/** A dense layer and a BatchNorm layer, seeded: small, with non-trainable statistics. */
function tinyModel(seed: number): tf.LayersModel {
  return tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [3], units: 4, kernelInitializer: tf.initializers.glorotUniform({ seed }) }),
      tf.layers.batchNormalization(),
    ],
  });
}

/** Fills every variable of `model` with values drawn from `seed` (so two models differ in every bit). */
function scramble(model: tf.LayersModel, seed: number): void {
  const vars = modelVariables(model);
  writeWeights(vars, tf.tidy(() => tf.randomNormal([totalSize(vars)], 0, 1, 'float32', seed).dataSync() as Float32Array));
}

function bits(a: Float32Array): Uint32Array {
  return new Uint32Array(a.buffer, a.byteOffset, a.length);
}

function rankObjects(rank: number, seed: number) {
  const model = tinyModel(seed);
  const optimizer = createOptimizer('adam', { weightDecay: 0, momentum: 0.9 });
  const loop: LoopState = createLoopState();
  const signEf = new SignEfHook();
  return { model, optimizer, loop, signEf, parts: registerRunParts({ rank, model, optimizer, loop, extraParts: [signEf] }) };
}

describe('registerRunParts', () => {
  it('lists each part once, the weights before the BatchNorm statistics that overwrite them, extra parts last', () => {
    const { parts } = rankObjects(1, 1);
    assert.deepEqual(
      parts.map((p) => [p.key, p.scope]),
      [
        ['model', PART_SCOPES.run],
        ['batch-norm', PART_SCOPES.rank],
        ['optimizer', PART_SCOPES.run],
        ['loop', PART_SCOPES.run],
        ['sign-ef', PART_SCOPES.rank],
      ],
    );
  });

  it('registers the robust self-training teacher, run-scoped, after the loop and before extra parts', () => {
    const { model, optimizer, loop, signEf } = rankObjects(0, 1);
    const teacher = new TeacherState({ n: 1, x: new Float32Array(3), y: Int32Array.of(-1) });
    const parts = registerRunParts({ rank: 0, model, optimizer, loop, teacher, extraParts: [signEf] });
    assert.deepEqual(parts.map((p) => p.key).slice(-3), ['loop', 'teacher', 'sign-ef']);
    assert.equal(parts.find((p) => p.key === 'teacher')?.scope, PART_SCOPES.run);
  });

  it("restores rank 0's run parts and rank 1's own parts bit for bit into fresh objects", async () => {
    // What rank 0 and rank 1 hold after some training: the same parameters, their own statistics.
    const r0 = rankObjects(0, 1);
    const r1 = rankObjects(1, 2);
    scramble(r0.model, 11);
    scramble(r1.model, 12);
    writeWeights(trainableVariables(r1.model), await readWeights(trainableVariables(r0.model)));
    applyGradients(r0.model, r0.optimizer, new Float32Array(totalSize(trainableVariables(r0.model))).fill(0.01), 0.1, eagerStepEngine);
    Object.assign(r0.loop, { epoch: 1, stepInEpoch: 3, globalStep: 7, epochLossSum: 0.1 + 0.2, history: [{ epoch: 1, loss: 1 / 3, imagesPerSecond: 1, seconds: 2, lr: 0.1 }] });
    r1.signEf.load({ tensors: new Map([['worker/0', Float32Array.of(-0, 1e-45)]]) });

    // Each rank's file, through the real encoding; rank 1 loads rank 0's run parts and its own rank parts.
    const file = async (rank: number, o: ReturnType<typeof rankObjects>) => {
      const body = encodeTrainCheckpoint(rank, 7, await saveParts(rank === 0 ? o.parts : o.parts.filter((p) => p.scope === PART_SCOPES.rank)));
      return decodeTrainCheckpoint(decodeTensorFile<TrainCheckpointMeta>(encodeTensorFile(body.tensors, body.meta), `rank-${rank}`), `rank-${rank}`);
    };
    const [f0, f1] = [await file(0, r0), await file(1, r1)];
    const fresh = rankObjects(1, 3);
    const saved = new Map([...[...f0.parts].filter(([, p]) => p.scope === PART_SCOPES.run), ...[...f1.parts].filter(([, p]) => p.scope === PART_SCOPES.rank)]);
    checkParts(fresh.parts, saved, 'merged');
    assert.deepEqual(loadParts(fresh.parts, saved), [], 'every saved part has a registered part');

    assert.deepEqual(bits(await readWeights(trainableVariables(fresh.model))), bits(await readWeights(trainableVariables(r0.model))), "rank 0's parameters");
    assert.deepEqual(bits(await readWeights(nonTrainableVariables(fresh.model))), bits(await readWeights(nonTrainableVariables(r1.model))), "rank 1's own statistics");
    assert.deepEqual(fresh.optimizer.getState(), r0.optimizer.getState());
    assert.deepEqual(fresh.loop, r0.loop);
    assert.deepEqual(fresh.signEf.save(), r1.signEf.save());
  });
});
