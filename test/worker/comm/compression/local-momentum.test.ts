import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { CompressionId, OptimizerId } from '../../../../common/contract.js';
import { createLoopbackGroup } from '../../../../worker/comm/loopback-collective.js';
import { createAllreduceHook, type CommHook } from '../../../../worker/comm/hooks.js';
import { createGradientReducer } from '../../../../worker/comm/compression/create-reducer.js';
import { LOCAL_MOMENTUM_PART, LocalMomentum, localMomentumBeta } from '../../../../worker/comm/compression/local-momentum.js';
import { SIGN_EF_PART } from '../../../../worker/comm/compression/sign-ef.js';
import { loadParts, saveParts } from '../../../../worker/checkpoint/checkpoint-part.js';
import { Rng } from '../../../../worker/util/rng.js';

function randomGrads(n: number, d: number, seed: number): Float32Array[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => Float32Array.from({ length: d }, () => rng.next() * 2 - 1));
}

describe('localMomentumBeta', () => {
  const cases: Array<{ optimizer: OptimizerId; compression: CompressionId; world: number; want: number | undefined }> = [
    { optimizer: 'lamb', compression: 'sign-ef', world: 4, want: 0.9 },
    { optimizer: 'lamb', compression: 'majority-vote', world: 2, want: 0.9 },
    { optimizer: 'lamb', compression: 'none', world: 4, want: undefined },
    { optimizer: 'lamb', compression: 'qsgd8', world: 4, want: undefined },
    { optimizer: 'lamb', compression: 'sign-ef', world: 1, want: undefined },
    { optimizer: 'sgd', compression: 'sign-ef', world: 4, want: undefined },
    { optimizer: 'adam', compression: 'sign-ef', world: 4, want: undefined },
  ];
  for (const c of cases) {
    it(`${c.optimizer} + ${c.compression} on ${c.world} ranks -> ${c.want}`, () => assert.equal(localMomentumBeta(c, c.world), c.want));
  }
});

describe('LocalMomentum', () => {
  it('reduces the mean of the ranks\' moments, which is the moment of the mean gradient', async () => {
    const n = 3;
    const d = 17;
    const beta = 0.9;
    const group = createLoopbackGroup(n);
    const wrapped: CommHook[] = group.map(() => new LocalMomentum(beta).wrap(createAllreduceHook()));
    let ref: Float64Array = new Float64Array(d);
    for (let t = 0; t < 6; t++) {
      const grads = randomGrads(n, d, 7 + t);
      const outs = await Promise.all(group.map((collective, r) => wrapped[r]!({ collective }, { index: 0, buffer: grads[r]!, step: t })));
      ref = ref.map((m, i) => beta * m + (1 - beta) * grads.reduce((s, g) => s + g[i]!, 0) / n);
      for (const o of outs) assert.deepEqual(o, outs[0], 'every rank gets the same bits');
      for (let i = 0; i < d; i++) assert.ok(Math.abs(outs[0]![i]! - ref[i]!) < 1e-6, `step ${t} i ${i}: ${outs[0]![i]} vs ${ref[i]}`);
    }
  });

  it('leaves the caller\'s gradient untouched', async () => {
    const [collective] = createLoopbackGroup(1);
    const g = Float32Array.from([1, -2, 3]);
    await new LocalMomentum(0.5).wrap(createAllreduceHook())({ collective: collective! }, { index: 0, buffer: g, step: 0 });
    assert.deepEqual(g, Float32Array.from([1, -2, 3]));
  });

  it('rejects a beta outside [0, 1)', () => {
    for (const beta of [-0.1, 1, Number.NaN]) assert.throws(() => new LocalMomentum(beta), /beta must be in \[0, 1\)/);
  });
});

describe('createGradientReducer with local momentum', () => {
  it('checkpoints moments and sign-ef memories together, and a restored reducer continues identically', async () => {
    const n = 2;
    const d = 40;
    const run = async (restoreAt: number | undefined): Promise<Float32Array> => {
      let group = createLoopbackGroup(n);
      const make = (c: (typeof group)[number]) => createGradientReducer({ collective: c, compression: 'sign-ef', warmupSteps: 1, localMomentum: 0.9 });
      let reducers = group.map(make);
      let last: Float32Array = new Float32Array(d);
      for (let t = 0; t < 6; t++) {
        if (t === restoreAt) {
          const saved = await Promise.all(reducers.map((r) => saveParts(r.parts)));
          assert.ok((saved[0]!.get(LOCAL_MOMENTUM_PART)?.tensors.size ?? 0) > 0, 'moments are saved');
          assert.ok([...(saved[0]!.get(SIGN_EF_PART)?.tensors.keys() ?? [])].some((k) => k.startsWith('worker/')), 'sign-ef memories are saved');
          group = createLoopbackGroup(n);
          reducers = group.map(make);
          reducers.forEach((r, i) => loadParts(r.parts, saved[i]!));
        }
        const grads = randomGrads(n, d, 30 + t);
        const outs = await Promise.all(reducers.map((r, i) => r.reducer(grads[i]!, t)));
        last = outs[0]!;
      }
      return last;
    };
    assert.deepEqual(await run(3), await run(undefined));
  });
});
