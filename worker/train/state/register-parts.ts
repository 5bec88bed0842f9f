/**
 * The one list of a run's checkpoint parts. A new piece of state is a part
 * in its own file plus one line here. Order matters on load: the weights
 * come before each rank's own BatchNorm statistics, which overwrite theirs.
 */
import type * as tf from '@tensorflow/tfjs';
import type { CheckpointPart } from '../../checkpoint/checkpoint-part.js';
import type { Optimizer } from '../optimizers/index.js';
import type { BestWeightsGuard } from '../overfit-guard.js';
import { createBatchNormPart } from './batch-norm-part.js';
import { createGuardPart } from './guard-part.js';
import { createLoopPart, type LoopState } from './loop-state.js';
import { createOptimizerPart } from './optimizer-part.js';
import { createTeacherPart } from './teacher-part.js';
import type { TeacherState } from '../unlabeled/teacher-state.js';
import { createWeightsPart } from './weights-part.js';

/** The stateful objects of one rank's run. */
export interface RunStateObjects {
  readonly rank: number;
  readonly model: tf.LayersModel;
  readonly optimizer: Optimizer;
  readonly guard?: BestWeightsGuard;
  readonly loop: LoopState;
  /** The robust self-training teacher, when the run has an unlabelled pool. */
  readonly teacher?: TeacherState;
  /** Parts owned outside the loop (the gradient reducer's compression memories), registered last. */
  readonly extraParts?: readonly CheckpointPart[];
}

/** Every part a checkpoint of this run saves and a resume restores. */
export function registerRunParts(o: RunStateObjects): CheckpointPart[] {
  return [
    createWeightsPart(o.model),
    createBatchNormPart(o.model, o.rank),
    createOptimizerPart(o.optimizer),
    ...(o.guard !== undefined ? [createGuardPart(o.guard)] : []),
    createLoopPart(o.loop),
    ...(o.teacher !== undefined ? [createTeacherPart(o.teacher)] : []),
    ...(o.extraParts ?? []),
  ];
}
