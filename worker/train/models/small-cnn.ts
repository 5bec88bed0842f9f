/**
 * `small-cnn`: the MNIST network of Wong et al., "Fast is better than free"
 * (`locuslab/fast_adversarial: MNIST/train_mnist.py`):
 * conv 16 4×4 stride 2 → ReLU → conv 32 4×4 stride 2 → ReLU → flatten →
 * dense 100 → ReLU → dense (logits). The reference pads by 1; `same` padding
 * gives the same 28→14→7 spatial sizes. On MNIST: 166,406 parameters.
 */
import * as tf from '@tensorflow/tfjs';
import { SeededInit } from './_init.js';

/** Builds the small CNN; outputs logits (no softmax). */
export function buildSmallCnn(inputShape: readonly [number, number, number], numClasses: number, seed: number): tf.LayersModel {
  const init = new SeededInit(seed);
  return tf.sequential({
    name: 'small_cnn',
    layers: [
      tf.layers.conv2d({ inputShape: [...inputShape], filters: 16, kernelSize: 4, strides: 2, padding: 'same', activation: 'relu', kernelInitializer: init.he() }),
      tf.layers.conv2d({ filters: 32, kernelSize: 4, strides: 2, padding: 'same', activation: 'relu', kernelInitializer: init.he() }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 100, activation: 'relu', kernelInitializer: init.he() }),
      tf.layers.dense({ units: numClasses, kernelInitializer: init.glorot() }),
    ],
  });
}
