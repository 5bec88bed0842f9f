/**
 * Parsing `dat` command lines. Every failure is a {@link ConfigError} with a
 * one-line message naming the option and what it accepts; `main.ts` turns it
 * into exit code 2.
 */
import type { TrainOptions } from '../../common/contract.js';
import { ConfigError } from '../../common/errors.js';
import { COMPRESSION_NEEDS_RING, firstBrokenRule } from './cross-field-rules.js';
import { effectiveWorldSize, resolveTrainOptions } from './defaults.js';
import { describeAccepted, flagName, SPEC_BY_FLAG, type OptionSpec, type ValueSpec } from './option-specs.js';

/** Sub-commands of `dat`. */
export const COMMANDS = { train: 'train', help: 'help' } as const;

/** A parsed command line. */
export type ParsedCommand =
  | { readonly command: typeof COMMANDS.train; readonly options: TrainOptions }
  | { readonly command: typeof COMMANDS.help; readonly topic?: typeof COMMANDS.train };

const HELP_FLAGS: ReadonlySet<string> = new Set(['--help', '-h']);

function bad(flag: string, v: ValueSpec, raw: string, why?: string): never {
  throw new ConfigError(`invalid value ${JSON.stringify(raw)} for ${flag}: expected ${describeAccepted(v)}${why === undefined ? '' : ` (${why})`}`);
}

/** Parses one raw value by its spec (a pure function of its arguments). */
export function parseValue(flag: string, v: ValueSpec, raw: string): string | number | number[] | string[] {
  switch (v.kind) {
    case 'enum':
      if (!v.values.includes(raw)) bad(flag, v, raw);
      return raw;
    case 'enum-list': {
      if (raw.trim() === '') return [];
      const parts = raw.split(',').map((p) => p.trim());
      // Name the unknown entries, not the whole list they came in: the accepted values follow once.
      const unknown = parts.filter((p) => !v.values.includes(p));
      if (unknown.length > 0) throw new ConfigError(`unknown value${unknown.length > 1 ? 's' : ''} ${unknown.map((u) => JSON.stringify(u)).join(', ')} for ${flag}: expected ${describeAccepted(v)}`);
      return [...new Set(parts)];
    }
    case 'string':
      if (raw.trim() === '') bad(flag, v, raw);
      return raw;
    case 'int': {
      const n = parseNumber(raw);
      if (n === undefined || !Number.isInteger(n) || n < v.min || n > v.max) bad(flag, v, raw);
      return n;
    }
    case 'number': {
      const n = parseNumber(raw);
      if (n === undefined) bad(flag, v, raw);
      const lowOk = v.minExclusive === true ? n > v.min : n >= v.min;
      const highOk = v.maxExclusive === true ? n < v.max : n <= v.max;
      if (!lowOk) bad(flag, v, raw, v.whyMin);
      if (!highOk) bad(flag, v, raw);
      return n;
    }
    case 'number-list': {
      if (raw.trim() === '') return [];
      const parts = raw.split(',').map((p) => parseNumber(p.trim()));
      const ok = parts.every((p, i) => p !== undefined && p >= v.min && (i === 0 || p > parts[i - 1]!));
      if (!ok) bad(flag, v, raw);
      return parts as number[];
    }
  }
}

/** A finite number written in decimal or exponent notation ("8/255" is also accepted, for eps). */
function parseNumber(raw: string): number | undefined {
  const s = raw.trim();
  const frac = /^([0-9.eE+-]+)\/([0-9.eE+-]+)$/.exec(s);
  if (frac !== null) {
    const a = parseNumber(frac[1]!);
    const b = parseNumber(frac[2]!);
    return a !== undefined && b !== undefined && b !== 0 ? a / b : undefined;
  }
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s)) return undefined;
  const n = Number(s);
  return Number.isFinite(n) ? n : undefined;
}

/** Splits `--flag value` / `--flag=value` pairs; rejects unknown flags and missing values. */
function readFlags(argv: readonly string[]): Map<OptionSpec, string> {
  const out = new Map<OptionSpec, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) throw new ConfigError(`unexpected argument ${JSON.stringify(arg)}: options are --name value; run dat train --help`);
    const eq = arg.indexOf('=');
    const flag = eq >= 0 ? arg.slice(0, eq) : arg;
    const spec = SPEC_BY_FLAG.get(flag);
    if (spec === undefined) throw new ConfigError(`unknown option ${flag}; run dat train --help for the list`);
    let raw: string;
    if (eq >= 0) raw = arg.slice(eq + 1);
    else {
      const next = argv[i + 1];
      // A value may be negative ("-1") but not another flag.
      if (next === undefined || next.startsWith('--')) throw new ConfigError(`missing value for ${flag}: expected ${describeAccepted(spec.value)}`);
      raw = next;
      i++;
    }
    out.set(spec, raw);
  }
  return out;
}

/**
 * Checks that span several options (each message names the option to
 * change). `given` holds the options set on the command line: some rules, as
 * in the CRD, apply only to values given explicitly (cross-field-rules.ts).
 */
export function validateTrainOptions(o: TrainOptions, given: ReadonlySet<keyof TrainOptions> = new Set()): void {
  const msg = firstBrokenRule(o, given);
  if (msg !== undefined) throw new ConfigError(msg);
}

/**
 * Parses the arguments after `dat train` into complete TrainOptions
 * (unspecified options get the defaults of `defaults.ts`). `env` supplies
 * DAT_WORLD_SIZE, which changes the default optimizer and decides whether a
 * compression has a ring to compress.
 */
export function parseTrainArgs(argv: readonly string[], env: NodeJS.ProcessEnv = {}): TrainOptions {
  const given: Record<string, unknown> = {};
  for (const [spec, raw] of readFlags(argv)) given[spec.key] = parseValue(flagName(spec.key), spec.value, raw);
  const opts = resolveTrainOptions(given as Partial<TrainOptions>, env);
  validateTrainOptions(opts, new Set(Object.keys(given) as (keyof TrainOptions)[]));
  const ringless = COMPRESSION_NEEDS_RING.check(opts, effectiveWorldSize(opts.workers, env));
  if (ringless !== undefined) throw new ConfigError(ringless);
  return opts;
}

/** Parses a whole `dat ...` command line (without `node` and the script). */
export function parseCommand(argv: readonly string[], env: NodeJS.ProcessEnv = {}): ParsedCommand {
  const [cmd, ...rest] = argv;
  if (cmd === undefined || HELP_FLAGS.has(cmd) || cmd === COMMANDS.help) return { command: COMMANDS.help };
  if (cmd !== COMMANDS.train) throw new ConfigError(`unknown command ${JSON.stringify(cmd)}: expected train, eval or help`);
  if (rest.some((a) => HELP_FLAGS.has(a))) return { command: COMMANDS.help, topic: COMMANDS.train };
  return { command: COMMANDS.train, options: parseTrainArgs(rest, env) };
}
