/** Public API of the `dat` command line. */
export { parseCommand, parseTrainArgs, validateTrainOptions, COMMANDS, type ParsedCommand } from './parse-args.js';
export { formatTrainArgs } from './format-args.js';
export { resolveTrainOptions, effectiveWorldSize, DATASET_DEFAULTS } from './defaults.js';
export { formatMainHelp, formatTrainHelp } from './help-text.js';
export {
  createProgressDisplay,
  formatProgressLine,
  parseProgressLine,
  resolveProgressMode,
  formatDuration,
  type DisplayProgress,
  type ProgressDisplay,
  type DisplayOutput,
} from './progress-display.js';
export { formatFinalTable, formatTable } from './final-table.js';
export { OPTION_SPECS, flagName } from './option-specs.js';
