import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseProgressReport, ProgressPoller } from '../../operator/progress-poller.js';
import type { ProgressReport } from '../../common/contract.js';
import { makeDATJob } from '../support/fixtures/datjob-builder.js';
import { makePod } from './_pods.js';

const report = (step: number): ProgressReport => ({ phase: 'training', epoch: 1, totalEpochs: 2, step, totalSteps: 10, lastHeartbeat: '2026-01-01T00:00:00Z' });

test('ProgressPoller reads rank 0 of the current incarnation and enqueues started jobs', async () => {
  const started = makeDATJob('j').uid('u').status({ startTime: '2026-01-01T00:00:00Z', restarts: 1 }).obj();
  const notStarted = makeDATJob('k').uid('v').obj();
  const pods = [
    makePod(started, 0, { phase: 'Running', podIP: '127.0.0.9', incarnation: 0 }),
    makePod(started, 0, { phase: 'Running', podIP: '127.0.0.10', incarnation: 1 }),
    makePod(started, 1, { phase: 'Running', podIP: '127.0.0.11', incarnation: 1 }),
  ];
  const urls: string[] = [];
  const enqueued: string[] = [];
  const poller = new ProgressPoller({
    listJobs: () => [started, notStarted],
    listPods: (_ns, name) => (name === 'j' ? pods : []),
    enqueue: (k) => enqueued.push(k),
    fetcher: (url) => (urls.push(url), Promise.resolve(report(7))),
  });
  await poller.pollOnce();
  assert.deepEqual(urls, ['http://127.0.0.10:9400/progress']);
  assert.deepEqual(enqueued, ['default/j']);
  assert.equal(poller.get('default', 'j', 1)?.step, 7);
  assert.equal(poller.get('default', 'j', 0), undefined, 'a report never leaks into another incarnation');
});

test('parseProgressReport rejects malformed bodies', () => {
  const cases = [
    { input: report(1), ok: true },
    { input: { ...report(1), step: '1' }, ok: false },
    { input: null, ok: false },
    { input: 'x', ok: false },
  ];
  for (const c of cases) assert.equal(parseProgressReport(c.input) !== undefined, c.ok, JSON.stringify(c.input));
});
