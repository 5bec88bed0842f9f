/** Classifying a job's owned pods into what the status and the reconcile need. */
import type { V1Pod } from '@kubernetes/client-node';
import { PERMANENT_EXIT_CODES } from '../common/contract.js';
import { KUEUE, LABELS, REASONS } from './constants.js';

/** A failed worker of the current incarnation. */
export interface WorkerFailure {
  readonly rank: number;
  readonly pod: string;
  /** Container exit code; undefined when the pod failed without one (eviction, node loss). */
  readonly exitCode?: number;
  readonly reason?: string;
  /** The container's own account of the failure: its termination message (or, failing that, its last log line). */
  readonly message?: string;
}

/** Owned pods, split by incarnation and state. */
export interface ObservedPods {
  /** Pods of the current incarnation, by rank. */
  readonly current: ReadonlyMap<number, V1Pod>;
  /** Pods of an older incarnation (or with no incarnation label): deleted before recreating. */
  readonly stale: readonly V1Pod[];
  /** Current pods Pending or Running and not being deleted. */
  readonly active: number;
  /** Current pods Running with the Ready condition (or just Running when no readiness is reported). */
  readonly ready: number;
  readonly running: number;
  readonly succeeded: number;
  readonly failures: readonly WorkerFailure[];
}

/** Phase of a pod as the operator treats it. */
export function podPhase(pod: V1Pod): string {
  return pod.status?.phase ?? 'Pending';
}

/** True when a pod reached Succeeded or Failed. */
export function isPodTerminal(pod: V1Pod): boolean {
  const phase = podPhase(pod);
  return phase === 'Succeeded' || phase === 'Failed';
}

/** True when a pod is being deleted. */
export function isPodDeleting(pod: V1Pod): boolean {
  return pod.metadata?.deletionTimestamp != null;
}

/** The worker container's exit code, when it terminated. */
export function podExitCode(pod: V1Pod): number | undefined {
  const statuses = pod.status?.containerStatuses ?? [];
  for (const s of statuses) {
    const code = s.state?.terminated?.exitCode ?? s.lastState?.terminated?.exitCode;
    if (code !== undefined) return code;
  }
  return undefined;
}

/** Longest failure message carried into conditions and events. */
const MAX_FAILURE_MESSAGE = 300;

/**
 * The last non-empty line of the worker container's termination message: the
 * worker writes its one-line fatal error there, and with
 * `terminationMessagePolicy: FallbackToLogsOnError` the kubelet falls back to
 * the log's tail. JSON (a final progress report) is not a failure message.
 */
export function podTerminationMessage(pod: V1Pod): string | undefined {
  for (const s of pod.status?.containerStatuses ?? []) {
    const text = s.state?.terminated?.message ?? s.lastState?.terminated?.message;
    const line = text?.split('\n').map((l) => l.trim()).filter((l) => l !== '').pop();
    if (line === undefined || line.startsWith('{')) continue;
    const bare = line.replace(/^dat: error: /, '');
    return bare.length > MAX_FAILURE_MESSAGE ? `${bare.slice(0, MAX_FAILURE_MESSAGE - 1)}…` : bare;
  }
  return undefined;
}

/**
 * Why a pod was stopped to make room for a higher-priority workload, or
 * undefined: Kueue sets `TerminationTarget` on the pods of an evicted Workload
 * before deleting them; the scheduler sets `DisruptionTarget` with reason
 * `PreemptionByScheduler` on a pod it preempts.
 */
export function podPreemptionMessage(pod: V1Pod): string | undefined {
  for (const c of pod.status?.conditions ?? []) {
    if (c.status !== 'True') continue;
    if (c.type === KUEUE.terminationTargetCondition) return `stopped by Kueue (${c.reason ?? 'no reason'}${c.message ? `: ${c.message}` : ''})`;
    if (c.type === 'DisruptionTarget' && c.reason === 'PreemptionByScheduler') return `preempted by the scheduler${c.message ? ` (${c.message})` : ''}`;
  }
  return undefined;
}

/** True when the failure is a preemption: the gang is replaced, and the restart is not counted against `backoffLimit`. */
export function isPreemption(f: WorkerFailure): boolean {
  return f.reason === REASONS.preempted;
}

/** True when no gang restart can help this failure (bad config, bad data). */
export function isPermanentFailure(f: WorkerFailure): boolean {
  return f.exitCode !== undefined && PERMANENT_EXIT_CODES.includes(f.exitCode);
}

/** Splits `pods` (already filtered to the job's) by incarnation and state. */
export function classifyPods(pods: readonly V1Pod[], incarnation: number, replicas: number): ObservedPods {
  const current = new Map<number, V1Pod>();
  const stale: V1Pod[] = [];
  for (const pod of pods) {
    const labels = pod.metadata?.labels ?? {};
    const rank = Number(labels[LABELS.rank]);
    const inc = Number(labels[LABELS.incarnation]);
    const inRange = Number.isInteger(rank) && rank >= 0 && rank < replicas;
    if (inc === incarnation && inRange && !current.has(rank)) current.set(rank, pod);
    else stale.push(pod);
  }
  let active = 0;
  let ready = 0;
  let running = 0;
  let succeeded = 0;
  const failures: WorkerFailure[] = [];
  for (const [rank, pod] of current) {
    const phase = podPhase(pod);
    const preempted = phase === 'Succeeded' ? undefined : podPreemptionMessage(pod);
    if (preempted !== undefined) failures.push({ rank, pod: pod.metadata?.name ?? '', reason: REASONS.preempted, message: preempted });
    else if (phase === 'Succeeded') succeeded++;
    else if (phase === 'Failed') {
      const exitCode = podExitCode(pod);
      const message = podTerminationMessage(pod);
      failures.push({ rank, pod: pod.metadata?.name ?? '', exitCode, reason: pod.status?.reason, ...(message === undefined ? {} : { message }) });
    } else if (!isPodDeleting(pod)) {
      active++;
      if (phase === 'Running') {
        running++;
        const readyCond = pod.status?.conditions?.find((c) => c.type === 'Ready');
        if (readyCond === undefined || readyCond.status === 'True') ready++;
      }
    }
  }
  failures.sort((a, b) => a.rank - b.rank);
  return { current, stale, active, ready, running, succeeded, failures };
}
