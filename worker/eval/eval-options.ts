/**
 * The options of `dat eval`: one table drives parsing, help and the argument
 * list the sharding launcher passes to its children. Every parse failure is
 * a ConfigError naming the flag (exit code 2, as for `dat train`).
 */
import { BACKENDS, PROGRESS_MODES, type BackendId, type ProgressMode } from '../../common/contract.js';
import { parseValue } from '../cli/parse-args.js';
import { describeAccepted, flagName, type ValueSpec } from '../cli/option-specs.js';
import { ConfigError } from '../../common/errors.js';
import { AUTOATTACK_STANDARD, EVAL_ATTACK_NAMES, type EvalAttackName } from './attacks/types.js';

/** Everything `dat eval` reads from its command line. */
export interface EvalOptions {
  /** Directory holding model.json (or the path of model.json itself). */
  readonly model: string;
  /** `mnist`, `fashion-mnist`, `cifar10` (with --data-dir) or a directory of IDX / CIFAR-10 binary files. */
  readonly dataset: string;
  readonly dataDir?: string;
  /** L-inf radius in [0, 1] pixel units; 0 = clean accuracy (the ball is the image itself). */
  readonly eps: number;
  /** The attacks in the order they run (`autoattack` already expanded). */
  readonly attacks: readonly EvalAttackName[];
  /** @default 'linf' (the only norm implemented) */
  readonly norm: 'linf';
  /** Evaluate the first K test examples. @default all */
  readonly nExamples?: number;
  /** @default 500 */
  readonly batchSize: number;
  /** @default 0 */
  readonly seed: number;
  /** Local processes to shard the examples over. @default 1 */
  readonly workers: number;
  /** Where eval.json is written; none = table only. */
  readonly out?: string;
  /** @default 'auto' */
  readonly backend: BackendId;
  /** @default 'auto' */
  readonly progress: ProgressMode;
}

/** One `dat eval` option. */
interface EvalOptionSpec {
  readonly key: keyof EvalOptions;
  readonly value: ValueSpec;
  readonly help: string;
  readonly required?: boolean;
}

const ATTACK_WORDS = ['autoattack', ...EVAL_ATTACK_NAMES];

/** Every option of `dat eval`, in help order. */
export const EVAL_OPTION_SPECS: readonly EvalOptionSpec[] = [
  { key: 'model', value: { kind: 'string' }, required: true, help: 'saved TensorFlow.js layers model: a directory with model.json and its weights, or model.json itself' },
  { key: 'dataset', value: { kind: 'string' }, required: true, help: 'mnist, fashion-mnist (held-out split, as dat train evaluates), cifar10 (with --data-dir), or a directory of IDX / CIFAR-10 binary files' },
  { key: 'dataDir', value: { kind: 'string' }, help: 'directory with the CIFAR-10 binary files for --dataset cifar10' },
  { key: 'eps', value: { kind: 'number', min: 0, max: 1 }, required: true, help: 'L-inf radius in pixel units ([0, 1] images); 8/255 is accepted; 0 measures clean accuracy (no attack runs)' },
  { key: 'attacks', value: { kind: 'enum-list', values: ATTACK_WORDS }, help: 'attacks, run in this order on the still-robust examples; autoattack = apgd-ce,apgd-t,fab-t,square' },
  { key: 'norm', value: { kind: 'enum', values: ['linf'] }, help: 'threat model (only linf is implemented)' },
  { key: 'nExamples', value: { kind: 'int', min: 1, max: 1e9 }, help: 'evaluate the first K test examples' },
  { key: 'batchSize', value: { kind: 'int', min: 1, max: 100_000 }, help: 'examples attacked together' },
  { key: 'seed', value: { kind: 'int', min: 0, max: 0xffff_ffff }, help: 'seed of every random draw (same seed, same eval.json)' },
  { key: 'workers', value: { kind: 'int', min: 1, max: 64 }, help: 'local processes to shard the examples over' },
  { key: 'out', value: { kind: 'string' }, help: 'directory for eval.json' },
  { key: 'backend', value: { kind: 'enum', values: BACKENDS }, help: 'TensorFlow.js backend; auto prefers the native one, as dat train does' },
  { key: 'progress', value: { kind: 'enum', values: PROGRESS_MODES }, help: 'progress display: auto, tty, plain, json, none' },
];

/** Defaults of the optional options. */
export const EVAL_DEFAULTS = { attacks: 'autoattack', norm: 'linf', batchSize: 500, seed: 0, workers: 1, backend: 'auto', progress: 'auto' } as const;

const SPEC_BY_FLAG = new Map(EVAL_OPTION_SPECS.map((s) => [flagName(s.key), s]));

/** Expands `autoattack` and removes repeats, keeping the first position. */
export function expandAttacks(words: readonly string[]): EvalAttackName[] {
  const out: EvalAttackName[] = [];
  for (const w of words.flatMap((w) => (w === 'autoattack' ? AUTOATTACK_STANDARD : [w as EvalAttackName]))) if (!out.includes(w)) out.push(w);
  return out;
}

/** Parses the arguments after `dat eval`. */
export function parseEvalArgs(argv: readonly string[]): EvalOptions {
  const given: Record<string, unknown> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) throw new ConfigError(`unexpected argument ${JSON.stringify(arg)}: options are --name value; run dat eval --help`);
    const eq = arg.indexOf('=');
    const flag = eq >= 0 ? arg.slice(0, eq) : arg;
    const spec = SPEC_BY_FLAG.get(flag);
    if (spec === undefined) throw new ConfigError(`unknown option ${flag} for dat eval; run dat eval --help for the list`);
    const raw = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
    if (raw === undefined || (eq < 0 && raw.startsWith('--'))) throw new ConfigError(`missing value for ${flag}: expected ${describeAccepted(spec.value)}`);
    given[spec.key] = parseValue(flag, spec.value, raw);
  }
  for (const spec of EVAL_OPTION_SPECS) {
    if (spec.required === true && given[spec.key] === undefined) throw new ConfigError(`missing ${flagName(spec.key)}: ${spec.help}`);
  }
  const words = (given.attacks as string[] | undefined) ?? [EVAL_DEFAULTS.attacks];
  if (words.length === 0) throw new ConfigError(`invalid value "" for --attacks: expected ${describeAccepted({ kind: 'enum-list', values: ATTACK_WORDS })}`);
  return { ...EVAL_DEFAULTS, ...given, attacks: expandAttacks(words) } as unknown as EvalOptions;
}

/** The argument list that parses back to `o` (what the sharding launcher passes its children). */
export function formatEvalArgs(o: EvalOptions): string[] {
  const out: string[] = [];
  for (const spec of EVAL_OPTION_SPECS) {
    const v = o[spec.key];
    if (v === undefined) continue;
    out.push(flagName(spec.key), Array.isArray(v) ? v.join(',') : String(v));
  }
  return out;
}

/** `dat eval --help`. */
export function formatEvalHelp(): string {
  const lines = [
    'Usage: dat eval --model DIR --dataset NAME|DIR --eps E [--option value] ...',
    '',
    'Evaluates a saved TensorFlow.js layers model under L-inf attacks. The default is',
    'the standard AutoAttack ensemble (Croce & Hein, ICML 2020): APGD-CE, APGD-T,',
    'FAB-T and Square, each on the examples the earlier ones left robust. Prints clean',
    'accuracy and the cumulative robust accuracy after each attack, and writes',
    '<out>/eval.json. See docs/evaluation.md.',
    '',
    'Options:',
  ];
  for (const spec of EVAL_OPTION_SPECS) {
    const def = (EVAL_DEFAULTS as Partial<Record<keyof EvalOptions, unknown>>)[spec.key];
    lines.push(`  ${flagName(spec.key)} <${spec.value.kind === 'enum' || spec.value.kind === 'enum-list' ? spec.value.values.join('|') : spec.value.kind}>`);
    lines.push(`      ${spec.help}.`);
    lines.push(`      ${spec.required === true ? 'Required' : `Default: ${def === undefined ? 'none' : String(def)}`}.`);
  }
  return lines.join('\n');
}
