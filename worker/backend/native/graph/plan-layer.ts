/**
 * The plan of one layer: what the graph builders need to emit a tfjs-layers
 * layer as TensorFlow ops (layer-table.ts plans, emits and differentiates
 * each kind).
 */

/** Activations the graphs implement. */
export type PlanActivation = 'relu' | 'linear';

/** One layer of a plan; weight fields index `model.trainableWeights`. */
export type PlanLayer =
  | {
      readonly kind: 'conv2d';
      /** [h, w, c] of the layer's input. */
      readonly inShape: readonly [number, number, number];
      readonly kernelSize: readonly [number, number];
      readonly strides: readonly [number, number];
      readonly padding: 'SAME' | 'VALID';
      readonly activation: PlanActivation;
      readonly kernel: number;
      readonly bias: number | null;
    }
  | {
      readonly kind: 'maxpool';
      readonly poolSize: readonly [number, number];
      readonly strides: readonly [number, number];
      readonly padding: 'SAME' | 'VALID';
    }
  /** `size`: features per example after flattening. */
  | { readonly kind: 'flatten'; readonly size: number }
  | { readonly kind: 'dense'; readonly activation: PlanActivation; readonly kernel: number; readonly bias: number | null }
  /**
   * BatchNormalization over the last axis of a [n, h, w, c] input. `gamma`
   * and `beta` index `model.trainableWeights`; `movingMean` and
   * `movingVariance` index `model.nonTrainableWeights`.
   */
  | {
      readonly kind: 'batchnorm';
      readonly channels: number;
      readonly gamma: number;
      readonly beta: number;
      readonly movingMean: number;
      readonly movingVariance: number;
      readonly epsilon: number;
      readonly momentum: number;
    }
  /** A ReLU layer (max(x, 0), no cap). */
  | { readonly kind: 'relu' }
  /** Elementwise sum of the node's inputs (2 or more, equal shapes), summed in input order. */
  | { readonly kind: 'add' }
  /** Mean over h and w of a [n, h, w, c] input: [n, c]. */
  | { readonly kind: 'globalAvgPool'; readonly inShape: readonly [number, number, number] };

/** Node id of the model's input in {@link ModelPlanOk.inputs}. */
export const MODEL_INPUT = -1;
