/**
 * L-inf PGD (Madry et al. 2018; DAT's default attack), per restart:
 *
 * 1. Start at x, or with randomStart at clip(x + U[−eps, eps], 0, 1).
 * 2. `steps` times: x_adv ← x_adv + stepSize · sign(∇ CE(f(x_adv), y)),
 *    then project onto the L-inf ball around x and clip to [0, 1].
 * 3. With restarts > 1, keep per example the restart with the highest CE.
 */
import * as tf from '@tensorflow/tfjs';
import { eagerStepEngine, type StepEngine } from '../step-engine.js';
import type { AttackParams } from './types.js';
import {
  bestOfRestarts,
  checkInputs,
  checkParams,
  crossEntropyOf,
  signSteps,
  linfBounds,
  uniformStart,
  type AttackParamName,
} from './_common.js';

/** The parameters PGD reads. */
export const PGD_PARAMS: readonly AttackParamName[] = ['eps', 'steps', 'stepSize', 'restarts', 'randomStart', 'seed'];

/** Throws a ConfigError naming `pgd` and the bad argument. */
export function validatePgdParams(p: AttackParams): void {
  checkParams('pgd', p, PGD_PARAMS);
}

/** L-inf PGD; see the module comment. */
export function pgdAttack(model: tf.LayersModel, x: tf.Tensor4D, y: tf.Tensor1D, p: AttackParams, engine: StepEngine = eagerStepEngine): tf.Tensor4D {
  validatePgdParams(p);
  checkInputs('pgd', x, y);
  const loss = (xi: tf.Tensor4D): tf.Tensor1D => crossEntropyOf(model, xi, y);
  return tf.tidy(() => {
    const bounds = linfBounds(x, p.eps);
    return bestOfRestarts(
      p.restarts,
      (r) => {
        // Step 1
        const start = p.randomStart
          ? uniformStart(x, p.eps, p.seed, r, bounds)
          : tf.clone(x);
        // Step 2
        return signSteps(model, x, y, start, p, engine);
      },
      // Step 3
      loss,
    );
  });
}
