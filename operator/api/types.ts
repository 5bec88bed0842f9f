/**
 * TypeScript types of the DATJob custom resource (`crds/datjob.yaml`).
 * Optional fields without a CRD default are left to the worker's own
 * dataset-scaled defaults (`worker/cli/defaults.ts`): the operator then passes
 * no flag for them.
 */
import type {
  V1Affinity,
  V1ConfigMapVolumeSource,
  V1EmptyDirVolumeSource,
  V1EnvVar,
  V1LocalObjectReference,
  V1ObjectMeta,
  V1PersistentVolumeClaimVolumeSource,
  V1ResourceRequirements,
  V1SecretVolumeSource,
  V1Toleration,
  V1VolumeMount,
} from '@kubernetes/client-node';
import type {
  AttackId,
  AugmentId,
  BackendId,
  CompressionId,
  DatasetId,
  FinalEvalAttack,
  LossId,
  ModelId,
  OptimizerId,
  ScheduleId,
} from '../../common/contract.js';

/** Where a volume's data lives: a PersistentVolumeClaim or a pod-lifetime emptyDir. */
export interface DATJobVolumeSource {
  /** Name of a PVC in the job's namespace. Exactly one of `claimName` and `emptyDir` is set. */
  readonly claimName?: string;
  /** Use an emptyDir (lost with the pod: checkpoints do not survive a gang restart). */
  readonly emptyDir?: Record<string, never>;
}

/** An extra volume of the worker pods: exactly one of the four sources. */
export interface DATJobExtraVolume {
  /** Must not be one of the operator's volume names (checkpoint, data, ring-tls, dataset-cache, tmp). */
  readonly name: string;
  /** A dataset PVC, typically `readOnly: true`. */
  readonly persistentVolumeClaim?: V1PersistentVolumeClaimVolumeSource;
  readonly configMap?: V1ConfigMapVolumeSource;
  readonly secret?: V1SecretVolumeSource;
  readonly emptyDir?: V1EmptyDirVolumeSource;
}

/** Pod metadata the user adds to every worker pod. */
export interface DATJobPodTemplateMetadata {
  /** Added to the operator's labels; the operator's own keys win. */
  readonly labels?: Record<string, string>;
  readonly annotations?: Record<string, string>;
}

/**
 * The user's part of the worker pods' spec. The operator's own fields
 * (command, args, ring and metrics ports, ring TLS and checkpoint mounts,
 * security contexts, restart policy, hostname) are not settable here, and where
 * a name overlaps (a volume, a mount path, an env var) the operator's wins.
 */
export interface DATJobPodTemplateSpec {
  readonly affinity?: V1Affinity;
  readonly tolerations?: V1Toleration[];
  readonly nodeSelector?: Record<string, string>;
  readonly priorityClassName?: string;
  readonly schedulerName?: string;
  /**
   * Seconds between the kubelet's SIGTERM and its SIGKILL. A worker stops at
   * its next step boundary with a checkpoint, so this should exceed one step
   * plus one checkpoint write. @default 30 (the Kubernetes default)
   */
  readonly terminationGracePeriodSeconds?: number;
  readonly imagePullSecrets?: V1LocalObjectReference[];
  readonly volumes?: DATJobExtraVolume[];
  /** Mounts of `volumes` into the worker container. */
  readonly volumeMounts?: V1VolumeMount[];
  /** Extra environment of the worker container; `DAT_*` names are reserved. */
  readonly env?: V1EnvVar[];
  readonly serviceAccountName?: string;
}

/** The workers' pod template: metadata and the user's part of the spec. */
export interface DATJobPodTemplate {
  readonly metadata?: DATJobPodTemplateMetadata;
  readonly spec?: DATJobPodTemplateSpec;
}

/** The worker gang: one pod per rank. */
export interface DATJobWorkersSpec {
  /** Number of ranks in the ring. @default 2 */
  readonly replicas: number;
  /** Worker image. @default ghcr.io/dat-operator/worker:0.1.0 (or the operator's --worker-image) */
  readonly image?: string;
  /** @default IfNotPresent */
  readonly imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
  /** Container resources, e.g. `limits: { nvidia.com/gpu: 1 }`. */
  readonly resources?: V1ResourceRequirements;
  readonly nodeSelector?: Record<string, string>;
  readonly tolerations?: V1Toleration[];
  /** Extra environment; `DAT_*` names are reserved and rejected by the CRD. */
  readonly env?: V1EnvVar[];
  readonly serviceAccountName?: string;
  /**
   * Pod template of every worker. `nodeSelector`, `tolerations`, `env` and
   * `serviceAccountName` may be set here or at the top of `workers`, not both.
   */
  readonly template?: DATJobPodTemplate;
}

/** Adversarial attack used during training. */
export interface DATJobAttackSpec {
  /** @default pgd */
  readonly type: AttackId;
  readonly eps?: number;
  readonly steps?: number;
  readonly stepSize?: number;
  readonly restarts?: number;
}

export interface DATJobLossSpec {
  /** Unset: the worker picks the loss matching the attack. */
  readonly type?: LossId;
  readonly lambda?: number;
  readonly beta?: number;
}

export interface DATJobOptimizerSpec {
  /** @default lamb */
  readonly type: OptimizerId;
  readonly lr?: number;
  readonly weightDecay?: number;
  readonly momentum?: number;
}

export interface DATJobScheduleSpec {
  /** @default cosine */
  readonly type: ScheduleId;
  readonly warmupEpochs?: number;
  readonly milestones?: number[];
  readonly gamma?: number;
}

export interface DATJobCompressionSpec {
  /** @default none */
  readonly type: CompressionId;
  readonly warmupSteps?: number;
}

export interface DATJobEvaluationSpec {
  readonly everyEpochs?: number;
  readonly attackSteps?: number;
  readonly restarts?: number;
  /** Held-out examples evaluated (0 = all). */
  readonly size?: number;
}

/** The training configuration: rendered into `dat train` flags by `buildTrainArgs`. */
export interface DATJobTrainingSpec {
  readonly dataset: DatasetId;
  /** Volume with user-provided dataset files, mounted read-only at `--data-dir`. */
  readonly dataVolume?: DATJobVolumeSource;
  readonly model: ModelId;
  /** Training-batch augmentation (`--augment`); unset: the dataset's default. */
  readonly augment?: AugmentId;
  readonly attack?: DATJobAttackSpec;
  readonly loss?: DATJobLossSpec;
  readonly optimizer?: DATJobOptimizerSpec;
  readonly schedule?: DATJobScheduleSpec;
  readonly epochs?: number;
  readonly batchSizePerWorker?: number;
  readonly unlabeledFraction?: number;
  /** `--unlabeled-data`: a built-in dataset id or a directory in the pod (for example under the data volume's mount). */
  readonly unlabeledData?: string;
  readonly unlabeledRatio?: number;
  readonly teacherEpochs?: number;
  readonly compression?: DATJobCompressionSpec;
  readonly evaluation?: DATJobEvaluationSpec;
  readonly seed?: number;
  readonly limit?: number;
  readonly testSize?: number;
  readonly backend?: BackendId;
  readonly collectiveTimeoutMs?: number;
}

/**
 * The evaluation of the final model after training (`dat train --final-eval`,
 * the ensemble of `dat eval`); its result reaches `status.evaluation` and
 * metrics.json. Not the periodic PGD check of `training.evaluation`.
 */
export interface DATJobFinalEvaluationSpec {
  /** `[autoattack]` (the CRD's default), attack names run in order, or `[none]`. */
  readonly attacks?: FinalEvalAttack[];
  /** Held-out examples attacked (0 = all). Unset: the worker's 1000. */
  readonly examples?: number;
  /** L-inf radius (0 = clean accuracy). Unset: the training eps. */
  readonly eps?: number;
}

export interface DATJobCheckpointSpec {
  /** Volume holding checkpoints and the trained model (`--output`). */
  readonly volume: DATJobVolumeSource;
  readonly everySteps?: number;
}

/** Values of `runPolicy.cleanPodPolicy`. */
export const CLEAN_POD_POLICIES = ['All', 'Running', 'None'] as const;
export type CleanPodPolicy = (typeof CLEAN_POD_POLICIES)[number];

/** Values of `runPolicy.schedulingTimeoutPolicy`. */
export const SCHEDULING_TIMEOUT_POLICIES = ['Wait', 'Fail'] as const;
export type SchedulingTimeoutPolicy = (typeof SCHEDULING_TIMEOUT_POLICIES)[number];

export interface DATJobRunPolicy {
  /** Maximum gang restarts before the job fails. @default 3 */
  readonly backoffLimit?: number;
  readonly activeDeadlineSeconds?: number;
  readonly ttlSecondsAfterFinished?: number;
  /** @default false */
  readonly suspend?: boolean;
  /** Which pods to delete when the job finishes. @default Running */
  readonly cleanPodPolicy?: CleanPodPolicy;
  /** A Running gang whose step counter does not advance for this long is restarted. */
  readonly progressDeadlineSeconds?: number;
  /** A worker the scheduler cannot place for this long sets the Unschedulable condition. @default 300 */
  readonly schedulingTimeoutSeconds?: number;
  /**
   * At the scheduling timeout: `Wait` keeps the gang's pods waiting (the condition
   * says why), `Fail` fails the job, which deletes its pods and frees what the
   * placed part of the gang held. @default Wait
   */
  readonly schedulingTimeoutPolicy?: SchedulingTimeoutPolicy;
}

/** Values of `scheduling.podGroup.scheduler`. */
export const GANG_SCHEDULERS = ['Coscheduling', 'Volcano'] as const;
export type GangScheduler = (typeof GANG_SCHEDULERS)[number];

/** A PodGroup for a gang scheduler, so the ranks are bound all together or not at all. */
export interface DATJobPodGroupSpec {
  /** scheduler-plugins' coscheduling (`scheduling.x-k8s.io/v1alpha1`) or Volcano (`scheduling.volcano.sh/v1beta1`). */
  readonly scheduler: GangScheduler;
  /** Coscheduling: how long the placed ranks wait for the rest before the group is retried. */
  readonly scheduleTimeoutSeconds?: number;
  /** Volcano: the Volcano queue. */
  readonly queue?: string;
}

/** Co-scheduling without Kueue. */
export interface DATJobSchedulingSpec {
  readonly podGroup?: DATJobPodGroupSpec;
}

export interface DATJobSpec {
  readonly workers: DATJobWorkersSpec;
  readonly training: DATJobTrainingSpec;
  readonly checkpoint: DATJobCheckpointSpec;
  /** Evaluate the final model with an attack ensemble after training; unset: no final evaluation. */
  readonly evaluation?: DATJobFinalEvaluationSpec;
  readonly runPolicy?: DATJobRunPolicy;
  readonly scheduling?: DATJobSchedulingSpec;
}

/** A metav1.Condition. */
export interface Condition {
  readonly type: string;
  readonly status: 'True' | 'False' | 'Unknown';
  readonly reason: string;
  readonly message: string;
  readonly lastTransitionTime: string;
  readonly observedGeneration?: number;
}

export interface DATJobProgress {
  readonly epoch?: number;
  readonly totalEpochs?: number;
  readonly step?: number;
  readonly totalSteps?: number;
  readonly lastHeartbeat?: string;
  readonly loss?: number;
  readonly cleanAccuracy?: number;
  readonly robustAccuracy?: number;
  readonly imagesPerSecond?: number;
  /** Operator time at which `step` last advanced (hang detection survives operator restarts). */
  readonly lastProgressTime?: string;
}

/** The final evaluation's result (rank 0's last report), in `status.evaluation`. */
export interface DATJobEvaluationStatus {
  readonly attacks: string[];
  readonly eps: number;
  readonly examples: number;
  readonly cleanAccuracy: number;
  /** Cumulative robust accuracy after each attack, in run order. */
  readonly perAttack: { readonly attack: string; readonly robustAccuracy: number }[];
  /** Robust accuracy under the whole ensemble (per-example worst case). */
  readonly robustAccuracy: number;
  readonly seconds: number;
}

export interface DATJobWorkerCounts {
  readonly active: number;
  readonly ready: number;
  readonly failed: number;
  readonly succeeded: number;
}

export interface DATJobStatus {
  readonly phase?: string;
  readonly conditions?: Condition[];
  readonly observedGeneration?: number;
  readonly workers?: DATJobWorkerCounts;
  /** Human-readable ready count for the printer column, e.g. `2/2`. */
  readonly readyText?: string;
  /** Gang restarts so far; also the incarnation label of the current pods. */
  readonly restarts?: number;
  /** Of `restarts`, those caused by preemption (not counted against `backoffLimit`). */
  readonly preemptions?: number;
  readonly startTime?: string;
  readonly completionTime?: string;
  readonly progress?: DATJobProgress;
  /** Set once the final evaluation (`spec.evaluation`) reported. */
  readonly evaluation?: DATJobEvaluationStatus;
}

/** The DATJob object. */
export interface DATJob {
  apiVersion?: string;
  kind?: string;
  metadata: V1ObjectMeta;
  spec: DATJobSpec;
  status?: DATJobStatus;
}
