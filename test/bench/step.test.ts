import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { compareBackends, parseBatches, type StepRow } from '../../bench/step.js';

describe('bench:step helpers', () => {
  const batchCases = [
    { arg: undefined, want: [128] },
    { arg: '256', want: [256] },
    { arg: '128,256, 512', want: [128, 256, 512] },
  ];
  for (const c of batchCases) {
    test(`--batch ${String(c.arg)} parses to ${c.want.join(',')}`, () => assert.deepEqual(parseBatches(c.arg), c.want));
  }
  for (const bad of ['0', '12.5', '128,,256', 'abc', '-4']) {
    test(`--batch ${bad} is rejected`, () => assert.throws(() => parseBatches(bad), /--batch must be/));
  }

  function row(backend: string, batch: number, medianMs: number, cpuMs: number): StepRow {
    return {
      backend,
      execution: 'eager',
      model: 'small-cnn',
      kind: 'PGD-10',
      batch,
      params: 1,
      reps: 3,
      medianMs,
      minMs: medianMs,
      computeMs: medianMs,
      applyMs: 0,
      readbackMs: 0,
      cpuMs,
      coresBusy: cpuMs / medianMs,
      imagesPerSecond: (batch * 1000) / medianMs,
      stepGflop: 1,
      effectiveGflops: 1000 / medianMs,
      fractionOfMatmul: 0,
      gflopPerCpuSecond: 1000 / cpuMs,
    };
  }

  test('pairs native and wasm rows of the same batch size only', () => {
    const rows = [row('tensorflow', 128, 100, 120), row('wasm', 128, 300, 300), row('tensorflow', 512, 200, 380), row('wasm', 512, 1200, 1200), row('tensorflow', 256, 150, 150)];
    const got = compareBackends(rows, 'tensorflow', 'wasm');
    assert.deepEqual(
      got.map((c) => [c.batch, c.speedup, c.speedupPerCpu, c.nativeCoresBusy]),
      [
        [128, 3, 2.5, 1.2],
        [512, 6, 1200 / 380, 1.9],
      ],
    );
  });
});
