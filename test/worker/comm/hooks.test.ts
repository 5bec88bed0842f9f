import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLoopbackGroup } from '../../../worker/comm/loopback-collective.js';
import { allreduceHook, withCompression, withWarmup, type CommHook, type Compressor } from '../../../worker/comm/hooks.js';

const run = (hook: CommHook, inputs: Float32Array[], step = 0): Promise<Float32Array[]> => {
  const group = createLoopbackGroup(inputs.length);
  return Promise.all(group.map((collective, r) => hook({ collective }, { index: 0, buffer: inputs[r]!, step })));
};

test('allreduceHook (compression none) returns the exact mean for N = 1..4', async () => {
  for (const n of [1, 2, 3, 4]) {
    // Multiples of N, so x/N is exact and the mean is exact in float32.
    const inputs = Array.from({ length: n }, (_, r) => Float32Array.from({ length: 11 }, (_, i) => n * (i - 5 + r)));
    const want = Float32Array.from({ length: 11 }, (_, i) => inputs.reduce((s, a) => s + a[i]! / n, 0));
    for (const out of await run(allreduceHook, inputs)) assert.deepEqual(out, want, `N=${n}`);
  }
});

test('withCompression wraps any hook: compress before, decompress after', async () => {
  const calls: string[] = [];
  const doubler: Compressor<number> = {
    name: 'x2',
    compress: (x) => (calls.push('compress'), { payload: x.map((v) => v * 2), ctx: 2 }),
    decompress: (p, k) => (calls.push('decompress'), p.map((v) => v / k)),
  };
  const inputs = [Float32Array.from([2, 4]), Float32Array.from([6, 8])];
  const outs = await run(withCompression(allreduceHook, doubler), inputs);
  for (const out of outs) assert.deepEqual(out, Float32Array.from([4, 6]));
  assert.deepEqual(calls, ['compress', 'compress', 'decompress', 'decompress']);
});

test('withWarmup runs the uncompressed hook for the first steps only', async () => {
  const marker: CommHook = () => Promise.resolve(Float32Array.from([42]));
  const hook = withWarmup(marker, 2);
  const inputs = [Float32Array.from([2]), Float32Array.from([4])];
  assert.deepEqual((await run(hook, inputs, 1))[0], Float32Array.from([3]));
  assert.deepEqual((await run(hook, inputs, 2))[0], Float32Array.from([42]));
  assert.throws(() => withWarmup(marker, -1), /warmupSteps/);
});
