/**
 * The ring's result is the same bits on every rank, for every compression:
 * each compressor's reducer over a real in-process gRPC ring (N = 3, small
 * messages so each chunk spans several parts, a length that does not divide
 * evenly), several steps so error feedback and warm-up state are exercised.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startLocalGrpcRing } from '../../../worker/comm/start-grpc-ring.js';
import { createGradientReducer } from '../../../worker/comm/compression/create-reducer.js';
import { COMPRESSIONS } from '../../../common/contract.js';
import { Rng } from '../../../worker/util/rng.js';

const N = 3;
const LENGTH = 20_011;
const STEPS = 3;

test('every rank gets bit-identical results for every compression', { timeout: 120_000 }, async () => {
  const ring = await startLocalGrpcRing(N, { timeoutMs: 10_000, maxMessageBytes: 4096 });
  try {
    const cases = COMPRESSIONS.flatMap((compression) => [
      { name: `${compression}, no warm-up`, compression, warmupSteps: 0 },
      { name: `${compression}, one uncompressed warm-up step`, compression, warmupSteps: 1 },
    ]);
    for (const c of cases) {
      const reducers = ring.map((collective) => createGradientReducer({ collective, compression: c.compression, warmupSteps: c.warmupSteps, seed: 7 }).reducer);
      for (let step = 0; step < STEPS; step++) {
        const grads = ring.map((_, r) => {
          const rng = new Rng(1000 * step + r + 1);
          return Float32Array.from({ length: LENGTH }, () => (rng.next() - 0.5) * (rng.next() < 0.05 ? 50 : 1));
        });
        const outs = await Promise.all(reducers.map((reduce, r) => reduce(grads[r]!, step)));
        for (const [r, out] of outs.entries()) {
          assert.equal(out.length, LENGTH, `${c.name} step ${step} rank ${r}`);
          const same = Buffer.compare(Buffer.from(out.buffer, out.byteOffset, out.byteLength), Buffer.from(outs[0]!.buffer, outs[0]!.byteOffset, outs[0]!.byteLength)) === 0;
          assert.ok(same, `${c.name} step ${step}: rank ${r}'s result differs from rank 0's`);
        }
        assert.ok(outs[0]!.some((v) => v !== 0), `${c.name} step ${step}: a non-trivial mean`);
      }
    }
  } finally {
    await Promise.all(ring.map((c) => c.close()));
  }
});
