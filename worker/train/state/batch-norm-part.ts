/**
 * Each rank's own BatchNorm statistics as a checkpoint part. Running
 * statistics drift per rank within an epoch (only the parameters are
 * averaged), so a rank > 0 keeps its own; rank 0's travel in weights-part.ts.
 * Registered after the weights part, so its load overwrites theirs.
 */
import type * as tf from '@tensorflow/tfjs';
import { PART_SCOPES, type CheckpointPart } from '../../checkpoint/checkpoint-part.js';
import { nonTrainableVariables, readWeights, writeWeights } from '../variables.js';

export const BATCH_NORM_PART = 'batch-norm';
const TENSOR = 'statistics';

export function createBatchNormPart(model: tf.LayersModel, rank: number): CheckpointPart {
  const owns = rank !== 0 && model.nonTrainableWeights.length > 0;
  return {
    key: BATCH_NORM_PART,
    scope: PART_SCOPES.rank,
    save: async () => (owns ? { tensors: new Map([[TENSOR, await readWeights(nonTrainableVariables(model))]]) } : undefined),
    check: (saved) => (saved.tensors.has(TENSOR) ? undefined : `${BATCH_NORM_PART}/${TENSOR} is missing`),
    load: (saved) => writeWeights(nonTrainableVariables(model), saved.tensors.get(TENSOR)!),
  };
}
