/**
 * Co-scheduling without Kueue: a PodGroup for a gang scheduler, with
 * `minMember` = replicas, so the scheduler binds all ranks or none.
 *
 * - scheduler-plugins' coscheduling: `scheduling.x-k8s.io/v1alpha1` PodGroup;
 *   pods carry the label `scheduling.x-k8s.io/pod-group` and run under the
 *   second scheduler the plugin ships as (`scheduler-plugins-scheduler`).
 * - Volcano: `scheduling.volcano.sh/v1beta1` PodGroup; pods carry the
 *   annotation `scheduling.k8s.io/group-name` and `schedulerName: volcano`.
 *
 * One PodGroup per job, named after it and owned by it (garbage-collected with
 * it); every gang incarnation's pods join it. A schedulerName set in the pod
 * template wins over the default.
 */
import type { DATJob, DATJobPodGroupSpec, GangScheduler } from '../api/types.js';
import { LABELS, MANAGED_BY } from '../constants.js';
import { buildOwnerReference } from './owner-reference.js';

/**
 * Set on the PodGroup while its gang waits unschedulable. scheduler-plugins'
 * Coscheduling (v0.34) retries the pods it rejected only on a Pod add or a
 * PodGroup add/update (its EventsToRegister), or on kube-scheduler's 5-minute
 * flush of unschedulable pods: resources freed elsewhere do not wake the gang.
 * Bumping this value is the PodGroup update that requeues it.
 */
export const REQUEUE_ANNOTATION = 'dat-operator.io/requeue';

/**
 * How often the waiting gang is requeued: far below the 5-minute flush, and
 * rare enough that each retry is one PodGroup write and one scheduling cycle.
 */
export const REQUEUE_INTERVAL_MS = 30_000;

/** API coordinates and pod wiring of each gang scheduler. */
export const GANG_SCHEDULER_APIS: Readonly<
  Record<GangScheduler, { group: string; version: string; plural: string; schedulerName: string; podLabel?: string; podAnnotation?: string }>
> = {
  Coscheduling: { group: 'scheduling.x-k8s.io', version: 'v1alpha1', plural: 'podgroups', schedulerName: 'scheduler-plugins-scheduler', podLabel: 'scheduling.x-k8s.io/pod-group' },
  Volcano: { group: 'scheduling.volcano.sh', version: 'v1beta1', plural: 'podgroups', schedulerName: 'volcano', podAnnotation: 'scheduling.k8s.io/group-name' },
};

/** A PodGroup as a plain object (the two APIs have no typed client here). */
export interface PodGroupObject {
  readonly apiVersion: string;
  readonly kind: 'PodGroup';
  readonly metadata: { name: string; namespace: string; labels: Record<string, string>; annotations?: Record<string, string>; ownerReferences: ReturnType<typeof buildOwnerReference>[] };
  readonly spec: Record<string, unknown>;
}

/**
 * The job's PodGroup, or undefined when `spec.scheduling.podGroup` is unset.
 * `unschedulable`: how long the current gang has waited unplaced; it adds the
 * requeue annotation. Without it there is no annotation, so an apply leaves
 * the value already on the PodGroup as it was (no churn once the gang binds).
 */
export function buildPodGroup(job: DATJob, unschedulable?: { readonly waitedMs: number }): PodGroupObject | undefined {
  const pg = job.spec.scheduling?.podGroup;
  if (pg === undefined) return undefined;
  const api = GANG_SCHEDULER_APIS[pg.scheduler];
  const name = job.metadata.name ?? '';
  return {
    apiVersion: `${api.group}/${api.version}`,
    kind: 'PodGroup',
    metadata: {
      name,
      namespace: job.metadata.namespace ?? 'default',
      labels: { [LABELS.jobName]: name, [LABELS.managedBy]: MANAGED_BY },
      ...(unschedulable === undefined ? {} : { annotations: { [REQUEUE_ANNOTATION]: String(computeRequeueRound(unschedulable.waitedMs)) } }),
      ownerReferences: [buildOwnerReference(job)],
    },
    spec: buildPodGroupSpec(pg, job.spec.workers.replicas),
  };
}

/** The requeue annotation's value: whole intervals the gang has waited. */
export function computeRequeueRound(waitedMs: number): number {
  return Math.floor(Math.max(0, waitedMs) / REQUEUE_INTERVAL_MS);
}

/** Milliseconds until the next requeue of a gang that has waited `waitedMs` (always > 0). */
export function requeueRemainingMs(waitedMs: number): number {
  return REQUEUE_INTERVAL_MS - (Math.max(0, waitedMs) % REQUEUE_INTERVAL_MS);
}

function buildPodGroupSpec(pg: DATJobPodGroupSpec, replicas: number): Record<string, unknown> {
  if (pg.scheduler === 'Coscheduling') {
    return { minMember: replicas, ...(pg.scheduleTimeoutSeconds === undefined ? {} : { scheduleTimeoutSeconds: pg.scheduleTimeoutSeconds }) };
  }
  return { minMember: replicas, ...(pg.queue === undefined ? {} : { queue: pg.queue }) };
}

/** What puts a worker pod in the job's PodGroup: a label or annotation, and the default schedulerName. */
export function buildPodGroupMembership(job: DATJob): { labels: Record<string, string>; annotations: Record<string, string>; schedulerName?: string } {
  const pg = job.spec.scheduling?.podGroup;
  if (pg === undefined) return { labels: {}, annotations: {} };
  const api = GANG_SCHEDULER_APIS[pg.scheduler];
  const name = job.metadata.name ?? '';
  return {
    labels: api.podLabel === undefined ? {} : { [api.podLabel]: name },
    annotations: api.podAnnotation === undefined ? {} : { [api.podAnnotation]: name },
    schedulerName: api.schedulerName,
  };
}
