import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DATJob, DATJobPodGroupSpec } from '../../../operator/api/types.js';
import { REQUEUE_ANNOTATION, buildPodGroup, buildPodGroupMembership, requeueRemainingMs } from '../../../operator/desired/pod-group.js';
import { buildWorkerPod } from '../../../operator/desired/worker-pod.js';
import { makeDATJob } from '../../support/fixtures/datjob-builder.js';

const withGroup = (podGroup: DATJobPodGroupSpec | undefined, schedulerName?: string): DATJob => {
  const job = makeDATJob('g').namespace('ns').uid('u').workers(4).template(schedulerName === undefined ? {} : { spec: { schedulerName } }).obj();
  return podGroup === undefined ? job : { ...job, spec: { ...job.spec, scheduling: { podGroup } } };
};

test('buildPodGroup renders each scheduler\'s PodGroup with minMember = replicas', () => {
  const cases: { name: string; pg: DATJobPodGroupSpec | undefined; want: { apiVersion: string; spec: Record<string, unknown> } | undefined }[] = [
    { name: 'none', pg: undefined, want: undefined },
    { name: 'coscheduling', pg: { scheduler: 'Coscheduling' }, want: { apiVersion: 'scheduling.x-k8s.io/v1alpha1', spec: { minMember: 4 } } },
    { name: 'coscheduling timeout', pg: { scheduler: 'Coscheduling', scheduleTimeoutSeconds: 30 }, want: { apiVersion: 'scheduling.x-k8s.io/v1alpha1', spec: { minMember: 4, scheduleTimeoutSeconds: 30 } } },
    { name: 'volcano queue', pg: { scheduler: 'Volcano', queue: 'q' }, want: { apiVersion: 'scheduling.volcano.sh/v1beta1', spec: { minMember: 4, queue: 'q' } } },
  ];
  for (const c of cases) {
    const got = buildPodGroup(withGroup(c.pg));
    assert.deepEqual(got === undefined ? undefined : { apiVersion: got.apiVersion, spec: got.spec }, c.want, c.name);
    if (got !== undefined) {
      assert.equal(got.metadata.name, 'g');
      assert.equal(got.metadata.ownerReferences[0]?.uid, 'u', 'owned by the job (garbage-collected with it)');
    }
  }
});

test('worker pods join the group; a schedulerName in the template wins over the scheduler\'s default', () => {
  const cos = buildWorkerPod(withGroup({ scheduler: 'Coscheduling' }), 1);
  assert.equal(cos.metadata?.labels?.['scheduling.x-k8s.io/pod-group'], 'g');
  assert.equal(cos.spec?.schedulerName, 'scheduler-plugins-scheduler');
  const vol = buildWorkerPod(withGroup({ scheduler: 'Volcano' }), 1);
  assert.equal(vol.metadata?.annotations?.['scheduling.k8s.io/group-name'], 'g');
  assert.equal(vol.spec?.schedulerName, 'volcano');
  assert.equal(buildWorkerPod(withGroup({ scheduler: 'Volcano' }, 'my-volcano'), 0).spec?.schedulerName, 'my-volcano');
  assert.equal(buildWorkerPod(withGroup(undefined), 0).spec?.schedulerName, undefined);
  assert.deepEqual(buildPodGroupMembership(withGroup(undefined)), { labels: {}, annotations: {} });
});

test('buildPodGroup carries the requeue round while the gang is unschedulable, for both schedulers', () => {
  const cases: { name: string; waitedMs: number | undefined; want: Record<string, string> | undefined; wantNextMs?: number }[] = [
    { name: 'nothing unschedulable: no annotation (the existing value is left alone)', waitedMs: undefined, want: undefined },
    { name: 'just unschedulable', waitedMs: 0, want: { [REQUEUE_ANNOTATION]: '0' }, wantNextMs: 30_000 },
    { name: '29 s', waitedMs: 29_000, want: { [REQUEUE_ANNOTATION]: '0' }, wantNextMs: 1_000 },
    { name: '30 s', waitedMs: 30_000, want: { [REQUEUE_ANNOTATION]: '1' }, wantNextMs: 30_000 },
    { name: '95 s', waitedMs: 95_000, want: { [REQUEUE_ANNOTATION]: '3' }, wantNextMs: 25_000 },
  ];
  for (const scheduler of ['Coscheduling', 'Volcano'] as const) {
    for (const c of cases) {
      const got = buildPodGroup(withGroup({ scheduler }), c.waitedMs === undefined ? undefined : { waitedMs: c.waitedMs });
      assert.deepEqual(got?.metadata.annotations, c.want, `${scheduler}: ${c.name}`);
      if (c.waitedMs !== undefined) assert.equal(requeueRemainingMs(c.waitedMs), c.wantNextMs, `${scheduler}: ${c.name}: next requeue`);
    }
  }
  assert.equal(buildPodGroup(withGroup(undefined), { waitedMs: 95_000 }), undefined, 'no PodGroup: nothing to annotate');
});
