/** Shared fixtures of the eval attack tests: a fixed tiny model and MNIST-like inputs. */
import * as tf from '@tensorflow/tfjs';
import { createModel } from '../../../../worker/train/models/index.js';

export const SHAPE = [8, 8, 1] as const;
export const N = 16;

/** A small CNN with weights fixed by seed 1. */
export function tinyModel(): tf.LayersModel {
  return createModel('small-cnn', SHAPE, 10, 1);
}

/** N inputs in [0, 1] with exact 0s and 1s, and labels set to the model's own clean predictions (so every example starts correct). */
export function tinyBatch(model: tf.LayersModel): { x: tf.Tensor4D; y: tf.Tensor1D } {
  const x = tf.tidy(() => tf.clipByValue(tf.randomUniform([N, ...SHAPE], -0.5, 1.5, 'float32', 11), 0, 1) as tf.Tensor4D);
  const y = tf.tidy(() => tf.argMax(model.apply(x, { training: false }) as tf.Tensor2D, 1).toInt() as tf.Tensor1D);
  return { x, y };
}

/** Number of examples f(xAdv) still classifies as y. */
export function countCorrect(model: tf.LayersModel, xAdv: tf.Tensor4D, y: tf.Tensor1D): number {
  const t = tf.tidy(() => tf.sum(tf.equal(tf.argMax(model.apply(xAdv, { training: false }) as tf.Tensor2D, 1).toInt(), y).toInt()));
  const n = t.dataSync()[0]!;
  t.dispose();
  return n;
}

/** Largest |xAdv − x| and the range of xAdv. */
export function distAndRange(x: tf.Tensor4D, xAdv: tf.Tensor4D): { dist: number; lo: number; hi: number } {
  const [dist, lo, hi] = tf.tidy(() => [tf.max(tf.abs(tf.sub(xAdv, x))), tf.min(xAdv), tf.max(xAdv)].map((t) => t.dataSync()[0]!));
  return { dist: dist!, lo: lo!, hi: hi! };
}
