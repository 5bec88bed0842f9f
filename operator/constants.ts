/** Names the operator and its tests share: API coordinates, labels, condition types, reasons, defaults. */

/** API group of the DATJob CRD (under the project's own domain). */
export const GROUP = 'dat.dat-operator.io';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;
export const KIND = 'DATJob';
export const PLURAL = 'datjobs';

/** Label keys on every object the operator creates. */
export const LABELS = {
  /** Owning DATJob's name; the informers' label selector. */
  jobName: 'dat-operator.io/job-name',
  rank: 'dat-operator.io/rank',
  /** Gang incarnation (`status.restarts` when the pod was created): older pods are stale. */
  incarnation: 'dat-operator.io/incarnation',
  managedBy: 'app.kubernetes.io/managed-by',
} as const;

/** Value of the managed-by label. */
export const MANAGED_BY = 'dat-operator';

/** Selector matching every object the operator owns (list AND watch use it). */
export const OWNED_SELECTOR = LABELS.jobName;

/** Condition types of `status.conditions`. */
export const CONDITION_TYPES = {
  created: 'Created',
  /** True while the API server refuses a child the job needs (ServiceAccount missing, quota, Secret too large, admission). */
  blocked: 'Blocked',
  running: 'Running',
  restarting: 'Restarting',
  suspended: 'Suspended',
  succeeded: 'Succeeded',
  failed: 'Failed',
  /** Workers the scheduler could not place for longer than `runPolicy.schedulingTimeoutSeconds`. */
  unschedulable: 'Unschedulable',
} as const;
export type ConditionType = (typeof CONDITION_TYPES)[keyof typeof CONDITION_TYPES];

/** `status.phase` values. */
export const PHASES = {
  pending: 'Pending',
  blocked: 'Blocked',
  running: 'Running',
  restarting: 'Restarting',
  suspended: 'Suspended',
  succeeded: 'Succeeded',
  failed: 'Failed',
} as const;
export type Phase = (typeof PHASES)[keyof typeof PHASES];

/** Condition and Event reasons (CamelCase). */
export const REASONS = {
  jobCreated: 'JobCreated',
  workersStarting: 'WorkersStarting',
  allWorkersRunning: 'AllWorkersRunning',
  workerFailed: 'WorkerFailed',
  progressDeadlineExceeded: 'ProgressDeadlineExceeded',
  permanentError: 'PermanentError',
  backoffLimitExceeded: 'BackoffLimitExceeded',
  deadlineExceeded: 'DeadlineExceeded',
  allWorkersSucceeded: 'AllWorkersSucceeded',
  jobSuspended: 'JobSuspended',
  jobResumed: 'JobResumed',
  ttlExpired: 'TTLExpired',
  podsUnschedulable: 'PodsUnschedulable',
  podsScheduled: 'PodsScheduled',
  schedulingTimeout: 'SchedulingTimeout',
  /** The gang was stopped by a higher-priority workload (Kueue eviction or scheduler preemption). */
  preempted: 'Preempted',
  /** The spec can never start (spec-checks.ts): Failed before any pod exists. */
  invalidSpec: 'InvalidSpec',
  /** The API server refused to create a child: Blocked, retried with backoff. */
  createRefused: 'CreateRefused',
  /** Blocked went False: every child of the current incarnation exists. */
  childrenCreated: 'ChildrenCreated',
} as const;

/** Condition messages (lowercase sentences). */
export const MESSAGES = {
  jobCreated: 'the job was accepted by the operator',
  workersStarting: 'waiting for all workers to run',
  allWorkersRunning: 'all workers are running',
  allWorkersSucceeded: 'all workers exited successfully',
  jobSuspended: 'the job is suspended and its workers were deleted',
  jobResumed: 'the job was resumed',
  deadlineExceeded: 'the job ran longer than runPolicy.activeDeadlineSeconds',
  podsScheduled: 'every worker was scheduled',
  childrenCreated: 'the API server accepted every worker pod',
} as const;

/** Condition messages are capped (the CRD allows 32 KiB; an API server's message is usually one line). */
export const MAX_CONDITION_MESSAGE = 4096;

/** Defaults applied when a field is absent (the CRD applies the same ones on admission). */
export const DEFAULTS = {
  workerImage: 'ghcr.io/dat-operator/worker:0.1.0',
  operatorImage: 'ghcr.io/dat-operator/operator:0.1.0',
  imagePullPolicy: 'IfNotPresent',
  backoffLimit: 3,
  cleanPodPolicy: 'Running',
  schedulingTimeoutSeconds: 300,
  schedulingTimeoutPolicy: 'Wait',
} as const;

/** Mount paths inside a worker pod. */
export const MOUNTS = {
  checkpoint: '/var/lib/dat/checkpoint',
  data: '/var/lib/dat/data',
  /** The trained model and metrics.json, on the checkpoint volume so they persist. */
  output: '/var/lib/dat/checkpoint/output',
} as const;

/** Volume and container names in a worker pod. */
export const POD_NAMES = {
  container: 'worker',
  checkpointVolume: 'checkpoint',
  dataVolume: 'data',
  ringPort: 'ring',
  metricsPort: 'metrics',
} as const;

/**
 * Kueue's pod-group integration (kueue.x-k8s.io): a DATJob labelled with a
 * queue name has its pods admitted as one group (docs/kueue.md).
 */
export const KUEUE = {
  /** On the DATJob (and copied to its pods): the LocalQueue to submit to. */
  queueLabel: 'kueue.x-k8s.io/queue-name',
  /** On the pods: the group; Kueue's Workload for the group has this name. */
  podGroupLabel: 'kueue.x-k8s.io/pod-group-name',
  /** On the pods: the group's size (Kueue admits the group when it has this many pods). */
  podGroupTotalCountAnnotation: 'kueue.x-k8s.io/pod-group-total-count',
  /** On a pod: `"false"` tells Kueue the group will not be replaced, so it finishes the Workload and frees its quota. */
  retriableInGroupAnnotation: 'kueue.x-k8s.io/retriable-in-group',
  /** Pod condition Kueue sets before deleting the pods of an evicted (e.g. preempted) Workload. */
  terminationTargetCondition: 'TerminationTarget',
} as const;

/** Leader election timings (as in kubernetes-sigs/jobset and Trainer). */
export const LEADER_ELECTION = {
  leaseName: 'dat-operator-leader',
  leaseDurationMs: 15_000,
  renewDeadlineMs: 10_000,
  retryPeriodMs: 2_000,
} as const;

/**
 * Backoff of a job whose children the API server refused (condition Blocked):
 * the first retry after 10 s, doubling to 5 min. A spec change retries at once.
 */
export const CREATE_RETRY_BACKOFF = { initialMs: 10_000, maxMs: 300_000 } as const;

/** Informer restart backoff bounds. */
export const INFORMER_BACKOFF = { initialMs: 1_000, maxMs: 30_000 } as const;

/** Field manager recorded on the operator's writes. */
export const FIELD_MANAGER = 'dat-operator';
