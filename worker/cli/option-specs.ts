/**
 * One table describing every `dat train` option: its flag, how its value is
 * parsed and checked, and the help line. The parser, the help text and the
 * argument formatter (used by the launcher) all read this table, so a new
 * TrainOptions field is one new row.
 */
import {
  ATTACKS,
  BACKENDS,
  COMPRESSIONS,
  DATASETS,
  FINAL_EVAL_ATTACKS,
  LOSSES,
  MODELS,
  AUGMENTS,
  LINF_EPS_MAX,
  OPTIMIZERS,
  PROGRESS_MODES,
  RESUME_CHANGEABLE_OPTIONS,
  SCHEDULES,
  type TrainOptions,
} from '../../common/contract.js';

/** How an option's value is parsed and which values it accepts. */
export type ValueSpec =
  | { readonly kind: 'enum'; readonly values: readonly string[] }
  | { readonly kind: 'enum-list'; readonly values: readonly string[] }
  | { readonly kind: 'int'; readonly min: number; readonly max: number }
  | {
      readonly kind: 'number';
      readonly min: number;
      readonly max: number;
      readonly minExclusive?: boolean;
      readonly maxExclusive?: boolean;
      /** Why a value at or below `min` is refused, when the bound alone does not say (appended to that error). */
      readonly whyMin?: string;
    }
  | { readonly kind: 'string' }
  | { readonly kind: 'number-list'; readonly min: number };

/** One option of `dat train`. */
export interface OptionSpec {
  readonly key: keyof TrainOptions;
  readonly value: ValueSpec;
  /** One-line description for `--help`. */
  readonly help: string;
  /** Help group heading. */
  readonly group: OptionGroup;
}

export const OPTION_GROUPS = ['Data', 'Model', 'Attack and loss', 'Optimizer and schedule', 'Training and evaluation', 'Final evaluation', 'Run', 'Distributed'] as const;
export type OptionGroup = (typeof OPTION_GROUPS)[number];

const UINT32_MAX = 0xffff_ffff;
/** Upper bound of counts that have no natural one (it keeps values finite and exact); stated in every message. */
const BIG = 1e9;
/** Largest L2 radius accepted for pgd-l2 (the L2 norm of a [0,1] image difference is at most sqrt(pixels)). */
const L2_EPS_MAX = 100;

/** Every TrainOptions field, in help order. */
export const OPTION_SPECS: readonly OptionSpec[] = [
  { key: 'dataset', group: 'Data', value: { kind: 'enum', values: DATASETS }, help: 'dataset: built-in mnist / fashion-mnist, or mnist-idx / cifar10 files from --data-dir' },
  { key: 'dataDir', group: 'Data', value: { kind: 'string' }, help: 'directory with IDX or CIFAR-10 binary files (required for mnist-idx, cifar10)' },
  { key: 'limit', group: 'Data', value: { kind: 'int', min: 1, max: BIG }, help: 'use only the first N training examples (quick runs)' },
  { key: 'testSize', group: 'Data', value: { kind: 'int', min: 1, max: BIG }, help: 'held-out examples (built-in mnist: 2,000 of its 10,000; fashion-mnist: 10,000)' },
  { key: 'unlabeledFraction', group: 'Data', value: { kind: 'number', min: 0, max: 1, maxExclusive: true }, help: 'ablation: hide the labels of this fraction of the training set and move it to the unlabeled pool (adds no data)' },
  { key: 'unlabeledData', group: 'Data', value: { kind: 'string' }, help: 'extra unlabeled images, pseudo-labeled by a teacher: mnist, fashion-mnist (the run\'s own dataset: its training images past --limit) or a directory of IDX / CIFAR-10 binary files; labels are never read' },
  { key: 'unlabeledRatio', group: 'Data', value: { kind: 'number', min: 0, max: 1, minExclusive: true, maxExclusive: true }, help: 'share of each batch drawn from the pseudo-labeled pool (Carmon et al. 2019: 0.5)' },
  { key: 'teacherEpochs', group: 'Data', value: { kind: 'int', min: 1, max: 10_000 }, help: 'epochs of standard training for the pseudo-labeling teacher' },
  { key: 'model', group: 'Model', value: { kind: 'enum', values: MODELS }, help: 'network: mlp, small-cnn (Wong et al., ~166k), madry-cnn (~3.27M), preact-resnet-8 (~308k), preact-resnet-18 (He et al., ~11.2M), wide-resnet-34-10 (Madry et al./TRADES, ~46.2M, for GPUs); preact-resnet is a deprecated alias of preact-resnet-8' },
  { key: 'augment', group: 'Data', value: { kind: 'enum', values: AUGMENTS }, help: 'training-batch augmentation before the attack: crop-flip (random crop with 4-pixel zero padding + horizontal flip) or none' },
  { key: 'attack', group: 'Attack and loss', value: { kind: 'enum', values: ATTACKS }, help: 'training attack (none = standard training; fgsm-rs = DAT fast mode)' },
  {
    key: 'eps',
    group: 'Attack and loss',
    value: { kind: 'number', min: 0, max: L2_EPS_MAX, minExclusive: true, whyMin: 'eps 0 leaves the training attack nothing to search (its step size would be 0); for standard training use --attack none' },
    help: `perturbation radius in [0,1] pixel units: L-inf, at most ${LINF_EPS_MAX}, for every attack but pgd-l2 (the evaluation is L-inf PGD too); L2 for pgd-l2`,
  },
  { key: 'attackSteps', group: 'Attack and loss', value: { kind: 'int', min: 1, max: 10_000 }, help: 'attack iterations (pgd, pgd-l2, trades)' },
  { key: 'attackStepSize', group: 'Attack and loss', value: { kind: 'number', min: 0, max: 100, minExclusive: true }, help: 'attack step size' },
  { key: 'attackRestarts', group: 'Attack and loss', value: { kind: 'int', min: 1, max: 1000 }, help: 'random restarts of the training attack (worst one kept)' },
  { key: 'epsWarmupEpochs', group: 'Attack and loss', value: { kind: 'number', min: 0, max: BIG }, help: 'ramp the training attack eps (and step size) linearly from 0 to --eps over the first N epochs (0 = off)' },
  { key: 'loss', group: 'Attack and loss', value: { kind: 'enum', values: LOSSES }, help: 'adv: CE(x_adv); adv-clean: CE(x_adv) + lambda*CE(x) (DAT); trades: CE(x) + beta*KL' },
  { key: 'lambda', group: 'Attack and loss', value: { kind: 'number', min: 0, max: 1e6 }, help: 'weight of the clean CE in adv-clean' },
  { key: 'beta', group: 'Attack and loss', value: { kind: 'number', min: 0, max: 1e6 }, help: 'weight of the KL term in trades' },
  { key: 'optimizer', group: 'Optimizer and schedule', value: { kind: 'enum', values: OPTIMIZERS }, help: 'lamb (DAT LALR), lars, sgd (momentum), adam' },
  { key: 'lr', group: 'Optimizer and schedule', value: { kind: 'number', min: 0, max: 100, minExclusive: true }, help: 'peak learning rate' },
  { key: 'weightDecay', group: 'Optimizer and schedule', value: { kind: 'number', min: 0, max: 1, maxExclusive: true }, help: 'weight decay' },
  { key: 'momentum', group: 'Optimizer and schedule', value: { kind: 'number', min: 0, max: 1, maxExclusive: true }, help: 'momentum (sgd, lars)' },
  { key: 'schedule', group: 'Optimizer and schedule', value: { kind: 'enum', values: SCHEDULES }, help: 'learning-rate schedule after warm-up' },
  { key: 'warmupEpochs', group: 'Optimizer and schedule', value: { kind: 'number', min: 0, max: BIG }, help: 'linear warm-up epochs (counted within --epochs)' },
  { key: 'milestones', group: 'Optimizer and schedule', value: { kind: 'number-list', min: 0 }, help: 'step schedule: comma-separated epochs where the lr is multiplied by --gamma, e.g. 75,90' },
  { key: 'gamma', group: 'Optimizer and schedule', value: { kind: 'number', min: 0, max: 1, minExclusive: true }, help: 'step schedule decay factor' },
  { key: 'epochs', group: 'Training and evaluation', value: { kind: 'int', min: 1, max: 1_000_000 }, help: 'training epochs (warm-up included)' },
  { key: 'batchSize', group: 'Training and evaluation', value: { kind: 'int', min: 1, max: 65_536 }, help: 'per-worker batch; the global batch is workers x batch-size' },
  { key: 'evalEvery', group: 'Training and evaluation', value: { kind: 'int', min: 1, max: 1_000_000 }, help: 'evaluate on the held-out set every N epochs (and at the end)' },
  { key: 'evalAttackSteps', group: 'Training and evaluation', value: { kind: 'int', min: 1, max: 10_000 }, help: 'PGD steps of the robust evaluation (step size 2.5*eps/steps, random start)' },
  { key: 'evalRestarts', group: 'Training and evaluation', value: { kind: 'int', min: 1, max: 1000 }, help: 'PGD restarts of the robust evaluation' },
  { key: 'evalSize', group: 'Training and evaluation', value: { kind: 'int', min: 0, max: BIG }, help: 'evaluate on at most N held-out examples (0 = all)' },
  {
    key: 'finalEval',
    group: 'Final evaluation',
    value: { kind: 'enum-list', values: FINAL_EVAL_ATTACKS },
    help: 'after training, attack the final model on the held-out split as dat eval does: none, autoattack (apgd-ce,apgd-t,fab-t,square) or attack names, run in order on the still-robust examples; the result goes to metrics.json (finalEvaluation)',
  },
  { key: 'finalEvalExamples', group: 'Final evaluation', value: { kind: 'int', min: 0, max: BIG }, help: 'held-out examples the final evaluation attacks (0 = all)' },
  { key: 'finalEvalEps', group: 'Final evaluation', value: { kind: 'number', min: 0, max: LINF_EPS_MAX }, help: 'L-inf radius of the final evaluation (0 = clean accuracy only)' },
  { key: 'backend', group: 'Run', value: { kind: 'enum', values: BACKENDS }, help: 'TensorFlow.js backend; auto tries tensorflow-gpu, tensorflow, wasm, cpu' },
  { key: 'seed', group: 'Run', value: { kind: 'int', min: 0, max: UINT32_MAX }, help: 'seed of weights, shuffles and attacks' },
  { key: 'output', group: 'Run', value: { kind: 'string' }, help: 'output directory: model/ (TensorFlow.js format) and metrics.json' },
  { key: 'progress', group: 'Run', value: { kind: 'enum', values: PROGRESS_MODES }, help: 'progress display: auto (tty on a terminal, else plain), tty, plain, json, none' },
  { key: 'workers', group: 'Distributed', value: { kind: 'int', min: 1, max: 256 }, help: 'worker processes to start on this machine (ring all-reduce)' },
  { key: 'compression', group: 'Distributed', value: { kind: 'enum', values: COMPRESSIONS }, help: 'gradient compression on the ring (needs 2 or more workers)' },
  { key: 'compressionWarmupSteps', group: 'Distributed', value: { kind: 'int', min: 0, max: BIG }, help: "uncompressed steps before compression starts; with sign-ef or majority-vote and LAMB, LAMB's second moment stays frozen from then on (docs/compression.md)" },
  // At least 100 ms, as the CRD: a shorter per-hop deadline fails on any real network before the first chunk lands.
  { key: 'collectiveTimeoutMs', group: 'Distributed', value: { kind: 'int', min: 100, max: 86_400_000 }, help: 'per-hop all-reduce deadline in milliseconds' },
  { key: 'checkpointDir', group: 'Distributed', value: { kind: 'string' }, help: 'checkpoint directory (unset: no checkpoints); with it, SIGTERM or SIGINT stops after saving the current step' },
  { key: 'checkpointEvery', group: 'Distributed', value: { kind: 'int', min: 1, max: BIG }, help: 'checkpoint every K optimizer steps (and at each epoch end)' },
  {
    key: 'allowConfigChange',
    group: 'Distributed',
    value: { kind: 'enum-list', values: RESUME_CHANGEABLE_OPTIONS },
    help: 'options that may differ from the checkpoint\'s configuration on a resume (any other difference refuses it)',
  },
];

/** `batchSize` → `--batch-size`. */
export function flagName(key: string): string {
  return '--' + key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
}

/** A range bound as the parser accepts it back: 1e9, not 1000000000. */
function formatBound(n: number): string {
  return n >= 1e9 && Number.isInteger(Math.log10(n)) ? `1e${Math.log10(n)}` : String(n);
}

/** Human description of the accepted values, for error messages and help (every bound stated). */
export function describeAccepted(v: ValueSpec): string {
  switch (v.kind) {
    case 'enum':
      return `one of ${v.values.join(', ')}`;
    case 'enum-list':
      return `comma-separated values from ${v.values.join(', ')}`;
    case 'int':
      return `an integer in [${formatBound(v.min)}, ${formatBound(v.max)}]`;
    case 'number': {
      const lo = `${v.minExclusive === true ? '(' : '['}${formatBound(v.min)}`;
      const hi = `${formatBound(v.max)}${v.maxExclusive === true ? ')' : ']'}`;
      return `a number in ${lo}, ${hi}`;
    }
    case 'string':
      return 'a non-empty string';
    case 'number-list':
      return `comma-separated increasing numbers >= ${v.min}, e.g. 75,90`;
  }
}

/** Spec lookup by flag (`--batch-size`). */
export const SPEC_BY_FLAG: ReadonlyMap<string, OptionSpec> = new Map(OPTION_SPECS.map((s) => [flagName(s.key), s]));
