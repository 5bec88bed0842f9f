/**
 * The inverse of `parseTrainArgs`: TrainOptions → `--flag value` arguments.
 * The local launcher uses it to start child workers with exactly the parent's
 * options; `parseTrainArgs(formatTrainArgs(o))` gives `o` back.
 *
 * An option whose value is the default the others derive (the PGD step size
 * 2.5*eps/steps, the dataset's eps, ...) is left out, so the child derives it
 * again, to the same value. Why: the cross-field rules judge what was given
 * (cross-field-rules.ts), and a derived value passed as given can break a rule
 * the parent's command line kept (a two-step PGD's derived step of 1.25*eps
 * next to a given eps). A derived option is kept when a rule needs it given
 * (the step schedule's milestones).
 */
import { isDeepStrictEqual } from 'node:util';
import type { TrainOptions } from '../../common/contract.js';
import { firstBrokenRule } from './cross-field-rules.js';
import { resolveTrainOptions } from './defaults.js';
import { flagName, OPTION_SPECS } from './option-specs.js';

/** Command-line arguments (after `dat train`) that reproduce `opts`; options overriding keys can be dropped with `omit`. */
export function formatTrainArgs(opts: TrainOptions, omit: readonly (keyof TrainOptions)[] = []): string[] {
  const given = givenKeys(opts);
  const out: string[] = [];
  for (const spec of OPTION_SPECS) {
    if (omit.includes(spec.key) || !given.has(spec.key)) continue;
    const v = opts[spec.key];
    if (v === undefined) continue;
    // `=` keeps an empty milestone list ("") and negative-looking values unambiguous.
    out.push(`${flagName(spec.key)}=${Array.isArray(v) ? v.join(',') : String(v)}`);
  }
  return out;
}

/**
 * The options to pass: every one the others do not derive, plus the derived
 * ones a cross-field rule needs given. The defaults form no cycle, so leaving
 * out a derived option still resolves it to its value in the child.
 */
function givenKeys(opts: TrainOptions): ReadonlySet<keyof TrainOptions> {
  const keys = OPTION_SPECS.map((s) => s.key).filter((k) => opts[k] !== undefined);
  const derived = keys.filter((k) => isDerived(opts, k));
  let given = new Set(keys.filter((k) => !derived.includes(k)));
  for (const k of derived) {
    if (firstBrokenRule(opts, given) === undefined) break;
    const withK = new Set(given).add(k);
    if (firstBrokenRule(opts, withK) === undefined) given = withK;
  }
  return given;
}

/** Whether `opts[key]` is what the other options derive for it (the world size comes from --workers, as in a launcher child). */
function isDerived(opts: TrainOptions, key: keyof TrainOptions): boolean {
  const rest: Partial<TrainOptions> = { ...opts };
  delete rest[key];
  return isDeepStrictEqual(resolveTrainOptions(rest)[key], opts[key]);
}
