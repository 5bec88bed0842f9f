import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildCurvesSpec, renderSvg, type CurvesInput } from '../../../worker/train/curves.js';
import type { EpochRecord } from '../../../worker/train/metrics.js';

const history: EpochRecord[] = [
  { epoch: 1, loss: 1.9, imagesPerSecond: 410, seconds: 20, lr: 0.03 },
  { epoch: 2, loss: 1.2, cleanAccuracy: 0.91, robustAccuracy: 0.62, imagesPerSecond: 430, seconds: 19, lr: 0.02 },
  { epoch: 3, loss: 0.9, cleanAccuracy: 0.95, robustAccuracy: 0.78, imagesPerSecond: 425, seconds: 19, lr: 0.01 },
];

const input = (workers: number): CurvesInput => ({
  title: 'small-cnn on mnist',
  subtitle: ['2 workers', 'final accuracy'],
  history,
  robustLabel: 'robust (PGD-20)',
  stepsPerEpoch: 4,
  stepLosses: Array.from({ length: 12 }, (_, i) => ({ step: i + 1, loss: 2 - i / 10 })),
  stepBytes: Array.from({ length: 12 }, (_, i) => ({ step: i + 1, bytes: i < 2 ? 4096 : 128 })),
  workers,
});

type Panel = { title?: unknown; data?: { values?: Record<string, unknown>[] } };
const panels = (workers: number): Panel[] => (buildCurvesSpec(input(workers)) as unknown as { concat: Panel[] }).concat;

describe('curves', () => {
  const cases = [
    { name: 'one worker: accuracy, loss, throughput', workers: 1, want: ['Held-out accuracy', 'Training loss', 'Training throughput (all ranks)'] },
    { name: 'two workers: and bytes per step', workers: 2, want: ['Held-out accuracy', 'Training loss', 'Training throughput (all ranks)', 'Bytes sent per step (each rank)'] },
  ];
  for (const c of cases) {
    it(c.name, () => assert.deepEqual(panels(c.workers).map((p) => p.title), c.want));
  }

  it('plots accuracy only for evaluated epochs, losses per step and per epoch, bytes in KiB', () => {
    const [acc, loss, , bytes] = panels(2);
    assert.deepEqual(acc!.data!.values, [
      { epoch: 2, series: 'clean', accuracy: 0.91 },
      { epoch: 2, series: 'robust (PGD-20)', accuracy: 0.62 },
      { epoch: 3, series: 'clean', accuracy: 0.95 },
      { epoch: 3, series: 'robust (PGD-20)', accuracy: 0.78 },
    ]);
    const lossValues = loss!.data!.values!;
    assert.deepEqual(lossValues.slice(0, 2), [
      { epoch: 0.25, series: 'per step', loss: 2 },
      { epoch: 0.5, series: 'per step', loss: 1.9 },
    ]);
    assert.deepEqual(lossValues.filter((v) => v.series === 'epoch mean'), [
      { epoch: 0.5, series: 'epoch mean', loss: 1.9 },
      { epoch: 1.5, series: 'epoch mean', loss: 1.2 },
      { epoch: 2.5, series: 'epoch mean', loss: 0.9 },
    ]);
    assert.deepEqual(bytes!.data!.values!.slice(0, 3), [
      { step: 1, kib: 4 },
      { step: 2, kib: 4 },
      { step: 3, kib: 0.125 },
    ]);
  });

  it('renders an SVG with titles, axes and legends (headless vega)', { timeout: 60_000 }, async () => {
    const svg = await renderSvg(buildCurvesSpec(input(2)));
    assert.match(svg, /^<svg [^>]*width="\d+" height="\d+"/);
    const width = Number(/width="(\d+)"/.exec(svg)![1]);
    assert.ok(width > 600 && width < 900, `width ${width}: two panels side by side, not widened by long text`);
    for (const text of ['small-cnn on mnist', 'Held-out accuracy', 'Bytes sent per step (each rank)', 'epochs completed', 'optimizer step', 'images/s', 'KiB', 'clean', 'robust (PGD-20)', 'per step', 'epoch mean']) {
      assert.ok(svg.includes(`>${text}<`), `no text "${text}" in the SVG`);
    }
  });
});
