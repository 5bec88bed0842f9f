import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DATJob } from '../../operator/api/types.js';
import { createMetrics, OPERATOR_METRIC_NAMES } from '../../operator/metrics.js';
import { makeDATJob } from '../support/fixtures/datjob-builder.js';

/** The samples of one metric in the registry's exposition text, as `{labels} value` lines. */
async function samples(metrics: ReturnType<typeof createMetrics>, name: string): Promise<string[]> {
  const text = await metrics.registry.metrics();
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`))
    .map((l) => l.slice(name.length).trim())
    .sort();
}

test('scrape-time gauges read the job cache and the queue', async () => {
  const cases: { name: string; jobs: DATJob[]; depth: number; metric: string; want: string[] }[] = [
    {
      name: 'jobs by phase counts every phase, zeros included',
      jobs: [makeDATJob('a').status({ phase: 'Running' }).obj(), makeDATJob('b').status({ phase: 'Running' }).obj(), makeDATJob('c').obj()],
      depth: 0,
      metric: OPERATOR_METRIC_NAMES.jobs,
      want: ['{phase="Blocked"} 0', '{phase="Failed"} 0', '{phase="Pending"} 1', '{phase="Restarting"} 0', '{phase="Running"} 2', '{phase="Succeeded"} 0', '{phase="Suspended"} 0'],
    },
    {
      name: 'restarts per job from status.restarts, 0 when unset',
      jobs: [makeDATJob('a').namespace('ml').status({ phase: 'Running', restarts: 2 }).obj(), makeDATJob('b').obj()],
      depth: 0,
      metric: OPERATOR_METRIC_NAMES.jobRestarts,
      want: ['{namespace="default",datjob="b"} 0', '{namespace="ml",datjob="a"} 2'],
    },
    { name: 'restarts: no jobs, no series', jobs: [], depth: 0, metric: OPERATOR_METRIC_NAMES.jobRestarts, want: [] },
    { name: 'work-queue depth', jobs: [], depth: 3, metric: OPERATOR_METRIC_NAMES.workqueueDepth, want: ['3'] },
  ];
  for (const c of cases) {
    const m = createMetrics({ listJobs: () => c.jobs, queueDepth: () => c.depth });
    assert.deepEqual(await samples(m, c.metric), [...c.want].sort(), c.name);
  }
});

test('a deleted job\'s restarts series goes away at the next scrape', async () => {
  let jobs = [makeDATJob('a').status({ phase: 'Running', restarts: 1 }).obj(), makeDATJob('b').obj()];
  const m = createMetrics({ listJobs: () => jobs });
  assert.equal((await samples(m, OPERATOR_METRIC_NAMES.jobRestarts)).length, 2);
  jobs = [jobs[1]!];
  assert.deepEqual(await samples(m, OPERATOR_METRIC_NAMES.jobRestarts), ['{namespace="default",datjob="b"} 0']);
});

test('work-queue adds count each add; depth defaults to 0 without a queue', async () => {
  const m = createMetrics({ listJobs: () => [] });
  m.workqueueAdds.inc();
  m.workqueueAdds.inc();
  assert.deepEqual(await samples(m, OPERATOR_METRIC_NAMES.workqueueAdds), ['2']);
  assert.deepEqual(await samples(m, OPERATOR_METRIC_NAMES.workqueueDepth), ['0']);
});

test('every name in OPERATOR_METRIC_NAMES is registered', async () => {
  const m = createMetrics({ listJobs: () => [] });
  const registered = new Set((await m.registry.getMetricsAsJSON()).map((x) => x.name));
  for (const name of Object.values(OPERATOR_METRIC_NAMES)) assert.ok(registered.has(name), `${name} is registered`);
});
