/**
 * Checks that span several `dat train` options, written once. The worker's
 * parser runs each rule's `check`; where the DATJob CRD carries the same rule,
 * `crd` holds its CEL expression verbatim and the node (below `spec`) that
 * holds it. test/crds/datjob-option-specs.test.ts proves the CRD's rules under
 * spec.training are exactly these (or listed there as pod-only), and
 * test/integration/operator/cross-field-rules.test.ts sends every rule's
 * `violation` to a real API server and, rendered into flags by the operator,
 * to this parser: both must refuse it.
 *
 * Why `given`: a CEL rule sees only the fields a DATJob sets (`has(...)`),
 * while the worker sees options completed by dataset defaults. A rule the CRD
 * states on set fields only (stepSize <= eps) is checked here on the flags
 * given, so the two accept and refuse the same specs; rules the CRD states
 * with the worker's defaults written in (unset epochs) use the resolved value.
 */
import { LINF_EPS_MAX, type TrainOptions } from '../../common/contract.js';
import { getErrorMessage } from '../../common/errors.js';
import { validateAttackParams } from '../train/attacks/index.js';

/** The attacks that iterate (the CRD's `['pgd', 'pgd-l2', 'trades']`). */
const ITERATIVE_ATTACKS: readonly string[] = ['pgd', 'pgd-l2', 'trades'];

/** One cross-field rule. */
export interface CrossFieldRule {
  readonly id: string;
  /** The same rule in the CRD: the schema node below `spec` and its CEL `rule`, verbatim. Absent: the CRD does not carry the options. */
  readonly crd?: { readonly at: string; readonly rule: string };
  /** A message naming the option to change when `o` breaks the rule; `given` holds the options set on the command line. */
  readonly check: (o: TrainOptions, given: ReadonlySet<keyof TrainOptions>) => string | undefined;
  /** A `spec.training` (JSON, as a DATJob carries it) that breaks the rule; for rules without `crd`, the `dat train` flags instead. */
  readonly violation: { readonly training: Record<string, unknown> } | { readonly argv: readonly string[] };
}

/** Default epochs spelled as the CRD's CEL rules spell them (checked against defaults.ts by the CRD test). */
const EPOCHS_OR_DEFAULT = "(has(self.epochs) ? self.epochs : (self.dataset == 'cifar10' ? 30 : 15))";

export const CROSS_FIELD_RULES: readonly CrossFieldRule[] = [
  {
    id: 'data-dir-for-file-datasets',
    crd: { at: 'training', rule: "self.dataset in ['mnist', 'fashion-mnist'] || has(self.dataVolume)" },
    check: (o) =>
      (o.dataset === 'mnist-idx' || o.dataset === 'cifar10') && (o.dataDir === undefined || o.dataDir === '')
        ? `missing --data-dir: dataset ${o.dataset} is read from files in a directory`
        : undefined,
    violation: { training: { dataset: 'cifar10', model: 'small-cnn' } },
  },
  {
    id: 'warmup-within-epochs',
    crd: { at: 'training', rule: `!has(self.schedule) || !has(self.schedule.warmupEpochs) || self.schedule.warmupEpochs <= double${EPOCHS_OR_DEFAULT}` },
    check: (o) => (o.warmupEpochs > o.epochs ? `invalid value ${o.warmupEpochs} for --warmup-epochs: expected at most --epochs (${o.epochs})` : undefined),
    violation: { training: { dataset: 'mnist', model: 'mlp', epochs: 3, schedule: { type: 'step', milestones: [2], warmupEpochs: 4 } } },
  },
  {
    id: 'cosine-leaves-an-epoch-to-decay',
    crd: {
      at: 'training',
      rule: `!has(self.schedule) || self.schedule.type != 'cosine' || !has(self.schedule.warmupEpochs) || self.schedule.warmupEpochs < double${EPOCHS_OR_DEFAULT}`,
    },
    check: (o) =>
      o.schedule === 'cosine' && o.warmupEpochs >= o.epochs
        ? `invalid value ${o.warmupEpochs} for --warmup-epochs: the cosine schedule needs fewer warm-up epochs than --epochs (${o.epochs})`
        : undefined,
    violation: { training: { dataset: 'mnist', model: 'mlp', epochs: 3, schedule: { type: 'cosine', warmupEpochs: 3 } } },
  },
  {
    id: 'eps-warmup-within-epochs',
    check: (o) =>
      (o.epsWarmupEpochs ?? 0) > o.epochs ? `invalid value ${o.epsWarmupEpochs} for --eps-warmup-epochs: expected at most --epochs (${o.epochs})` : undefined,
    violation: { argv: ['--epochs', '2', '--eps-warmup-epochs', '3'] },
  },
  {
    id: 'linf-eps-in-pixel-range',
    crd: { at: 'training.attack', rule: "self.type == 'pgd-l2' || !has(self.eps) || self.eps <= 1.0" },
    check: (o) =>
      o.attack !== 'pgd-l2' && o.eps > LINF_EPS_MAX
        ? `invalid value ${o.eps} for --eps: expected a number in (0, ${LINF_EPS_MAX}] for the L-inf attack ${o.attack} and its PGD evaluation (pixels lie in [0, 1]); only --attack pgd-l2 takes an L2 radius above ${LINF_EPS_MAX}`
        : undefined,
    violation: { training: { dataset: 'mnist', model: 'mlp', attack: { type: 'fgsm', eps: 8 } } },
  },
  {
    id: 'step-size-within-eps',
    crd: { at: 'training.attack', rule: "!(self.type in ['pgd', 'pgd-l2', 'trades']) || !has(self.stepSize) || !has(self.eps) || self.stepSize <= self.eps" },
    // Each step must stay inside the eps-ball (Madry et al. 2018 use 2.5 * eps / steps).
    check: (o, given) =>
      ITERATIVE_ATTACKS.includes(o.attack) && given.has('attackStepSize') && given.has('eps') && o.attackStepSize > o.eps
        ? `invalid value ${o.attackStepSize} for --attack-step-size: expected at most --eps (${o.eps}) for ${o.attack}, so each step stays inside the eps-ball`
        : undefined,
    violation: { training: { dataset: 'mnist', model: 'mlp', attack: { type: 'pgd', eps: 0.1, stepSize: 0.2, steps: 5 } } },
  },
  {
    id: 'step-schedule-has-milestones',
    crd: { at: 'training.schedule', rule: "self.type != 'step' || (has(self.milestones) && size(self.milestones) > 0)" },
    check: (o, given) =>
      given.has('schedule') && o.schedule === 'step' && (!given.has('milestones') || o.milestones.length === 0)
        ? 'missing --milestones: --schedule step needs at least one epoch where the lr decays, e.g. --milestones 75,90'
        : undefined,
    violation: { training: { dataset: 'mnist', model: 'mlp', schedule: { type: 'step' } } },
  },
  {
    id: 'unlabeled-split-needs-two-examples',
    crd: { at: 'training', rule: '!has(self.limit) || !has(self.unlabeledFraction) || self.unlabeledFraction == 0.0 || self.limit >= 2' },
    check: (o) =>
      o.unlabeledFraction > 0 && o.limit !== undefined && o.limit < 2
        ? `invalid value ${o.limit} for --limit: --unlabeled-fraction needs at least 2 training examples`
        : undefined,
    violation: { training: { dataset: 'mnist', model: 'mlp', limit: 1, unlabeledFraction: 0.5 } },
  },
  {
    id: 'final-eval-none-alone',
    crd: { at: 'evaluation.attacks', rule: "!('none' in self) || size(self) == 1" },
    check: (o) =>
      (o.finalEval ?? []).includes('none') && (o.finalEval ?? []).length > 1
        ? `invalid value ${(o.finalEval ?? []).join(',')} for --final-eval: none turns the final evaluation off, so it cannot be listed with attacks`
        : undefined,
    violation: { argv: ['--final-eval', 'none,pgd'] },
  },
  {
    id: 'attack-parameters',
    crd: { at: 'training.attack', rule: "!(self.type in ['pgd', 'pgd-l2', 'trades']) || !has(self.steps) || self.steps >= 1" },
    check: (o) => {
      try {
        validateAttackParams(o.attack, { eps: o.eps, steps: o.attackSteps, stepSize: o.attackStepSize, restarts: o.attackRestarts, randomStart: true, seed: o.seed });
        return undefined;
      } catch (err) {
        return `invalid attack options: ${getErrorMessage(err)}`;
      }
    },
    violation: { training: { dataset: 'mnist', model: 'mlp', attack: { type: 'pgd', steps: 0 } } },
  },
];

/**
 * The rule that needs the world size, which a pod learns from DAT_WORLD_SIZE
 * and a local run from --workers, so it is not a CrossFieldRule: compression
 * needs a ring. The CRD states it on the whole spec (`at: ''`), with
 * workers.replicas; without it, one process would train uncompressed while
 * its metrics named the compression.
 */
export const COMPRESSION_NEEDS_RING = {
  crd: { at: '', rule: "!has(self.training.compression) || self.training.compression.type == 'none' || self.workers.replicas > 1" },
  check: (o: TrainOptions, worldSize: number): string | undefined =>
    o.compression !== 'none' && worldSize < 2
      ? `invalid value ${o.compression} for --compression: there is nothing to all-reduce with one worker; use --workers 2 or more, or --compression none`
      : undefined,
} as const;

/** The first broken rule's message, or undefined when `o` keeps every rule. */
export function firstBrokenRule(o: TrainOptions, given: ReadonlySet<keyof TrainOptions>): string | undefined {
  for (const rule of CROSS_FIELD_RULES) {
    const msg = rule.check(o, given);
    if (msg !== undefined) return msg;
  }
  return undefined;
}
