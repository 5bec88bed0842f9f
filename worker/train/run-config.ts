/**
 * The training configuration a checkpoint records, and the rule for resuming
 * from it: a resume with any other value of an option that shapes the
 * training (attack, eps, lr, compression, ring size, ...) is refused with the
 * differences listed, except the {@link RESUME_CHANGEABLE_OPTIONS} that
 * `--allow-config-change` names. A silent resume under another configuration
 * would train a model that matches neither.
 */
import { createHash } from 'node:crypto';
import { RESUME_CHANGEABLE_OPTIONS, type TrainOptions } from '../../common/contract.js';
import { flagName } from '../cli/option-specs.js';
import { ConfigError } from '../../common/errors.js';

/**
 * Options a checkpoint does not record: where things are written, how
 * progress is shown, how the ring runs, how the final model is evaluated. None changes what a step computes
 * (the ring size is recorded as `worldSize`; a data directory may be mounted
 * elsewhere after a reschedule, and `trainExamples` identifies the data).
 */
const NOT_RECORDED = [
  'output',
  'progress',
  'backend',
  'workers',
  'collectiveTimeoutMs',
  'checkpointDir',
  'checkpointEvery',
  'dataDir',
  'allowConfigChange',
  // The final evaluation runs after the last step: it changes no weight, and a resume may ask for another.
  'finalEval',
  'finalEvalExamples',
  'finalEvalEps',
] as const satisfies readonly (keyof TrainOptions)[];
type NotRecorded = (typeof NOT_RECORDED)[number];

/** What a checkpoint records about its run: every option that shapes training, plus what the run derived. */
export type RunFingerprint = Omit<TrainOptions, NotRecorded> & {
  /** Ranks in the ring. */
  readonly worldSize: number;
  /** Training examples after `--limit` and the held-out split. */
  readonly trainExamples: number;
  /** Scalars in the model's variables. */
  readonly weightCount: number;
};

/** Values the run derived from its options and data. */
export type DerivedConfig = Pick<RunFingerprint, 'worldSize' | 'trainExamples' | 'weightCount'>;

/** Readable names of the derived fields (they have no flag). */
const DERIVED_LABELS: Readonly<Record<string, string>> = {
  worldSize: 'ring size',
  trainExamples: 'training examples',
  weightCount: 'model weights',
  stepsPerEpoch: 'steps per epoch',
};

const CHANGEABLE: ReadonlySet<string> = new Set(RESUME_CHANGEABLE_OPTIONS);

/**
 * Options added after checkpoints were already being written, with the value
 * every older run had. A checkpoint that does not record one trained with
 * that value, so it resumes a run that sets it; and a run at that value keeps
 * the configuration id it had before the option existed.
 */
const IMPLIED_WHEN_UNRECORDED: Readonly<Record<string, unknown>> = { augment: 'none', unlabeledRatio: 0.5 };

/** `fp` with the options an older worker did not record filled in. */
function withImplied(fp: RunFingerprint): Readonly<Record<string, unknown>> {
  return { ...IMPLIED_WHEN_UNRECORDED, ...(fp as unknown as Readonly<Record<string, unknown>>) };
}

/** The fingerprint of a run with options `opts`. */
export function buildRunFingerprint(opts: TrainOptions, derived: DerivedConfig): RunFingerprint {
  const skip: ReadonlySet<string> = new Set(NOT_RECORDED);
  const recorded: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(opts)) {
    if (!skip.has(key) && value !== undefined) recorded[key] = Array.isArray(value) ? [...(value as unknown[])] : value;
  }
  return { ...(recorded as Omit<TrainOptions, NotRecorded>), ...derived };
}

/** One field that differs between a checkpoint's configuration and the current one. */
export interface ConfigDifference {
  /** `--eps`, or a description for derived fields (`ring size`). */
  readonly name: string;
  readonly saved: string;
  readonly current: string;
  /** The flag name `--allow-config-change` accepts for it, when it may change. */
  readonly changeable?: string;
}

function show(v: unknown): string {
  if (v === undefined) return 'unset';
  return Array.isArray(v) ? `[${v.join(',')}]` : String(v);
}

/** Fields of `saved` and `current` that differ, in `current`'s order (then fields only `saved` has). */
export function configDifferences(saved: RunFingerprint, current: RunFingerprint): ConfigDifference[] {
  const s = withImplied(saved);
  const c = withImplied(current);
  const keys = [...new Set([...Object.keys(c), ...Object.keys(s)])];
  const out: ConfigDifference[] = [];
  for (const key of keys) {
    if (JSON.stringify(s[key]) === JSON.stringify(c[key])) continue;
    const flag = flagName(key);
    const changeable = flag.slice(2);
    out.push({ name: DERIVED_LABELS[key] ?? flag, saved: show(s[key]), current: show(c[key]), ...(CHANGEABLE.has(changeable) ? { changeable } : {}) });
  }
  return out;
}

/**
 * Identity of the configuration for the checkpoint manifests: a hash of the
 * fields a resume can never change, so pruning keeps treating a run resumed
 * with `--allow-config-change epochs` as the same run.
 */
export function configId(fp: RunFingerprint): string {
  const rec = fp as unknown as Readonly<Record<string, unknown>>;
  const fixed = Object.keys(rec)
    .filter((k) => rec[k] !== undefined && !CHANGEABLE.has(flagName(k).slice(2)))
    .filter((k) => !(k in IMPLIED_WHEN_UNRECORDED) || rec[k] !== IMPLIED_WHEN_UNRECORDED[k])
    .sort()
    .map((k) => [k, rec[k]]);
  return createHash('sha256').update(JSON.stringify(fixed)).digest('hex').slice(0, 16);
}

/** Fields every fingerprint of this worker records (older workers recorded a few). */
const ALWAYS_RECORDED = ['attack', 'eps', 'lr', 'compression', 'epochs', 'worldSize'] as const;

/** A checkpoint of an older worker does not say how it trained: nothing can prove a resume unchanged. */
function refuseUnrecorded(saved: RunFingerprint, where: string): void {
  const rec = saved as unknown as Readonly<Record<string, unknown>>;
  const missing = ALWAYS_RECORDED.filter((k) => rec[k] === undefined);
  if (missing.length === 0) return;
  throw new ConfigError(
    `checkpoint ${where} was written by an older worker that did not record its training configuration (no ${missing.join(', ')}), so a resume cannot be checked against it; use a fresh --checkpoint-dir`,
  );
}

function describeDifference(d: ConfigDifference): string {
  return `${d.name} ${d.saved}→${d.current}`;
}

/**
 * Checks that a run with `current` may resume from a checkpoint written with
 * `saved`; returns the differences it accepted (those `allowed` names) or
 * throws a ConfigError listing every other one. `where` names the checkpoint.
 */
export function checkResumeConfig(saved: RunFingerprint, current: RunFingerprint, allowed: readonly string[], where: string): ConfigDifference[] {
  refuseUnrecorded(saved, where);
  const diffs = configDifferences(saved, current);
  const refused = diffs.filter((d) => d.changeable === undefined || !allowed.includes(d.changeable));
  if (refused.length === 0) return diffs;
  const changeable = refused.flatMap((d) => (d.changeable !== undefined ? [d.changeable] : []));
  const hint = changeable.length > 0 ? `; to keep the checkpoint and change only ${changeable.join(', ')}, add --allow-config-change ${changeable.join(',')}` : '';
  throw new ConfigError(
    `checkpoint ${where} was written with another configuration (${refused.map(describeDifference).join(', ')}): rerun with the checkpoint's values or use a fresh --checkpoint-dir${hint}`,
  );
}
