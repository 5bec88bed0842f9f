/**
 * `mlp`: flatten → dense 256 → ReLU → dense 256 → ReLU → dense (logits).
 * On MNIST (784 inputs, 10 classes) that is 269,322 parameters.
 */
import * as tf from '@tensorflow/tfjs';
import { SeededInit } from './_init.js';

/** Hidden layer widths. */
export const MLP_HIDDEN = [256, 256] as const;

/** Builds the MLP; outputs logits (no softmax). */
export function buildMlp(inputShape: readonly [number, number, number], numClasses: number, seed: number): tf.LayersModel {
  const init = new SeededInit(seed);
  const layers: tf.layers.Layer[] = [tf.layers.flatten({ inputShape: [...inputShape] })];
  for (const units of MLP_HIDDEN) {
    layers.push(tf.layers.dense({ units, activation: 'relu', kernelInitializer: init.he() }));
  }
  layers.push(tf.layers.dense({ units: numClasses, kernelInitializer: init.glorot() }));
  return tf.sequential({ layers, name: 'mlp' });
}
