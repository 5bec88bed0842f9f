/**
 * L2 PGD (as torchattacks' PGDL2), per restart:
 *
 * 1. Start at x, or with randomStart at x + eps · u · d/‖d‖ with d ~ N(0, I)
 *    and u ~ U[0, 1] per example, projected and clipped to [0, 1].
 * 2. `steps` times: x_adv ← x_adv + stepSize · g/‖g‖₂ (g = ∇ CE, per
 *    example), then project onto the L2 ball of radius eps around x and clip
 *    to [0, 1].
 * 3. With restarts > 1, keep per example the restart with the highest CE.
 */
import * as tf from '@tensorflow/tfjs';
import type { AttackParams } from './types.js';
import {
  attackSeed,
  bestOfRestarts,
  checkInputs,
  checkParams,
  crossEntropyOf,
  inputGradient,
  iterate,
  normalizeL2,
  projectL2,
  type AttackParamName,
} from './_common.js';

/** The parameters L2 PGD reads. */
export const PGD_L2_PARAMS: readonly AttackParamName[] = ['eps', 'steps', 'stepSize', 'restarts', 'randomStart', 'seed'];

/** Throws a ConfigError naming `pgd-l2` and the bad argument. */
export function validatePgdL2Params(p: AttackParams): void {
  checkParams('pgd-l2', p, PGD_L2_PARAMS);
}

/** L2 PGD; see the module comment. */
export function pgdL2Attack(model: tf.LayersModel, x: tf.Tensor4D, y: tf.Tensor1D, p: AttackParams): tf.Tensor4D {
  validatePgdL2Params(p);
  checkInputs('pgd-l2', x, y);
  const loss = (xi: tf.Tensor4D): tf.Tensor1D => crossEntropyOf(model, xi, y);
  const n = x.shape[0];
  return tf.tidy(() =>
    bestOfRestarts(
      p.restarts,
      (r) => {
        // Step 1
        let start: tf.Tensor4D;
        if (p.randomStart) {
          const dir = normalizeL2(tf.randomNormal(x.shape, 0, 1, 'float32', attackSeed(p.seed, r, 0)));
          const radius = tf.mul(p.eps, tf.randomUniform([n, 1, 1, 1], 0, 1, 'float32', attackSeed(p.seed, r, 1)));
          start = projectL2(tf.add(x, tf.mul(dir, radius)), x, p.eps);
        } else {
          start = tf.clone(x);
        }
        // Step 2
        return iterate(start, p.steps, (xAdv) => projectL2(tf.add(xAdv, tf.mul(p.stepSize, normalizeL2(inputGradient(loss, xAdv)))), x, p.eps));
      },
      // Step 3
      loss,
    ),
  );
}
