/**
 * `madry-cnn`: the MNIST challenge network of Madry et al.
 * (`MadryLab/mnist_challenge: model.py`): conv 32 5×5 same → ReLU → maxpool 2
 * → conv 64 5×5 same → ReLU → maxpool 2 → flatten → dense 1024 → ReLU →
 * dense (logits). On MNIST: 3,274,634 parameters. Heavy on a CPU backend.
 */
import * as tf from '@tensorflow/tfjs';
import { SeededInit } from './_init.js';

/** Builds the Madry CNN; outputs logits (no softmax). */
export function buildMadryCnn(inputShape: readonly [number, number, number], numClasses: number, seed: number): tf.LayersModel {
  const init = new SeededInit(seed);
  return tf.sequential({
    name: 'madry_cnn',
    layers: [
      tf.layers.conv2d({ inputShape: [...inputShape], filters: 32, kernelSize: 5, padding: 'same', activation: 'relu', kernelInitializer: init.he() }),
      tf.layers.maxPooling2d({ poolSize: 2, strides: 2, padding: 'same' }),
      tf.layers.conv2d({ filters: 64, kernelSize: 5, padding: 'same', activation: 'relu', kernelInitializer: init.he() }),
      tf.layers.maxPooling2d({ poolSize: 2, strides: 2, padding: 'same' }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 1024, activation: 'relu', kernelInitializer: init.he() }),
      tf.layers.dense({ units: numClasses, kernelInitializer: init.glorot() }),
    ],
  });
}
