/**
 * A gang that cannot be placed says why. The scheduler records its verdict on
 * each pod it could not place: `PodScheduled=False` with reason
 * `Unschedulable` and a message such as `0/3 nodes are available: 3
 * Insufficient example.com/gpu` (the same text as the pod's FailedScheduling
 * event). Reading it from the pod status keeps the check level-triggered and
 * needs no watch on Events.
 *
 * Pods held by a scheduling gate (Kueue's `kueue.x-k8s.io/admission` while the
 * job waits in its queue) are queued, not unschedulable: they do not count.
 */
import type { V1Pod } from '@kubernetes/client-node';
import type { DATJob, SchedulingTimeoutPolicy } from './api/types.js';
import { DEFAULTS } from './constants.js';
import { isPodDeleting, podPhase } from './pods.js';

/** The scheduler's reason on a pod it could not place. */
export const UNSCHEDULABLE_REASON = 'Unschedulable';

/** Longest scheduler message carried into a condition. */
const MAX_SCHEDULER_MESSAGE = 400;

/** Unschedulable pods of the current gang, as the status needs them. */
export interface UnschedulableGang {
  /** Pods the scheduler could not place. */
  readonly pods: number;
  /** Milliseconds since the longest-waiting of them became unschedulable. */
  readonly waitedMs: number;
  /** The scheduler's message on that pod. */
  readonly message: string;
}

/** The scheduler's `PodScheduled=False, reason Unschedulable` condition of a pending pod, if any. */
export function unschedulableCondition(pod: V1Pod, now: Date): { message: string; since: number } | undefined {
  if (podPhase(pod) !== 'Pending' || isPodDeleting(pod) || (pod.spec?.nodeName ?? '') !== '') return undefined;
  const c = pod.status?.conditions?.find((x) => x.type === 'PodScheduled');
  if (c?.status !== 'False' || c.reason !== UNSCHEDULABLE_REASON) return undefined;
  // Older pods may lack the transition time; the pod's creation is the next best start.
  const since = Date.parse(String(c.lastTransitionTime ?? pod.metadata?.creationTimestamp ?? '')) || now.getTime();
  return { message: c.message ?? 'the scheduler gave no message', since };
}

/** The unschedulable pods among `pods`, with the longest wait and its message; undefined when none. */
export function findUnschedulable(pods: Iterable<V1Pod>, now: Date): UnschedulableGang | undefined {
  let count = 0;
  let oldest: { message: string; since: number } | undefined;
  for (const pod of pods) {
    const c = unschedulableCondition(pod, now);
    if (c === undefined) continue;
    count++;
    if (oldest === undefined || c.since < oldest.since) oldest = c;
  }
  if (oldest === undefined) return undefined;
  const message = oldest.message.length > MAX_SCHEDULER_MESSAGE ? `${oldest.message.slice(0, MAX_SCHEDULER_MESSAGE - 1)}…` : oldest.message;
  return { pods: count, waitedMs: Math.max(0, now.getTime() - oldest.since), message };
}

/** `runPolicy.schedulingTimeoutSeconds`, defaulted. */
export function schedulingTimeoutMs(job: DATJob): number {
  return (job.spec.runPolicy?.schedulingTimeoutSeconds ?? DEFAULTS.schedulingTimeoutSeconds) * 1000;
}

/** `runPolicy.schedulingTimeoutPolicy`, defaulted. */
export function schedulingTimeoutPolicy(job: DATJob): SchedulingTimeoutPolicy {
  return job.spec.runPolicy?.schedulingTimeoutPolicy ?? DEFAULTS.schedulingTimeoutPolicy;
}

/** Milliseconds until the unschedulable gang times out (undefined when nothing is unschedulable). */
export function schedulingRemainingMs(job: DATJob, gang: UnschedulableGang | undefined): number | undefined {
  return gang === undefined ? undefined : schedulingTimeoutMs(job) - gang.waitedMs;
}

/** True when the gang has been unschedulable for the whole timeout. */
export function isSchedulingTimedOut(job: DATJob, gang: UnschedulableGang | undefined): boolean {
  const left = schedulingRemainingMs(job, gang);
  return left !== undefined && left <= 0;
}

/**
 * The condition message: how many workers, the timeout, and the scheduler's
 * words. It names the timeout rather than the time waited, so the status does
 * not change (and is not rewritten) on every pass.
 */
export function describeUnschedulable(job: DATJob, gang: UnschedulableGang): string {
  const seconds = schedulingTimeoutMs(job) / 1000;
  return `${gang.pods} of ${job.spec.workers.replicas} workers could not be scheduled within ${seconds}s: ${gang.message}`;
}
