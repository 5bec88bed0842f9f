/**
 * The status of a DATJob as a pure function of its spec, its previous status,
 * its observed pods and rank 0's progress. The reconciler derives every action
 * from the result (create, delete stale, clean up), which keeps the reconcile
 * level-triggered: a crash between steps is repaired by the next pass.
 */
import type { FinalEvaluationReport, ProgressReport } from '../common/contract.js';
import type { Condition, DATJob, DATJobEvaluationStatus, DATJobProgress, DATJobStatus } from './api/types.js';
import { isConditionTrue, setCondition, findCondition } from './conditions.js';
import { CONDITION_TYPES, DEFAULTS, MAX_CONDITION_MESSAGE, MESSAGES, PHASES, REASONS, type Phase } from './constants.js';
import { isPermanentFailure, isPreemption, type ObservedPods, type WorkerFailure } from './pods.js';
import { describeUnschedulable, findUnschedulable, isSchedulingTimedOut, schedulingTimeoutPolicy, type UnschedulableGang } from './scheduling.js';
import { findSpecProblem } from './spec-checks.js';

/** What the reconciler observed about the job's world. */
export interface Observed {
  readonly pods: ObservedPods;
  /** Rank 0's latest progress report, when the poller has one for the current incarnation. */
  readonly progress?: ProgressReport;
  /** The API server's latest refusal to create a child of this job (it makes the job Blocked). */
  readonly refusal?: { readonly message: string };
}

/** True when the job reached Succeeded or Failed. */
export function isFinished(status: DATJobStatus | undefined): boolean {
  return isConditionTrue(status?.conditions, CONDITION_TYPES.succeeded) || isConditionTrue(status?.conditions, CONDITION_TYPES.failed);
}

/** True when `spec.runPolicy.suspend` is set. */
export function isSuspended(job: DATJob): boolean {
  return job.spec.runPolicy?.suspend === true;
}

/** Milliseconds until `activeDeadlineSeconds` runs out (undefined when no deadline or not started). */
export function deadlineRemainingMs(job: DATJob, status: DATJobStatus, now: Date): number | undefined {
  const ads = job.spec.runPolicy?.activeDeadlineSeconds;
  if (ads === undefined || status.startTime === undefined) return undefined;
  return Date.parse(status.startTime) + ads * 1000 - now.getTime();
}

/** Milliseconds until a Running gang counts as hung (undefined when there is no progress deadline or it is not Running). */
export function progressRemainingMs(job: DATJob, status: DATJobStatus, now: Date): number | undefined {
  const pds = job.spec.runPolicy?.progressDeadlineSeconds;
  const running = findCondition(status.conditions, CONDITION_TYPES.running);
  if (pds === undefined || running?.status !== 'True') return undefined;
  const since = Math.max(Date.parse(running.lastTransitionTime), Date.parse(status.progress?.lastProgressTime ?? '') || 0);
  return since + pds * 1000 - now.getTime();
}

/** Milliseconds until a finished job's TTL expires (undefined when none). */
export function ttlRemainingMs(job: DATJob, status: DATJobStatus | undefined, now: Date): number | undefined {
  const ttl = job.spec.runPolicy?.ttlSecondsAfterFinished;
  if (ttl === undefined || status?.completionTime === undefined || !isFinished(status)) return undefined;
  return Date.parse(status.completionTime) + ttl * 1000 - now.getTime();
}

/**
 * Computes the next status.
 *
 * 1. Counts and `observedGeneration` always follow the observation.
 * 2. A finished job keeps its terminal conditions; a spec that can never
 *    start (spec-checks.ts) fails at once, before any pod exists.
 * 3. Suspend wins over everything else while set; resume clears it and restarts the deadline clock.
 * 4. Then, in order: deadline exceeded, permanent failure, retryable failure or hang
 *    (gang restart until `backoffLimit`), scheduling timeout with policy Fail,
 *    a create the API server refused (Blocked), all succeeded, all running.
 *    Blocked clears once every current pod exists.
 * 5. The Unschedulable condition follows the gang's pods: True past the
 *    scheduling timeout, False again once none is unschedulable.
 */
export function computeStatus(job: DATJob, observed: Observed, now: Date): DATJobStatus {
  const prev = job.status ?? {};
  const conditions: Condition[] = (prev.conditions ?? []).map((c) => ({ ...c }));
  const replicas = job.spec.workers.replicas;
  const pods = observed.pods;
  const nowIso = now.toISOString();
  let restarts = prev.restarts ?? 0;
  let preemptions = prev.preemptions ?? 0;
  let startTime = prev.startTime;
  let completionTime = prev.completionTime;
  let progress = mergeProgress(prev.progress, observed.progress, nowIso);
  const evaluation = computeEvaluationStatus(prev.evaluation, observed.progress?.finalEvaluation);
  let phase: Phase;
  const set = (type: string, status: Condition['status'], reason: string, message: string): void => {
    setCondition(conditions, { type, status, reason, message }, now);
  };

  // Step 1
  const base = {
    observedGeneration: job.metadata.generation,
    workers: { active: pods.active, ready: pods.ready, failed: pods.failures.length, succeeded: pods.succeeded },
    readyText: `${pods.ready}/${replicas}`,
  };
  set(CONDITION_TYPES.created, 'True', REASONS.jobCreated, MESSAGES.jobCreated);

  // Step 2
  if (isFinished(prev)) {
    // Rank 0's termination message may be read only after Succeeded was written: its evaluation still lands.
    return { ...prev, ...base, conditions, progress, evaluation };
  }
  const problem = findSpecProblem(job);
  if (problem !== undefined) {
    set(CONDITION_TYPES.failed, 'True', REASONS.invalidSpec, `${problem.message}: not starting any worker`);
    return { ...prev, ...base, conditions, phase: PHASES.failed, completionTime: nowIso, progress };
  }

  // Step 3
  if (isSuspended(job)) {
    set(CONDITION_TYPES.suspended, 'True', REASONS.jobSuspended, MESSAGES.jobSuspended);
    // Like batch/v1 Job: the deadline counts running time only, from the last resume.
    return { ...prev, ...base, conditions, phase: PHASES.suspended, startTime: undefined, progress };
  }
  if (isConditionTrue(conditions, CONDITION_TYPES.suspended)) {
    set(CONDITION_TYPES.suspended, 'False', REASONS.jobResumed, MESSAGES.jobResumed);
  }
  startTime ??= nowIso;

  // Step 4
  if (observed.refusal === undefined && isConditionTrue(conditions, CONDITION_TYPES.blocked) && pods.current.size >= replicas) {
    set(CONDITION_TYPES.blocked, 'False', REASONS.childrenCreated, MESSAGES.childrenCreated);
  }
  const failure = pickFailure(job, prev, pods, now);
  const unschedulable = findUnschedulable(pods.current.values(), now);
  const schedulingTimedOut = isSchedulingTimedOut(job, unschedulable);
  const deadlineLeft = deadlineRemainingMs(job, { ...prev, startTime }, now);
  const hungLeft = progressRemainingMs(job, { ...prev, conditions, progress }, now);
  if (deadlineLeft !== undefined && deadlineLeft <= 0) {
    set(CONDITION_TYPES.failed, 'True', REASONS.deadlineExceeded, MESSAGES.deadlineExceeded);
    phase = PHASES.failed;
    completionTime = nowIso;
  } else if (failure !== undefined && isPermanentFailure(failure)) {
    set(CONDITION_TYPES.failed, 'True', REASONS.permanentError, `${describeFailure(failure)}, a permanent error: not restarting`);
    phase = PHASES.failed;
    completionTime = nowIso;
  } else if (failure !== undefined && isPreemption(failure)) {
    // Preemption is not the job's fault: a new gang queues again and resumes from the checkpoint, with no backoffLimit cost.
    restarts++;
    preemptions++;
    set(CONDITION_TYPES.restarting, 'True', REASONS.preempted, `${describeFailure(failure)}: restarting all workers from the last checkpoint once admitted again (preemption ${preemptions}, not counted against backoffLimit)`);
    phase = PHASES.restarting;
    progress = progress === undefined ? undefined : { ...progress, lastProgressTime: undefined };
  } else if (failure !== undefined || (hungLeft !== undefined && hungLeft <= 0)) {
    const reason = failure !== undefined ? REASONS.workerFailed : REASONS.progressDeadlineExceeded;
    const what = failure !== undefined ? describeFailure(failure) : `no training progress for ${job.spec.runPolicy?.progressDeadlineSeconds ?? 0}s`;
    const limit = job.spec.runPolicy?.backoffLimit ?? DEFAULTS.backoffLimit;
    const counted = restarts - preemptions;
    if (counted >= limit) {
      set(CONDITION_TYPES.failed, 'True', REASONS.backoffLimitExceeded, `${what} and the gang was already restarted ${counted} times (backoffLimit ${limit})`);
      phase = PHASES.failed;
      completionTime = nowIso;
    } else {
      restarts++;
      set(CONDITION_TYPES.restarting, 'True', reason, `${what}: restarting all workers (restart ${counted + 1} of ${limit})`);
      phase = PHASES.restarting;
      // The new gang gets a fresh progress clock; the step count itself stays (it is monotonic across resumes).
      progress = progress === undefined ? undefined : { ...progress, lastProgressTime: undefined };
    }
  } else if (schedulingTimedOut && schedulingTimeoutPolicy(job) === 'Fail') {
    set(CONDITION_TYPES.failed, 'True', REASONS.schedulingTimeout, `${describeUnschedulable(job, unschedulable!)}; schedulingTimeoutPolicy is Fail`);
    phase = PHASES.failed;
    completionTime = nowIso;
  } else if (observed.refusal !== undefined) {
    set(CONDITION_TYPES.blocked, 'True', REASONS.createRefused, truncate(observed.refusal.message, MAX_CONDITION_MESSAGE));
    phase = PHASES.blocked;
  } else if (pods.succeeded === replicas) {
    set(CONDITION_TYPES.succeeded, 'True', REASONS.allWorkersSucceeded, MESSAGES.allWorkersSucceeded);
    phase = PHASES.succeeded;
    completionTime = nowIso;
  } else if (pods.running + pods.succeeded === replicas && pods.running > 0) {
    set(CONDITION_TYPES.running, 'True', REASONS.allWorkersRunning, MESSAGES.allWorkersRunning);
    phase = PHASES.running;
  } else {
    phase = isConditionTrue(conditions, CONDITION_TYPES.blocked)
      ? PHASES.blocked
      : isConditionTrue(conditions, CONDITION_TYPES.restarting)
        ? PHASES.restarting
        : isConditionTrue(conditions, CONDITION_TYPES.running)
          ? PHASES.running
          : PHASES.pending;
  }
  // Step 5
  setUnschedulableCondition(conditions, job, unschedulable, schedulingTimedOut, now);
  return { ...prev, ...base, conditions, phase, restarts, ...(preemptions > 0 ? { preemptions } : {}), startTime, completionTime, progress, evaluation };
}

/** Sets Unschedulable True for a timed-out gang, or False once it was True and no worker is unschedulable any more. */
function setUnschedulableCondition(conditions: Condition[], job: DATJob, gang: UnschedulableGang | undefined, timedOut: boolean, now: Date): void {
  if (gang !== undefined && timedOut) {
    setCondition(conditions, { type: CONDITION_TYPES.unschedulable, status: 'True', reason: REASONS.podsUnschedulable, message: describeUnschedulable(job, gang) }, now);
  } else if (gang === undefined && isConditionTrue(conditions, CONDITION_TYPES.unschedulable)) {
    setCondition(conditions, { type: CONDITION_TYPES.unschedulable, status: 'False', reason: REASONS.podsScheduled, message: MESSAGES.podsScheduled }, now);
  }
}

/** The first failure of the current incarnation, or a missing pod of a gang that was Running. */
function pickFailure(job: DATJob, prev: DATJobStatus, pods: ObservedPods, _now: Date): WorkerFailure | undefined {
  const permanent = pods.failures.find(isPermanentFailure);
  if (permanent !== undefined) return permanent;
  // Ranks that crash because a preempted peer left the ring are a consequence, not the cause.
  const preempted = pods.failures.find(isPreemption);
  if (preempted !== undefined) return preempted;
  if (pods.failures.length > 0) return pods.failures[0];
  // A rank deleted from under a running gang breaks the ring just like a crash.
  if (isConditionTrue(prev.conditions, CONDITION_TYPES.running)) {
    for (let rank = 0; rank < job.spec.workers.replicas; rank++) {
      if (!pods.current.has(rank)) return { rank, pod: '', reason: 'PodDeleted' };
    }
  }
  return undefined;
}

function describeFailure(f: WorkerFailure): string {
  if (f.exitCode !== undefined) return `worker ${f.rank} exited with code ${f.exitCode}${f.message === undefined ? '' : ` (${f.message})`}`;
  if (f.reason === 'PodDeleted') return `worker ${f.rank} was deleted`;
  if (isPreemption(f)) return `worker ${f.rank} was ${f.message ?? 'preempted'}`;
  return `worker ${f.rank} failed${f.reason === undefined ? '' : ` (${f.reason})`}`;
}

/** Copies a progress report into status form; `lastProgressTime` moves only when the step advances, metrics a report lacks are kept. */
export function mergeProgress(prev: DATJobProgress | undefined, report: ProgressReport | undefined, nowIso: string): DATJobProgress | undefined {
  if (report === undefined) return prev;
  const advanced = prev?.step === undefined || report.step > prev.step;
  return {
    epoch: report.epoch,
    totalEpochs: report.totalEpochs,
    step: report.step,
    totalSteps: report.totalSteps,
    lastHeartbeat: report.lastHeartbeat,
    // Evaluations are periodic: keep the last one until a newer report carries another.
    loss: report.loss ?? prev?.loss,
    cleanAccuracy: report.cleanAccuracy ?? prev?.cleanAccuracy,
    robustAccuracy: report.robustAccuracy ?? prev?.robustAccuracy,
    imagesPerSecond: report.imagesPerSecond ?? prev?.imagesPerSecond,
    lastProgressTime: advanced ? nowIso : prev?.lastProgressTime,
  };
}

/**
 * `status.evaluation` from rank 0's final evaluation: the newest report's
 * when it carries one, else the previous status's (a later report of a
 * restarted gang has none until it finishes again).
 */
export function computeEvaluationStatus(prev: DATJobEvaluationStatus | undefined, report: FinalEvaluationReport | undefined): DATJobEvaluationStatus | undefined {
  if (report === undefined) return prev;
  return {
    attacks: [...report.attacks],
    eps: report.eps,
    examples: report.examples,
    cleanAccuracy: report.cleanAccuracy,
    perAttack: report.perAttack.map((p) => ({ attack: p.attack, robustAccuracy: p.robustAccuracy })),
    robustAccuracy: report.robustAccuracy,
    seconds: report.seconds,
  };
}

/** A Kubernetes Event to emit after a successful status write. */
export interface StatusEvent {
  readonly type: 'Normal' | 'Warning';
  readonly reason: string;
  readonly message: string;
}

const WARNING_TYPES: readonly string[] = [CONDITION_TYPES.restarting, CONDITION_TYPES.failed, CONDITION_TYPES.blocked, CONDITION_TYPES.unschedulable];

/** Cuts `s` to at most `max` characters, marking the cut. */
export function truncate(s: string, max: number): string {
  const mark = ' ... (truncated)';
  return s.length <= max ? s : `${s.slice(0, max - mark.length)}${mark}`;
}

/** Events for every condition that became True (or flipped to False on resume) between two statuses. */
export function computeEvents(before: DATJobStatus | undefined, after: DATJobStatus): StatusEvent[] {
  const events: StatusEvent[] = [];
  for (const c of after.conditions ?? []) {
    const old = findCondition(before?.conditions, c.type);
    // A second gang restart keeps Restarting True but is still an event worth a Warning.
    const restartedAgain = c.type === CONDITION_TYPES.restarting && (after.restarts ?? 0) !== (before?.restarts ?? 0);
    // A job blocked for a new reason (say, quota after the ServiceAccount was fixed) deserves its own Warning.
    const blockedAgain = c.type === CONDITION_TYPES.blocked && old?.message !== c.message;
    const flippedOn = c.status === 'True' && (old?.status !== 'True' || old.reason !== c.reason || restartedAgain || blockedAgain);
    const resumed = c.type === CONDITION_TYPES.suspended && c.status === 'False' && old?.status === 'True';
    if (flippedOn || resumed) {
      events.push({ type: WARNING_TYPES.includes(c.type) && c.status === 'True' ? 'Warning' : 'Normal', reason: c.reason, message: c.message });
    }
  }
  return events;
}

/** Deep equality of two statuses as JSON (undefined fields ignored), to skip no-op writes. */
export function statusEqual(a: DATJobStatus | undefined, b: DATJobStatus | undefined): boolean {
  return JSON.stringify(normalize(a ?? {})) === JSON.stringify(normalize(b ?? {}));
}

function normalize(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(normalize);
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) {
      const x = (v as Record<string, unknown>)[k];
      if (x !== undefined) out[k] = normalize(x);
    }
    return out;
  }
  return v;
}
