/** Renders `spec.training` (+ checkpoint) into the `dat train` flags of worker/contract.ts. */
import type { TrainOptions } from '../../worker/contract.js';
import type { DATJobCheckpointSpec, DATJobTrainingSpec } from '../api/types.js';

/** Paths inside the pod that the flags point at. */
export interface TrainArgsPaths {
  readonly checkpointDir: string;
  readonly outputDir: string;
  /** Set when the job has a data volume. */
  readonly dataDir?: string;
}

type FlagValue = string | number | readonly number[] | undefined;

/** camelCase option name → `--kebab-case` flag, as the contract defines. */
export function toFlag(option: keyof TrainOptions): string {
  return `--${option.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/**
 * Builds the arguments after `dat train`, as separate `--flag value` tokens.
 * Absent optional fields produce no flag, so the worker's dataset-scaled default applies.
 */
export function buildTrainArgs(training: DATJobTrainingSpec, checkpoint: DATJobCheckpointSpec, paths: TrainArgsPaths): string[] {
  // Pairs in a fixed order so the rendered args are stable (golden tests, pod diffs).
  const pairs: [keyof TrainOptions, FlagValue][] = [
    ['dataset', training.dataset],
    ['dataDir', paths.dataDir],
    ['limit', training.limit],
    ['testSize', training.testSize],
    ['unlabeledFraction', training.unlabeledFraction],
    ['teacherEpochs', training.teacherEpochs],
    ['model', training.model],
    ['attack', training.attack?.type],
    ['eps', training.attack?.eps],
    ['attackSteps', training.attack?.steps],
    ['attackStepSize', training.attack?.stepSize],
    ['attackRestarts', training.attack?.restarts],
    ['loss', training.loss?.type],
    ['lambda', training.loss?.lambda],
    ['beta', training.loss?.beta],
    ['optimizer', training.optimizer?.type],
    ['lr', training.optimizer?.lr],
    ['weightDecay', training.optimizer?.weightDecay],
    ['momentum', training.optimizer?.momentum],
    ['schedule', training.schedule?.type],
    ['warmupEpochs', training.schedule?.warmupEpochs],
    ['milestones', training.schedule?.milestones],
    ['gamma', training.schedule?.gamma],
    ['epochs', training.epochs],
    ['batchSize', training.batchSizePerWorker],
    ['evalEvery', training.evaluation?.everyEpochs],
    ['evalAttackSteps', training.evaluation?.attackSteps],
    ['evalRestarts', training.evaluation?.restarts],
    ['evalSize', training.evaluation?.size],
    ['compression', training.compression?.type],
    ['compressionWarmupSteps', training.compression?.warmupSteps],
    ['collectiveTimeoutMs', training.collectiveTimeoutMs],
    ['backend', training.backend],
    ['seed', training.seed],
    ['checkpointDir', paths.checkpointDir],
    ['checkpointEvery', checkpoint.everySteps],
    ['output', paths.outputDir],
  ];
  const args: string[] = [];
  for (const [option, value] of pairs) {
    if (value === undefined) continue;
    args.push(toFlag(option), formatValue(value));
  }
  return args;
}

function formatValue(value: string | number | readonly number[]): string {
  // Milestones travel as one comma-separated token, e.g. `--milestones 30,40`.
  return Array.isArray(value) ? value.join(',') : String(value);
}
