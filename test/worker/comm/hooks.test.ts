import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLoopbackGroup } from '../../../worker/comm/loopback-collective.js';
import { createAllreduceHook, withCompression, withWarmup, type CommHook, type Compressor } from '../../../worker/comm/hooks.js';

/** One step of `inputs.length` ranks, each with its own hook from `makeHook` (hooks own their result buffers). */
const run = (makeHook: () => CommHook, inputs: Float32Array[], step = 0): Promise<Float32Array[]> => {
  const group = createLoopbackGroup(inputs.length);
  return Promise.all(group.map((collective, r) => makeHook()({ collective }, { index: 0, buffer: inputs[r]!, step })));
};

test('createAllreduceHook (compression none) returns the exact mean for N = 1..4', async () => {
  for (const n of [1, 2, 3, 4]) {
    // Multiples of N, so x/N is exact and the mean is exact in float32.
    const inputs = Array.from({ length: n }, (_, r) => Float32Array.from({ length: 11 }, (_, i) => n * (i - 5 + r)));
    const want = Float32Array.from({ length: 11 }, (_, i) => inputs.reduce((s, a) => s + a[i]! / n, 0));
    for (const out of await run(createAllreduceHook, inputs)) assert.deepEqual(out, want, `N=${n}`);
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
  const outs = await run(() => withCompression(createAllreduceHook(), doubler), inputs);
  for (const out of outs) assert.deepEqual(out, Float32Array.from([4, 6]));
  assert.deepEqual(calls, ['compress', 'compress', 'decompress', 'decompress']);
});

test('withWarmup runs the uncompressed hook for the first steps only', async () => {
  const marker: CommHook = () => Promise.resolve(Float32Array.from([42]));
  const inputs = [Float32Array.from([2]), Float32Array.from([4])];
  assert.deepEqual((await run(() => withWarmup(marker, 2), inputs, 1))[0], Float32Array.from([3]));
  assert.deepEqual((await run(() => withWarmup(marker, 2), inputs, 2))[0], Float32Array.from([42]));
  assert.throws(() => withWarmup(marker, -1), /warmupSteps/);
});

test('a hook reuses its result buffer per bucket index, and each step\'s result is right when read before the next call', async () => {
  const [collective] = createLoopbackGroup(1);
  const hook = createAllreduceHook();
  const first = await hook({ collective: collective! }, { index: 0, buffer: Float32Array.from([1, 2]), step: 0 });
  assert.deepEqual(first, Float32Array.from([1, 2]));
  const other = await hook({ collective: collective! }, { index: 1, buffer: Float32Array.from([5, 6]), step: 0 });
  const second = await hook({ collective: collective! }, { index: 0, buffer: Float32Array.from([3, 4]), step: 1 });
  assert.equal(second, first, 'same bucket index: the same buffer');
  assert.notEqual(other, first, 'another bucket index: its own buffer');
  assert.deepEqual(second, Float32Array.from([3, 4]));
  assert.deepEqual(other, Float32Array.from([5, 6]));
  const longer = await hook({ collective: collective! }, { index: 0, buffer: Float32Array.from([7, 8, 9]), step: 2 });
  assert.deepEqual(longer, Float32Array.from([7, 8, 9]), 'a new length gets a new buffer');
});
