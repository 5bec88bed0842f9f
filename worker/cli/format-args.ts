/**
 * The inverse of `parseTrainArgs`: TrainOptions → `--flag value` arguments.
 * The local launcher uses it to start child workers with exactly the parent's
 * options; `parseTrainArgs(formatTrainArgs(o))` gives `o` back.
 */
import type { TrainOptions } from '../contract.js';
import { flagName, OPTION_SPECS } from './option-specs.js';

/** Command-line arguments (after `dat train`) that reproduce `opts`; options overriding keys can be dropped with `omit`. */
export function formatTrainArgs(opts: TrainOptions, omit: readonly (keyof TrainOptions)[] = []): string[] {
  const out: string[] = [];
  for (const spec of OPTION_SPECS) {
    if (omit.includes(spec.key)) continue;
    const v = opts[spec.key];
    if (v === undefined) continue;
    // `=` keeps an empty milestone list ("") and negative-looking values unambiguous.
    out.push(`${flagName(spec.key)}=${Array.isArray(v) ? v.join(',') : String(v)}`);
  }
  return out;
}
