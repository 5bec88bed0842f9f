/**
 * The eager lowering of {@link NumOps}: each op is the tfjs call the eager
 * code has always made (a number argument becomes the float32 scalar tfjs
 * would make of it). Call inside `tf.tidy`: every result is a new tensor.
 */
import * as tf from '@tensorflow/tfjs';
import type { NumOps } from './num-ops.js';

/** {@link NumOps} on tfjs tensors. */
export const eagerOps: NumOps<tf.Tensor> = {
  scalar: (v) => tf.scalar(v, 'float32'),
  add: (a, b) => tf.add(a, b),
  sub: (a, b) => tf.sub(a, b),
  mul: (a, b) => tf.mul(a, b),
  div: (a, b) => tf.div(a, b),
  maximum: (a, b) => tf.maximum(a, b),
  minimum: (a, b) => tf.minimum(a, b),
  square: (a) => tf.square(a),
  sqrt: (a) => tf.sqrt(a),
  sign: (a) => tf.sign(a),
  onesLike: (a) => tf.onesLike(a),
  clip: (a, lo, hi) => tf.clipByValue(a, lo, hi),
  // Square-sum-sqrt: cheaper than tf.norm's pow/abs on every backend.
  l2Norm: (a) => tf.sqrt(tf.sum(tf.square(a))),
  greater: (a, b) => tf.greater(a, b),
  logicalAnd: (a, b) => tf.logicalAnd(a, b),
  where: (cond, a, b) => tf.where(cond, a, b),
};
