import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../../common/errors.js';
import { epsWarmupFactor, learningRateAt, validateScheduleOptions, type ScheduleOptions } from '../../../worker/train/schedules.js';

const base: ScheduleOptions = { schedule: 'constant', lr: 0.1, warmupEpochs: 0, epochs: 10, milestones: [], gamma: 0.1 };

interface Case {
  readonly name: string;
  readonly s: Partial<ScheduleOptions>;
  readonly epoch: number;
  readonly stepsPerEpoch?: number;
  readonly want: number;
}

const cases: readonly Case[] = [
  { name: 'constant at 0', s: {}, epoch: 0, want: 0.1 },
  { name: 'constant at the end', s: {}, epoch: 10, want: 0.1 },
  // Warm-up: epoch/warmup without the step count; DAT's (step+1)/(warmup·iters) with it.
  { name: 'warm-up start, no step count', s: { warmupEpochs: 2 }, epoch: 0, want: 0 },
  { name: 'warm-up start, DAT (step+1) factor', s: { warmupEpochs: 2 }, epoch: 0, stepsPerEpoch: 50, want: 0.1 * (1 / 100) },
  { name: 'warm-up middle, DAT factor', s: { warmupEpochs: 2 }, epoch: 1 + 9 / 50, stepsPerEpoch: 50, want: 0.1 * (60 / 100) },
  { name: 'warm-up last step reaches lr', s: { warmupEpochs: 2 }, epoch: 1 + 49 / 50, stepsPerEpoch: 50, want: 0.1 },
  { name: 'warm-up half way', s: { warmupEpochs: 2 }, epoch: 1, want: 0.05 },
  { name: 'warm-up end', s: { warmupEpochs: 2 }, epoch: 2, want: 0.1 },
  // step: milestones 3 and 6 (absolute epochs).
  { name: 'step before first milestone', s: { schedule: 'step', milestones: [3, 6] }, epoch: 2.999, want: 0.1 },
  { name: 'step at first milestone', s: { schedule: 'step', milestones: [3, 6] }, epoch: 3, want: 0.01 },
  { name: 'step between milestones', s: { schedule: 'step', milestones: [3, 6] }, epoch: 5.5, want: 0.01 },
  { name: 'step at second milestone', s: { schedule: 'step', milestones: [3, 6] }, epoch: 6, want: 0.001 },
  { name: 'step past the end', s: { schedule: 'step', milestones: [3, 6] }, epoch: 12, want: 0.001 },
  { name: 'step with gamma 0.5 and warm-up', s: { schedule: 'step', milestones: [1], gamma: 0.5, warmupEpochs: 2 }, epoch: 1, want: 0.1 * 0.5 * 0.5 },
  // cosine from the end of warm-up to the end.
  { name: 'cosine start', s: { schedule: 'cosine' }, epoch: 0, want: 0.1 },
  { name: 'cosine middle', s: { schedule: 'cosine' }, epoch: 5, want: 0.05 },
  { name: 'cosine quarter', s: { schedule: 'cosine' }, epoch: 2.5, want: 0.1 * 0.5 * (1 + Math.SQRT1_2) },
  { name: 'cosine end', s: { schedule: 'cosine' }, epoch: 10, want: 0 },
  { name: 'cosine after warm-up starts at lr', s: { schedule: 'cosine', warmupEpochs: 2 }, epoch: 2, want: 0.1 },
  { name: 'cosine with warm-up, middle of decay', s: { schedule: 'cosine', warmupEpochs: 2 }, epoch: 6, want: 0.05 },
  // cyclic: 0 → lr at 40% → 0 (np.interp([e], [0, 0.4E, E], [0, lr, 0])).
  { name: 'cyclic start', s: { schedule: 'cyclic' }, epoch: 0, want: 0 },
  { name: 'cyclic rising', s: { schedule: 'cyclic' }, epoch: 2, want: 0.05 },
  { name: 'cyclic peak at 40%', s: { schedule: 'cyclic' }, epoch: 4, want: 0.1 },
  { name: 'cyclic falling', s: { schedule: 'cyclic' }, epoch: 7, want: 0.05 },
  { name: 'cyclic end', s: { schedule: 'cyclic' }, epoch: 10, want: 0 },
  { name: 'cyclic past the end', s: { schedule: 'cyclic' }, epoch: 11, want: 0 },
];

for (const c of cases) {
  test(`${c.name}: epoch ${c.epoch} → ${c.want}`, () => {
    const s = { ...base, ...c.s };
    validateScheduleOptions(s);
    const got = learningRateAt(s, c.epoch, c.stepsPerEpoch);
    assert.ok(Math.abs(got - c.want) < 1e-12, `-want ${c.want} +got ${got}`);
  });
}

test('bad schedule options are refused naming the field', () => {
  const bad: readonly [Partial<ScheduleOptions>, RegExp][] = [
    [{ lr: -1 }, /^schedule constant: lr must be/],
    [{ epochs: 0 }, /^schedule constant: epochs must be/],
    [{ warmupEpochs: 11 }, /^schedule constant: warmupEpochs must be/],
    [{ schedule: 'step', milestones: [5, 3] }, /^schedule step: milestones must be strictly increasing/],
    [{ schedule: 'step', gamma: 0 }, /^schedule step: gamma must be/],
    [{ schedule: 'cosine', warmupEpochs: 10 }, /^schedule cosine: warmupEpochs must be less than/],
  ];
  for (const [s, re] of bad) {
    assert.throws(
      () => validateScheduleOptions({ ...base, ...s }),
      (e: unknown) => e instanceof ConfigError && re.test(e.message),
    );
  }
});

test('epsWarmupFactor ramps linearly per step, never reaches 0 and ends at 1', () => {
  const cases: { name: string; warmup: number; epoch: number; steps: number; want: number }[] = [
    { name: 'off', warmup: 0, epoch: 0, steps: 10, want: 1 },
    { name: 'first step already attacks', warmup: 2, epoch: 0, steps: 10, want: 1 / 20 },
    { name: 'middle of the first epoch', warmup: 2, epoch: 0.5, steps: 10, want: 6 / 20 },
    { name: 'last warm-up step reaches eps', warmup: 2, epoch: 1.9, steps: 10, want: 1 },
    { name: 'after the warm-up', warmup: 2, epoch: 5, steps: 10, want: 1 },
    { name: 'fractional warm-up', warmup: 0.5, epoch: 0.2, steps: 10, want: 0.6 },
  ];
  for (const c of cases) assert.ok(Math.abs(epsWarmupFactor(c.warmup, c.epoch, c.steps) - c.want) < 1e-12, `${c.name}: -want ${c.want} +got ${epsWarmupFactor(c.warmup, c.epoch, c.steps)}`);
});
