/**
 * TRADES inner maximization (Zhang et al. 2019, `yaodongyu/TRADES: trades.py`),
 * per restart:
 *
 * 1. P = softmax f(x), held constant.
 * 2. Start at x + 0.001 · N(0, I), projected onto the L-inf ball and [0, 1].
 *    The noise is always drawn (randomStart is ignored): at x' = x the KL
 *    gradient is exactly zero, so without it the attack cannot move.
 * 3. `steps` times: x' ← x' + stepSize · sign(∇ KL(P ‖ softmax f(x'))), then
 *    project onto the L-inf ball of radius eps around x and clip to [0, 1].
 * 4. With restarts > 1, keep per example the restart with the highest KL.
 */
import * as tf from '@tensorflow/tfjs';
import { klDivergencePerExample } from '../losses.js';
import type { AttackParams } from './types.js';
import {
  attackSeed,
  bestOfRestarts,
  checkInputs,
  checkParams,
  inferenceLogits,
  inputGradient,
  iterate,
  linfBounds,
  noisyStartLinf,
  signStepLinf,
  type AttackParamName,
} from './_common.js';

/** Standard deviation of the TRADES start noise (reference value). */
export const TRADES_START_NOISE = 0.001;

/** The parameters the TRADES attack reads. */
export const TRADES_PARAMS: readonly AttackParamName[] = ['eps', 'steps', 'stepSize', 'restarts', 'seed'];

/** Throws a ConfigError naming `trades` and the bad argument. */
export function validateTradesParams(p: AttackParams): void {
  checkParams('trades', p, TRADES_PARAMS);
}

/** TRADES KL attack; see the module comment. `y` is only checked: the KL needs no labels. */
export function tradesAttack(model: tf.LayersModel, x: tf.Tensor4D, y: tf.Tensor1D, p: AttackParams): tf.Tensor4D {
  validateTradesParams(p);
  checkInputs('trades', x, y);
  return tf.tidy(() => {
    // Step 1
    const cleanLogits = inferenceLogits(model, x);
    const bounds = linfBounds(x, p.eps);
    const loss = (xi: tf.Tensor4D): tf.Tensor1D => tf.tidy(() => klDivergencePerExample(cleanLogits, inferenceLogits(model, xi)));
    return bestOfRestarts(
      p.restarts,
      (r) => {
        // Step 2
        const noise = tf.randomNormal(x.shape, 0, TRADES_START_NOISE, 'float32', attackSeed(p.seed, r));
        const start = noisyStartLinf(x, noise, bounds);
        // Step 3
        return iterate(start, p.steps, (xAdv) => signStepLinf(xAdv, inputGradient(loss, xAdv), p.stepSize, bounds));
      },
      // Step 4
      loss,
    );
  });
}
