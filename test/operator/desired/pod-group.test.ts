import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DATJob, DATJobPodGroupSpec } from '../../../operator/api/types.js';
import { buildPodGroup, buildPodGroupMembership } from '../../../operator/desired/pod-group.js';
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
