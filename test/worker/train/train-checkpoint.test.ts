import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type * as tf from '@tensorflow/tfjs';
import { checkParts, PART_SCOPES, type DecodedPart, type SavedParts } from '../../../worker/checkpoint/checkpoint-part.js';
import { decodeTensorFile, encodeTensorFile } from '../../../worker/checkpoint/tensor-file.js';
import { DataError } from '../../../common/errors.js';
import { resolveTrainOptions } from '../../../worker/cli/defaults.js';
import { buildRunFingerprint } from '../../../worker/train/run-config.js';
import { createOptimizerPart, encodeOptimizerState } from '../../../worker/train/state/optimizer-part.js';
import { createWeightsPart } from '../../../worker/train/state/weights-part.js';
import type { Optimizer } from '../../../worker/train/optimizers/index.js';
import {
  decodeTrainCheckpoint,
  encodeTrainCheckpoint,
  requireFingerprint,
  TRAIN_CHECKPOINT_VERSION,
  type RunFingerprint,
  type TrainCheckpointMeta,
} from '../../../worker/train/train-checkpoint.js';

const fingerprint: RunFingerprint = buildRunFingerprint(resolveTrainOptions({ model: 'mlp', dataset: 'mnist', optimizer: 'lamb', seed: 7, batchSize: 64 }), {
  worldSize: 2,
  trainExamples: 512,
  weightCount: 5,
});

const optimizerState = {
  id: 'lamb',
  step: 6,
  slots: [
    { name: 'm/0', shape: [2, 2], values: Float32Array.from([1, 2, 3, 4]) },
    { name: 'v/0', shape: [2, 2], values: Float32Array.from([5, 6, 7, 8]) },
    { name: 'm/1', shape: [1], values: Float32Array.from([0.5]) },
  ],
} as const;

const loop = {
  epoch: 1,
  stepInEpoch: 2,
  globalStep: 6,
  epochLossSum: 1.2345678901234567,
  epochSeconds: 0.5,
  trainSecondsTotal: 2.25,
  history: [{ epoch: 1, loss: 0.1 + 0.2, imagesPerSecond: 100, seconds: 1, lr: 0.001, guardAccuracy: 0.75 }],
  lastEval: { n: 10, cleanAccuracy: 0.9, robustAccuracy: 0.3, attack: { name: 'pgd', eps: 0.3, steps: 20, restarts: 1, stepSize: 0.0375 } },
  lastEvalEpoch: 0,
};

const run = (part: Omit<DecodedPart, 'scope'>): DecodedPart => ({ scope: PART_SCOPES.run, ...part });
const rank = (part: Omit<DecodedPart, 'scope'>): DecodedPart => ({ scope: PART_SCOPES.rank, ...part });

/** Everything rank 0 saves, as the registered parts save it. */
function chiefParts(withGuardWeights: boolean): Map<string, DecodedPart> {
  return new Map([
    ['model', run({ meta: { count: 5 }, tensors: new Map([['weights', Float32Array.from([0.1, -0.2, 0.3, 1e-30, -7])]]) })],
    ['optimizer', run(encodeOptimizerState({ ...optimizerState, slots: [...optimizerState.slots] }))],
    ['guard', run({ meta: { bestAccuracy: 0.75, bestEpoch: 1 }, tensors: new Map(withGuardWeights ? [['best-weights', Float32Array.from([9, 8, 7, 6, 5])]] : []) })],
    ['loop', run({ meta: loop, tensors: new Map() })],
    ['sign-ef', rank({ tensors: new Map([['worker/0', Float32Array.from([0.25, -0.5])]]) })],
  ]);
}

/** Through the real file encoding, as a checkpoint on disk would be. */
function roundTrip(body: { tensors: Map<string, Float32Array>; meta: unknown }): { meta: TrainCheckpointMeta; tensors: ReadonlyMap<string, Float32Array> } {
  return decodeTensorFile<TrainCheckpointMeta>(encodeTensorFile(body.tensors, body.meta), 'test.ckpt');
}

describe('train checkpoint bodies', () => {
  for (const withGuardWeights of [true, false]) {
    it(`rank 0's parts round-trip exactly (guard weights: ${withGuardWeights})`, () => {
      const parts = chiefParts(withGuardWeights);
      const got = decodeTrainCheckpoint(roundTrip(encodeTrainCheckpoint(0, 6, parts, fingerprint)), 'test.ckpt');
      assert.deepEqual(got, { rank: 0, globalStep: 6, fingerprint, parts });
    });
  }

  it('a non-chief body holds only its rank parts', () => {
    const parts: SavedParts = new Map([
      ['sign-ef', rank({ tensors: new Map([['worker/0', Float32Array.from([1, 2, 3])], ['server/0', Float32Array.from([4])]]) })],
    ]);
    const file = roundTrip(encodeTrainCheckpoint(3, 12, parts));
    assert.deepEqual(file.meta, { version: TRAIN_CHECKPOINT_VERSION, rank: 3, globalStep: 12, parts: { 'sign-ef': { scope: 'rank', tensors: ['worker/0', 'server/0'] } } });
    const got = decodeTrainCheckpoint(file, 'rank-3.ckpt');
    assert.deepEqual(got.parts, parts);
    assert.throws(() => requireFingerprint(got, 'rank-3.ckpt'), (err: unknown) => err instanceof DataError && /rank-3\.ckpt is not a rank-0 training checkpoint/.test(err.message));
  });

  const bad: { name: string; mutate: (b: { tensors: Map<string, Float32Array>; meta: TrainCheckpointMeta }) => unknown; want: RegExp }[] = [
    { name: 'another format version', mutate: (b) => ((b.meta as { version: number }).version = 99), want: /format version 99, this worker reads 2; use a fresh --checkpoint-dir/ },
    { name: 'a missing optimizer slot', mutate: (b) => b.tensors.delete('optimizer/v/0'), want: /optimizer\/v\/0 is missing/ },
    { name: 'missing weights', mutate: (b) => b.tensors.delete('model/weights'), want: /model\/weights is missing/ },
    { name: 'a part of unknown scope', mutate: (b) => ((b.meta.parts.loop as { scope: string }).scope = 'everyone'), want: /part loop has scope everyone/ },
  ];
  for (const c of bad) {
    it(`refuses ${c.name} with a DataError naming the file`, () => {
      const body = encodeTrainCheckpoint(0, 6, chiefParts(true), fingerprint);
      c.mutate(body);
      assert.throws(() => decodeTrainCheckpoint(roundTrip(body), 'x/rank-0'), (err: unknown) => err instanceof DataError && c.want.test(err.message) && err.message.includes('x/rank-0'));
    });
  }
});

describe("each part's own check", () => {
  // The checks read only the saved data; the live objects are never touched.
  const parts = [createWeightsPart({} as tf.LayersModel), createOptimizerPart({} as Optimizer)];
  const cases: { name: string; mutate: (p: Map<string, DecodedPart>) => void; want: RegExp | undefined }[] = [
    { name: 'consistent parts pass', mutate: () => {}, want: undefined },
    { name: 'fewer weights than the part says', mutate: (p) => p.set('model', run({ meta: { count: 9 }, tensors: p.get('model')!.tensors })), want: /model: 5 weights, its configuration says 9/ },
    {
      name: 'an optimizer slot of the wrong size',
      mutate: (p) => p.set('optimizer', run({ meta: p.get('optimizer')!.meta, tensors: new Map([...p.get('optimizer')!.tensors, ['m/1', Float32Array.of(1, 2)]]) })),
      want: /optimizer: optimizer slot m\/1 holds 2 values for shape \[1\]/,
    },
    { name: 'a required part missing', mutate: (p) => p.delete('optimizer'), want: /not a complete training checkpoint: optimizer is missing/ },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const saved = chiefParts(true);
      c.mutate(saved);
      if (c.want === undefined) checkParts(parts, saved, 'x/rank-0');
      else assert.throws(() => checkParts(parts, saved, 'x/rank-0'), (err: unknown) => err instanceof DataError && c.want!.test(err.message) && err.message.includes('x/rank-0'));
    });
  }
});

describe('decoding garbage', () => {
  /** Replacements a hostile or buggy writer could put anywhere in the meta. */
  const JUNK: unknown[] = [null, 0, -1, 1.5, 'x', [], {}, [null], { tensors: null }, { scope: 'run', tensors: [null] }];

  /** Every path to a value in `v`. */
  function paths(v: unknown, at: (string | number)[] = []): (string | number)[][] {
    if (v === null || typeof v !== 'object') return [at];
    return [at, ...Object.entries(v).flatMap(([k, c]) => paths(c, [...at, Array.isArray(v) ? Number(k) : k]))];
  }

  function replaced(v: unknown, path: readonly (string | number)[], junk: unknown): unknown {
    if (path.length === 0) return junk;
    const copy = (Array.isArray(v) ? [...v] : { ...(v as object) }) as Record<string | number, unknown>;
    copy[path[0]!] = replaced(copy[path[0]!], path.slice(1), junk);
    return copy;
  }

  it('every field of the meta replaced by junk decodes, or fails with a DataError (never a TypeError)', () => {
    const body = roundTrip(encodeTrainCheckpoint(0, 6, chiefParts(true), fingerprint));
    const parts = [createWeightsPart({} as tf.LayersModel), createOptimizerPart({} as Optimizer)];
    let cases = 0;
    for (const path of paths(body.meta)) {
      for (const junk of JUNK) {
        cases++;
        try {
          const got = decodeTrainCheckpoint({ meta: replaced(body.meta, path, junk), tensors: body.tensors }, 'fuzz');
          checkParts(parts, got.parts, 'fuzz');
        } catch (err) {
          assert.ok(err instanceof DataError, `${path.join('.')} = ${JSON.stringify(junk)}: ${String(err)}`);
        }
      }
    }
    assert.ok(cases > 500, `${cases} cases`);
  });
});

describe('format 1 checkpoints (written before the parts) stay loadable', () => {
  /** Rank 0's and rank 1's files as format 1 wrote them (its encoder, inlined). */
  const v1Chief = {
    meta: {
      version: 1,
      rank: 0,
      globalStep: 6,
      chief: {
        position: { epoch: loop.epoch, stepInEpoch: loop.stepInEpoch, globalStep: loop.globalStep },
        fingerprint,
        optimizer: { id: optimizerState.id, step: optimizerState.step, slots: optimizerState.slots.map((s) => ({ name: s.name, shape: [...s.shape] })) },
        guard: { bestAccuracy: 0.75, bestEpoch: 1 },
        loop: { epochLossSum: loop.epochLossSum, epochSeconds: loop.epochSeconds, trainSecondsTotal: loop.trainSecondsTotal, history: loop.history, lastEval: loop.lastEval, lastEvalEpoch: loop.lastEvalEpoch },
      },
    },
    tensors: new Map([
      ['model/weights', Float32Array.from([0.1, -0.2, 0.3, 1e-30, -7])],
      ...optimizerState.slots.map((s) => [`optimizer/${s.name}`, s.values] as [string, Float32Array]),
      ['guard/best-weights', Float32Array.from([9, 8, 7, 6, 5])],
      ['residual/worker/0', Float32Array.from([0.25, -0.5])],
    ]),
  };

  it("rank 0's file reads as the same parts format 2 writes", () => {
    const got = decodeTrainCheckpoint(roundTrip(v1Chief), 'old/rank-0');
    assert.deepEqual(got, { rank: 0, globalStep: 6, fingerprint, parts: chiefParts(true) });
  });

  it("a rank's BatchNorm statistics, sign-ef memories and local moments go to their parts", () => {
    const body = {
      meta: { version: 1, rank: 1, globalStep: 6 },
      tensors: new Map([
        ['model/non-trainable', Float32Array.of(3, 4)],
        ['residual/server/0', Float32Array.of(1)],
        ['residual/momentum/0', Float32Array.of(2)],
      ]),
    };
    const got = decodeTrainCheckpoint(roundTrip(body), 'old/rank-1');
    assert.deepEqual(
      got.parts,
      new Map([
        ['batch-norm', rank({ tensors: new Map([['statistics', Float32Array.of(3, 4)]]) })],
        ['sign-ef', rank({ tensors: new Map([['server/0', Float32Array.of(1)]]) })],
        ['local-momentum', rank({ tensors: new Map([['0', Float32Array.of(2)]]) })],
      ]),
    );
  });
});
