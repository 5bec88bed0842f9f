/**
 * FGSM (Goodfellow et al. 2015): one signed-gradient step of size eps.
 *
 * 1. g = ∇ₓ CE(f(x), y).
 * 2. x_adv = clip(x + eps · sign(g), 0, 1).
 *
 * Deterministic: steps, stepSize, restarts, randomStart and seed are ignored.
 */
import * as tf from '@tensorflow/tfjs';
import { eagerStepEngine, type StepEngine } from '../step-engine.js';
import type { AttackParams } from './types.js';
import { checkInputs, checkParams, signSteps, type AttackParamName } from './_common.js';

/** The parameters FGSM reads. */
export const FGSM_PARAMS: readonly AttackParamName[] = ['eps'];

/** Throws a ConfigError naming `fgsm` and the bad argument. */
export function validateFgsmParams(p: AttackParams): void {
  checkParams('fgsm', p, FGSM_PARAMS);
}

/** FGSM; see the module comment. */
export function fgsmAttack(model: tf.LayersModel, x: tf.Tensor4D, y: tf.Tensor1D, p: AttackParams, engine: StepEngine = eagerStepEngine): tf.Tensor4D {
  validateFgsmParams(p);
  checkInputs('fgsm', x, y);
  return tf.tidy(() => {
    // Steps 1 and 2: one sign step of size eps from x (the projection then only clips to [0, 1])
    return signSteps(model, x, y, x, { eps: p.eps, stepSize: p.eps, steps: 1 }, engine);
  });
}
