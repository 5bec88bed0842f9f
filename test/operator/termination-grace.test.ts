import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Condition, DATJobStatus } from '../../operator/api/types.js';
import { FAILED_GANG_GRACE_SECONDS, staleGangGraceSeconds } from '../../operator/termination-grace.js';
import { makeDATJob } from '../support/fixtures/datjob-builder.js';

const restarting = (status: Condition['status'], reason: string): DATJobStatus => ({
  conditions: [{ type: 'Restarting', status, reason, message: 'm', lastTransitionTime: '2026-01-01T00:00:00Z' }],
});

test('staleGangGraceSeconds: short after a failure, the pods\' own otherwise', () => {
  const plain = makeDATJob('j').obj();
  const quick = makeDATJob('j').template({ spec: { terminationGracePeriodSeconds: 2 } }).obj();
  const slow = makeDATJob('j').template({ spec: { terminationGracePeriodSeconds: 600 } }).obj();
  const cases = [
    { name: 'no restart under way', job: plain, status: {}, want: undefined },
    { name: 'a worker failed', job: plain, status: restarting('True', 'WorkerFailed'), want: FAILED_GANG_GRACE_SECONDS },
    { name: 'no progress (a hung rank)', job: plain, status: restarting('True', 'ProgressDeadlineExceeded'), want: FAILED_GANG_GRACE_SECONDS },
    { name: 'a worker failed, template grace shorter still', job: quick, status: restarting('True', 'WorkerFailed'), want: 2 },
    { name: 'a worker failed, long template grace', job: slow, status: restarting('True', 'WorkerFailed'), want: FAILED_GANG_GRACE_SECONDS },
    { name: 'preempted: the ring is whole and saves', job: slow, status: restarting('True', 'Preempted'), want: undefined },
    { name: 'restart over', job: plain, status: restarting('False', 'AllWorkersRunning'), want: undefined },
  ];
  for (const c of cases) assert.equal(staleGangGraceSeconds(c.job, c.status), c.want, c.name);
});
