/** Public API of `dat eval`: options, the evaluation run, its report, and the attacks. */
export { parseEvalArgs, formatEvalArgs, formatEvalHelp, expandAttacks, EVAL_OPTION_SPECS, EVAL_DEFAULTS, type EvalOptions } from './eval-options.js';
export { runEvalCommand, runEvaluation, EVAL_SHARD_ENV, type EvalRun, type EvalIo } from './run-eval.js';
export { buildEvalReport, formatEvalTable, mergeShards, type EvalReport } from './eval-report.js';
export { runEnsemble, type EnsembleStep, type BatchOutcome } from './ensemble.js';
export { evaluateShard, shardBatches, type ShardPlan, type ShardOutcome } from './evaluate-shard.js';
export { loadEvalModel, loadEvalDataset, checkModelFitsData } from './load-eval-inputs.js';
export * from './attacks/index.js';
