import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Condition } from '../../operator/api/types.js';
import { setCondition } from '../../operator/conditions.js';

const T0 = '2026-01-01T00:00:00.000Z';
const now = new Date('2026-01-01T00:05:00.000Z');
const c = (type: string, status: Condition['status'], reason = 'R', message = 'm', at = T0): Condition => ({ type, status, reason, message, lastTransitionTime: at });

test('setCondition: adds, keeps transition time, flips, clears exclusive conditions', () => {
  const cases: { name: string; list: Condition[]; set: Condition; want: Condition[]; changed: boolean }[] = [
    { name: 'adds a new condition with now', list: [], set: c('Created', 'True'), want: [c('Created', 'True', 'R', 'm', now.toISOString())], changed: true },
    { name: 'identical condition is a no-op', list: [c('Created', 'True')], set: c('Created', 'True'), want: [c('Created', 'True')], changed: false },
    {
      name: 'same status, new reason keeps lastTransitionTime',
      list: [c('Restarting', 'True', 'WorkerFailed', 'a')],
      set: c('Restarting', 'True', 'WorkerFailed', 'b'),
      want: [c('Restarting', 'True', 'WorkerFailed', 'b')],
      changed: true,
    },
    { name: 'flip updates lastTransitionTime', list: [c('Suspended', 'True')], set: c('Suspended', 'False', 'JobResumed'), want: [c('Suspended', 'False', 'JobResumed', 'm', now.toISOString())], changed: true },
    {
      name: 'Running True clears Restarting',
      list: [c('Restarting', 'True')],
      set: c('Running', 'True', 'AllWorkersRunning', 'up'),
      want: [c('Restarting', 'False', 'AllWorkersRunning', 'up', now.toISOString()), c('Running', 'True', 'AllWorkersRunning', 'up', now.toISOString())],
      changed: true,
    },
    {
      name: 'Failed True clears Running, leaves Created alone',
      list: [c('Created', 'True'), c('Running', 'True')],
      set: c('Failed', 'True', 'PermanentError', 'bad'),
      want: [c('Created', 'True'), c('Running', 'False', 'PermanentError', 'bad', now.toISOString()), c('Failed', 'True', 'PermanentError', 'bad', now.toISOString())],
      changed: true,
    },
    {
      name: 'False condition does not touch others',
      list: [c('Running', 'True')],
      set: c('Restarting', 'False'),
      want: [c('Running', 'True'), c('Restarting', 'False', 'R', 'm', now.toISOString())],
      changed: true,
    },
  ];
  for (const tc of cases) {
    const list = tc.list.map((x) => ({ ...x }));
    const changed = setCondition(list, tc.set, now);
    assert.equal(changed, tc.changed, tc.name);
    assert.deepEqual(list, tc.want, tc.name);
  }
});
