/**
 * Model zoo: every {@link ModelId} maps to a builder that returns a
 * `tf.LayersModel` producing logits (no softmax), with weights fixed by a seed.
 */
import * as tf from '@tensorflow/tfjs';
import type { ModelId } from '../../../common/contract.js';
import { ConfigError } from '../../../common/errors.js';
import { buildMlp } from './mlp.js';
import { buildSmallCnn } from './small-cnn.js';
import { buildMadryCnn } from './madry-cnn.js';
import { buildPreActResNet18, buildPreActResNet8, buildWideResNet34x10 } from './preact-resnet.js';

export { PREACT_RESNET_8, PREACT_RESNET_18, PREACT_RESNET_STAGES, WIDE_RESNET_34_10, type PreActConfig, type PreActStage } from './preact-resnet.js';
export { MLP_HIDDEN } from './mlp.js';

/** Builds a model for `inputShape` ([h, w, c]) and `numClasses`, seeded by `seed`. */
export type ModelFactory = (inputShape: readonly [number, number, number], numClasses: number, seed: number) => tf.LayersModel;

/** One builder per model id. */
export const MODEL_FACTORIES: Record<ModelId, ModelFactory> = {
  mlp: buildMlp,
  'small-cnn': buildSmallCnn,
  'madry-cnn': buildMadryCnn,
  'preact-resnet-8': buildPreActResNet8,
  'preact-resnet-18': buildPreActResNet18,
  'wide-resnet-34-10': buildWideResNet34x10,
  // Deprecated alias (DEPRECATED_MODELS): the same network as preact-resnet-8.
  'preact-resnet': buildPreActResNet8,
};

/**
 * Builds model `id`. Outputs logits (no softmax). The same `seed` gives the
 * same weights on every rank and every run (seeded initializers per layer).
 * Layer names are made unique by tfjs per process, so do not key saved
 * weights by name; use the order of `model.weights`.
 */
export function createModel(id: ModelId, inputShape: readonly [number, number, number], numClasses: number, seed: number): tf.LayersModel {
  const factory = MODEL_FACTORIES[id];
  if (factory === undefined) throw new ConfigError(`unknown model ${String(id)}; expected one of ${Object.keys(MODEL_FACTORIES).join(', ')}`);
  if (inputShape.length !== 3 || inputShape.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new ConfigError(`model ${id}: inputShape must be three positive integers [h, w, c], got [${inputShape.join(', ')}]`);
  }
  if (!Number.isInteger(numClasses) || numClasses < 2) throw new ConfigError(`model ${id}: numClasses must be an integer >= 2, got ${numClasses}`);
  if (id === 'madry-cnn' || id === 'small-cnn') {
    // Two stride-2 reductions need at least 4×4 inputs to leave a non-empty feature map.
    if (inputShape[0] < 4 || inputShape[1] < 4) throw new ConfigError(`model ${id}: input must be at least 4x4, got ${inputShape[0]}x${inputShape[1]}`);
  }
  return factory(inputShape, numClasses, seed);
}

/**
 * Number of scalar weights, Keras "Total params" convention: trainable
 * weights plus non-trainable ones (BatchNorm running statistics).
 */
export function countParams(model: tf.LayersModel): number {
  return model.countParams();
}

/** Number of trainable scalars (what the gradient all-reduce carries). */
export function countTrainableParams(model: tf.LayersModel): number {
  return model.trainableWeights.reduce((n, w) => n + w.shape.reduce<number>((a, d) => a * (d ?? 1), 1), 0);
}
