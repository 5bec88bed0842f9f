/** Renders `spec.training` (+ checkpoint, final evaluation) into the `dat train` flags of common/contract.ts. */
import type { TrainOptions } from '../../common/contract.js';
import type { DATJobCheckpointSpec, DATJobFinalEvaluationSpec, DATJobTrainingSpec } from '../api/types.js';

/** Paths inside the pod that the flags point at. */
export interface TrainArgsPaths {
  readonly checkpointDir: string;
  readonly outputDir: string;
  /** Set when the job has a data volume. */
  readonly dataDir?: string;
}

type FlagValue = string | number | readonly number[] | readonly string[] | undefined;

/** Where a flag's value comes from: a DATJob field (path below `spec`) or a pod path the operator chooses. */
export type TrainArgSource = { readonly field: string } | { readonly path: keyof TrainArgsPaths };

/** One `dat train` option the operator renders. */
export interface TrainArgField {
  readonly option: keyof TrainOptions;
  readonly from: TrainArgSource;
}

/** The DATJob fields a flag may come from. */
interface RenderedSpec {
  readonly training: DATJobTrainingSpec;
  readonly checkpoint: DATJobCheckpointSpec;
  readonly evaluation?: DATJobFinalEvaluationSpec;
}

/** The type at a dotted path of T (`training.attack.eps` → number | undefined); never when the path does not exist. */
type PathValue<T, P extends string> = P extends `${infer K}.${infer Rest}`
  ? K extends keyof T
    ? PathValue<NonNullable<T[K]>, Rest>
    : never
  : P extends keyof T
    ? T[P]
    : never;

/** Drops `readonly` from arrays, so `readonly number[]` compares equal to `number[]`. */
type Writable<T> = T extends readonly (infer E)[] ? E[] : T;

/** True when A and B are the same type (not merely assignable). */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;

/**
 * The tie between operator/api/types.ts and common/contract.ts: a CRD field
 * may render an option only when its type is the option's type, so a type
 * changed on one side only stops the build here.
 */
const field = <O extends keyof TrainOptions, P extends string>(
  option: O,
  path: P,
  ..._sameType: Same<Writable<NonNullable<PathValue<RenderedSpec, P>>>, Writable<NonNullable<TrainOptions[O]>>> extends true ? [] : [never]
): TrainArgField => ({ option, from: { field: path } });
const podPath = (option: keyof TrainOptions, path: keyof TrainArgsPaths): TrainArgField => ({ option, from: { path } });

/**
 * Every option the operator renders, in flag order (stable, so rendered args
 * and pod diffs are too). The CRD field of each option is named here once:
 * the flag rendering reads it, and test/crds/datjob-option-specs.test.ts
 * checks that the CRD's type, bounds and enum at that path accept no value
 * the worker's option spec refuses.
 */
export const TRAIN_ARG_FIELDS: readonly TrainArgField[] = [
  field('dataset', 'training.dataset'),
  podPath('dataDir', 'dataDir'),
  field('limit', 'training.limit'),
  field('testSize', 'training.testSize'),
  field('unlabeledFraction', 'training.unlabeledFraction'),
  field('unlabeledData', 'training.unlabeledData'),
  field('unlabeledRatio', 'training.unlabeledRatio'),
  field('teacherEpochs', 'training.teacherEpochs'),
  field('model', 'training.model'),
  field('augment', 'training.augment'),
  field('attack', 'training.attack.type'),
  field('eps', 'training.attack.eps'),
  field('attackSteps', 'training.attack.steps'),
  field('attackStepSize', 'training.attack.stepSize'),
  field('attackRestarts', 'training.attack.restarts'),
  field('loss', 'training.loss.type'),
  field('lambda', 'training.loss.lambda'),
  field('beta', 'training.loss.beta'),
  field('optimizer', 'training.optimizer.type'),
  field('lr', 'training.optimizer.lr'),
  field('weightDecay', 'training.optimizer.weightDecay'),
  field('momentum', 'training.optimizer.momentum'),
  field('schedule', 'training.schedule.type'),
  field('warmupEpochs', 'training.schedule.warmupEpochs'),
  field('milestones', 'training.schedule.milestones'),
  field('gamma', 'training.schedule.gamma'),
  field('epochs', 'training.epochs'),
  field('batchSize', 'training.batchSizePerWorker'),
  field('evalEvery', 'training.evaluation.everyEpochs'),
  field('evalAttackSteps', 'training.evaluation.attackSteps'),
  field('evalRestarts', 'training.evaluation.restarts'),
  field('evalSize', 'training.evaluation.size'),
  field('compression', 'training.compression.type'),
  field('compressionWarmupSteps', 'training.compression.warmupSteps'),
  field('collectiveTimeoutMs', 'training.collectiveTimeoutMs'),
  field('backend', 'training.backend'),
  field('seed', 'training.seed'),
  podPath('checkpointDir', 'checkpointDir'),
  field('checkpointEvery', 'checkpoint.everySteps'),
  podPath('output', 'outputDir'),
  field('finalEval', 'evaluation.attacks'),
  field('finalEvalExamples', 'evaluation.examples'),
  field('finalEvalEps', 'evaluation.eps'),
];

/** camelCase option name → `--kebab-case` flag, as the contract defines. */
export function toFlag(option: keyof TrainOptions): string {
  return `--${option.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/**
 * Builds the arguments after `dat train`, as separate `--flag value` tokens.
 * Absent optional fields produce no flag, so the worker's dataset-scaled default applies.
 */
export function buildTrainArgs(training: DATJobTrainingSpec, checkpoint: DATJobCheckpointSpec, paths: TrainArgsPaths, evaluation?: DATJobFinalEvaluationSpec): string[] {
  const spec: RenderedSpec = { training, checkpoint, ...(evaluation !== undefined ? { evaluation } : {}) };
  const args: string[] = [];
  for (const { option, from } of TRAIN_ARG_FIELDS) {
    const value = 'field' in from ? (readPath(spec, from.field) as FlagValue) : paths[from.path];
    if (value === undefined) continue;
    args.push(toFlag(option), formatValue(value));
  }
  return args;
}

/** The value at a dotted path (`training.attack.eps`), undefined when any step is absent. */
export function readPath(obj: unknown, path: string): unknown {
  let cur: unknown = obj;
  for (const key of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

function formatValue(value: string | number | readonly number[] | readonly string[]): string {
  // Lists travel as one comma-separated token, e.g. `--milestones 30,40`, `--final-eval apgd-ce,square`.
  return Array.isArray(value) ? value.join(',') : String(value);
}
