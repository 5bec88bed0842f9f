/** Pod fixtures for the operator's unit tests. */
import type { V1Pod } from '@kubernetes/client-node';
import type { DATJob } from '../../operator/api/types.js';
import { buildWorkerPod } from '../../operator/desired/worker-pod.js';

/** Options of {@link makePod}. */
export interface PodState {
  readonly phase?: 'Pending' | 'Running' | 'Succeeded' | 'Failed';
  readonly exitCode?: number;
  readonly ready?: boolean;
  readonly deleting?: boolean;
  /** Incarnation label override (default: the job's status.restarts). */
  readonly incarnation?: number;
  readonly podIP?: string;
  /** The container's termination message (what the worker wrote, or the kubelet's log fallback). */
  readonly message?: string;
  /** A pending pod the scheduler could not place since `since`, with its message. */
  readonly unschedulable?: { readonly since: string; readonly message: string };
  /** A pending pod held by a scheduling gate (e.g. Kueue's admission gate). */
  readonly gated?: boolean;
  /** Kueue stopped the pod (its Workload was evicted, e.g. preempted): condition TerminationTarget. */
  readonly stoppedByKueue?: boolean;
}

/** The pod the operator would create for `rank`, in the given observed state. */
export function makePod(job: DATJob, rank: number, state: PodState = {}): V1Pod {
  const pod = buildWorkerPod(job, rank);
  if (state.incarnation !== undefined) pod.metadata!.labels!['dat-operator.io/incarnation'] = String(state.incarnation);
  if (state.deleting === true) pod.metadata!.deletionTimestamp = new Date('2026-01-01T00:00:00Z');
  const phase = state.phase ?? 'Pending';
  pod.status = {
    phase,
    podIP: state.podIP,
    conditions: [
      ...(phase === 'Running' ? [{ type: 'Ready', status: state.ready === false ? 'False' : 'True' }] : pendingConditions(state) ?? []),
      ...(state.stoppedByKueue === true ? [{ type: 'TerminationTarget', status: 'True', reason: 'WorkloadEvictedDueToPreempted', message: 'Preempted to accommodate a workload (UID: x) due to prioritization in the ClusterQueue' }] : []),
    ],
    containerStatuses:
      state.exitCode === undefined
        ? []
        : [{ name: 'worker', image: 'x', imageID: '', ready: false, restartCount: 0, state: { terminated: { exitCode: state.exitCode, ...(state.message === undefined ? {} : { message: state.message }) } } }],
  };
  return pod;
}

function pendingConditions(state: PodState): NonNullable<V1Pod['status']>['conditions'] {
  if (state.unschedulable !== undefined) {
    return [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: state.unschedulable.message, lastTransitionTime: new Date(state.unschedulable.since) }];
  }
  if (state.gated === true) return [{ type: 'PodScheduled', status: 'False', reason: 'SchedulingGated', message: 'Scheduling is blocked due to non-empty scheduling gates' }];
  return [];
}

/** `n` pods of `job` all in `state`. */
export function makePods(job: DATJob, n: number, state: PodState = {}): V1Pod[] {
  return Array.from({ length: n }, (_, r) => makePod(job, r, state));
}
