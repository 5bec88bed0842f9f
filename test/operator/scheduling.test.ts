import { test } from 'node:test';
import assert from 'node:assert/strict';
import { findUnschedulable, schedulingRemainingMs } from '../../operator/scheduling.js';
import { makeDATJob } from '../support/fixtures/datjob-builder.js';
import { makePod, type PodState } from './_pods.js';

const now = new Date('2026-01-01T00:10:00.000Z');
const msg = (n: number): string => `0/${n} nodes are available: ${n} Insufficient example.com/gpu.`;

test('findUnschedulable counts pods the scheduler could not place and reports the longest wait', () => {
  const job = makeDATJob('j').workers(3).obj();
  const cases: { name: string; pods: PodState[]; want: ReturnType<typeof findUnschedulable> }[] = [
    { name: 'none pending', pods: [{ phase: 'Running' }, { phase: 'Running' }], want: undefined },
    { name: 'pending, not yet tried', pods: [{}], want: undefined },
    { name: 'gated', pods: [{ gated: true }, { gated: true }], want: undefined },
    {
      name: 'two unschedulable, oldest wins',
      pods: [{ phase: 'Running' }, { unschedulable: { since: '2026-01-01T00:09:00.000Z', message: msg(1) } }, { unschedulable: { since: '2026-01-01T00:05:00.000Z', message: msg(2) } }],
      want: { pods: 2, waitedMs: 300_000, message: msg(2) },
    },
    { name: 'deleting pods do not count', pods: [{ deleting: true, unschedulable: { since: '2026-01-01T00:00:00.000Z', message: msg(1) } }], want: undefined },
  ];
  for (const c of cases) {
    const pods = c.pods.map((s, rank) => makePod(job, rank, s));
    assert.deepEqual(findUnschedulable(pods, now), c.want, c.name);
  }
});

test('findUnschedulable truncates long scheduler messages; schedulingRemainingMs counts down from the timeout', () => {
  const job = makeDATJob('j').workers(1).runPolicy({ schedulingTimeoutSeconds: 600 }).obj();
  const long = 'x'.repeat(1000);
  const gang = findUnschedulable([makePod(job, 0, { unschedulable: { since: '2026-01-01T00:09:00.000Z', message: long } })], now);
  assert.equal(gang?.message.length, 400);
  assert.equal(schedulingRemainingMs(job, gang), 540_000);
  assert.equal(schedulingRemainingMs(makeDATJob('d').obj(), gang), 240_000, 'the default timeout is 300 s');
  assert.equal(schedulingRemainingMs(job, undefined), undefined);
});
