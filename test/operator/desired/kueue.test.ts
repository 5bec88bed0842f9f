import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildKueuePodMetadata, buildPodGroupName, isKueueManaged, needsGroupRelease } from '../../../operator/desired/kueue.js';
import { buildWorkerPod } from '../../../operator/desired/worker-pod.js';
import { makeDATJob } from '../../support/fixtures/datjob-builder.js';

const queued = makeDATJob('train').uid('0a1b2c3d-4e5f-6789-abcd-ef0123456789').workers(3).labels({ 'kueue.x-k8s.io/queue-name': 'gpu-queue' });

test('buildKueuePodMetadata puts each incarnation in its own group of replicas pods', () => {
  const cases = [
    { name: 'no queue label', job: makeDATJob('plain').obj(), incarnation: 0, want: { labels: {}, annotations: {} } },
    { name: 'empty queue label', job: makeDATJob('e').labels({ 'kueue.x-k8s.io/queue-name': '' }).obj(), incarnation: 0, want: { labels: {}, annotations: {} } },
    {
      name: 'first incarnation',
      job: queued.obj(),
      incarnation: 0,
      want: {
        labels: { 'kueue.x-k8s.io/queue-name': 'gpu-queue', 'kueue.x-k8s.io/pod-group-name': 'train-0a1b2c3d-0' },
        annotations: { 'kueue.x-k8s.io/pod-group-total-count': '3' },
      },
    },
    {
      name: 'after two restarts',
      job: queued.obj(),
      incarnation: 2,
      want: {
        labels: { 'kueue.x-k8s.io/queue-name': 'gpu-queue', 'kueue.x-k8s.io/pod-group-name': 'train-0a1b2c3d-2' },
        annotations: { 'kueue.x-k8s.io/pod-group-total-count': '3' },
      },
    },
  ];
  for (const c of cases) assert.deepEqual(buildKueuePodMetadata(c.job, c.incarnation), c.want, c.name);
  assert.equal(isKueueManaged(queued.obj()), true);
  assert.equal(isKueueManaged(makeDATJob('plain').obj()), false);
  // The longest job name (48) still gives a valid label value (<= 63).
  assert.ok(buildPodGroupName(makeDATJob('a'.repeat(48)).uid('ffffffff-0000').obj(), 999).length <= 63);
});

test('worker pods of a queued job carry the group; the operator\'s keys win over the template\'s', () => {
  const job = queued
    .status({ restarts: 1 })
    .template({ metadata: { labels: { 'kueue.x-k8s.io/pod-group-name': 'mine' }, annotations: { 'kueue.x-k8s.io/pod-group-total-count': '9', keep: 'me' } } })
    .obj();
  const pod = buildWorkerPod(job, 2);
  assert.equal(pod.metadata?.labels?.['kueue.x-k8s.io/pod-group-name'], 'train-0a1b2c3d-1');
  assert.equal(pod.metadata?.labels?.['kueue.x-k8s.io/queue-name'], 'gpu-queue');
  assert.deepEqual(pod.metadata?.annotations, { 'kueue.x-k8s.io/pod-group-total-count': '3', keep: 'me' });
  assert.equal(needsGroupRelease(pod), true);
  const released = { ...pod, metadata: { ...pod.metadata, annotations: { 'kueue.x-k8s.io/retriable-in-group': 'false' } } };
  assert.equal(needsGroupRelease(released), false);
  assert.equal(needsGroupRelease(buildWorkerPod(makeDATJob('plain').obj(), 0)), false, 'pods outside Kueue need nothing');
});
