/**
 * Kueue's pod-group integration. A DATJob labelled `kueue.x-k8s.io/queue-name`
 * gets pods that Kueue's pod webhook gates (`kueue.x-k8s.io/admission`) until
 * the whole group, one Workload of `replicas` pods, is admitted by the
 * ClusterQueue behind that LocalQueue. Why pod groups and not an external
 * framework: docs/kueue.md.
 *
 * Each gang incarnation is its own group (`<job>-<uid prefix>-<incarnation>`):
 * pod names are fixed per rank, so a replaced gang cannot join the old group
 * (Kueue would keep the old pods until their replacements exist, and those
 * cannot be created while the old names are taken). The old group is ended
 * instead: its pods are marked `retriable-in-group: "false"` before they are
 * deleted, Kueue finishes its Workload and releases the quota, and the new
 * incarnation queues again.
 */
import type { V1Pod } from '@kubernetes/client-node';
import type { DATJob } from '../api/types.js';
import { KUEUE } from '../constants.js';

/** The LocalQueue the job is submitted to, when Kueue manages it. */
export function kueueQueueName(job: DATJob): string | undefined {
  const q = job.metadata.labels?.[KUEUE.queueLabel];
  return q === undefined || q === '' ? undefined : q;
}

/** True when Kueue admits the job's pods. */
export function isKueueManaged(job: DATJob): boolean {
  return kueueQueueName(job) !== undefined;
}

/** Kueue's pod group of one incarnation; also the name of its Workload. */
export function buildPodGroupName(job: DATJob, incarnation: number): string {
  // The uid prefix keeps a recreated job with the same name out of the old job's finished groups.
  const uid = (job.metadata.uid ?? '').replace(/-/g, '').slice(0, 8);
  return [job.metadata.name ?? '', uid, String(incarnation)].filter((s) => s !== '').join('-');
}

/** Labels and annotations that put a worker pod in its incarnation's group; empty without a queue. */
export function buildKueuePodMetadata(job: DATJob, incarnation: number): { labels: Record<string, string>; annotations: Record<string, string> } {
  const queue = kueueQueueName(job);
  if (queue === undefined) return { labels: {}, annotations: {} };
  return {
    labels: { [KUEUE.queueLabel]: queue, [KUEUE.podGroupLabel]: buildPodGroupName(job, incarnation) },
    annotations: { [KUEUE.podGroupTotalCountAnnotation]: String(job.spec.workers.replicas) },
  };
}

/** True when a pod is in a Kueue group and not yet marked as not to be replaced. */
export function needsGroupRelease(pod: V1Pod): boolean {
  const meta = pod.metadata ?? {};
  return meta.labels?.[KUEUE.podGroupLabel] !== undefined && meta.annotations?.[KUEUE.retriableInGroupAnnotation] !== 'false';
}

/** The annotation that ends a pod's group (Kueue finishes the Workload once all its pods terminated). */
export const GROUP_RELEASE_ANNOTATIONS: Readonly<Record<string, string>> = { [KUEUE.retriableInGroupAnnotation]: 'false' };
