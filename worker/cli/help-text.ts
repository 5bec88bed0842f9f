/** `dat --help` and `dat train --help`, generated from the option table and the defaults. */
import type { TrainOptions } from '../../common/contract.js';
import { DERIVED_DEFAULT_HELP, FIXED_DEFAULTS } from './defaults.js';
import { describeAccepted, flagName, OPTION_GROUPS, OPTION_SPECS, type OptionSpec } from './option-specs.js';

/** Top-level usage. */
export function formatMainHelp(): string {
  return [
    'dat: distributed adversarial training (DAT) with TensorFlow.js',
    '',
    'Usage:',
    '  dat train [options]     train a model (one process, or --workers N on this machine)',
    '  dat train --help        list every training option and its default',
    '  dat eval [options]      evaluate a saved model under AutoAttack or PGD (dat eval --help)',
    '',
    'Example:',
    '  dat train --dataset mnist --model small-cnn --attack pgd --eps 0.3 --epochs 5 --output out/',
    '',
    'Exit codes: 0 success, 1 failure, 2 bad option, 3 peer failure, 4 bad data.',
  ].join('\n');
}

function defaultOf(spec: OptionSpec): string {
  const derived = DERIVED_DEFAULT_HELP[spec.key];
  if (derived !== undefined) return derived;
  const fixed = (FIXED_DEFAULTS as Partial<Record<keyof TrainOptions, unknown>>)[spec.key];
  return fixed === undefined ? 'none' : String(fixed);
}

function placeholder(spec: OptionSpec): string {
  if (spec.value.kind === 'enum') return spec.value.values.join('|');
  if (spec.value.kind === 'enum-list') return `${spec.value.values.join('|')},...`;
  return spec.value.kind;
}

/** Every option, grouped, with accepted values and defaults. */
export function formatTrainHelp(): string {
  const lines: string[] = [
    'Usage: dat train [--option value | --option=value] ...',
    '',
    'Trains a model adversarially and writes <output>/model/ (TensorFlow.js format,',
    'loadable with tf.loadLayersModel) and <output>/metrics.json (clean and robust',
    'accuracy as fractions, the attack used, per-epoch history, where the time went),',
    '<output>/tensorboard/ (TensorBoard event files, written as training runs) and',
    '<output>/curves.svg (accuracy, loss, images/s and, with several workers, bytes',
    'per step). Defaults follow the DAT reference code, scaled to the dataset and to a CPU.',
  ];
  for (const group of OPTION_GROUPS) {
    lines.push('', `${group}:`);
    for (const spec of OPTION_SPECS.filter((s) => s.group === group)) {
      lines.push(`  ${flagName(spec.key)} <${placeholder(spec)}>`);
      lines.push(`      ${spec.help}.`);
      if (spec.value.kind !== 'enum') lines.push(`      Accepts ${describeAccepted(spec.value)}.`);
      lines.push(`      Default: ${defaultOf(spec)}.`);
    }
  }
  lines.push(
    '',
    'Environment (set by the operator or the local launcher, not by hand):',
    '  DAT_RANK, DAT_WORLD_SIZE, DAT_PEERS   run as one rank of a ring',
    '  DAT_PEER_TEMPLATE                     peers as one pattern, {rank} for the rank (instead of DAT_PEERS)',
    '  DAT_METRICS_PORT                      serve /metrics and /progress over HTTP',
  );
  return lines.join('\n');
}
