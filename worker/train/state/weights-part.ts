/**
 * The model's weights as a checkpoint part: every variable in `model.weights`
 * order, BatchNorm statistics included (rank 0's; each other rank's own
 * statistics are batch-norm-part.ts). Loaded on every rank.
 */
import type * as tf from '@tensorflow/tfjs';
import { PART_SCOPES, type CheckpointPart, type SavedPart } from '../../checkpoint/checkpoint-part.js';
import { modelVariables, readWeights, writeWeights } from '../variables.js';

export const WEIGHTS_PART = 'model';
const TENSOR = 'weights';

/** The meta of the weights part: how many values the file must hold. */
interface WeightsMeta {
  readonly count: number;
}

export function createWeightsPart(model: tf.LayersModel): CheckpointPart {
  return {
    key: WEIGHTS_PART,
    scope: PART_SCOPES.run,
    required: true,
    save: async () => {
      const weights = await readWeights(modelVariables(model));
      return { meta: { count: weights.length } satisfies WeightsMeta, tensors: new Map([[TENSOR, weights]]) };
    },
    check: (saved) => checkWeights(saved),
    load: (saved) => writeWeights(modelVariables(model), saved.tensors.get(TENSOR)!),
  };
}

/** A file can pass its checksum and still be inconsistent (a buggy or hostile writer): the count must match. */
function checkWeights(saved: SavedPart): string | undefined {
  const weights = saved.tensors.get(TENSOR);
  if (weights === undefined) return `${WEIGHTS_PART}/${TENSOR} is missing`;
  const count = (saved.meta as Partial<WeightsMeta> | undefined)?.count;
  return weights.length === count ? undefined : `${weights.length} weights, its configuration says ${String(count)}`;
}
