/**
 * FGSM with a random start ("FGSM-RS", Wong et al. 2020, "Fast is better than
 * free"; DAT's `--fast` mode), per restart:
 *
 * 1. δ ~ U[−eps, eps], then clipped so x + δ stays in [0, 1].
 * 2. g = ∇ₓ CE(f(x + δ), y).
 * 3. δ ← clip(δ + stepSize · sign(g), −eps, eps); x_adv = clip(x + δ, 0, 1).
 *
 * The caller picks stepSize (the reference uses 1.25 · eps). The random start
 * is what defines this attack, so randomStart is ignored; steps too.
 * With restarts > 1, the restart with the highest CE is kept per example.
 */
import * as tf from '@tensorflow/tfjs';
import { eagerStepEngine, type StepEngine } from '../step-engine.js';
import type { AttackParams } from './types.js';
import { bestOfRestarts, checkInputs, checkParams, crossEntropyOf, linfBounds, signSteps, uniformStart, type AttackParamName } from './_common.js';

/** The parameters FGSM-RS reads. */
export const FGSM_RS_PARAMS: readonly AttackParamName[] = ['eps', 'stepSize', 'restarts', 'seed'];

/** Throws a ConfigError naming `fgsm-rs` and the bad argument. */
export function validateFgsmRsParams(p: AttackParams): void {
  checkParams('fgsm-rs', p, FGSM_RS_PARAMS);
}

/** FGSM-RS; see the module comment. */
export function fgsmRsAttack(model: tf.LayersModel, x: tf.Tensor4D, y: tf.Tensor1D, p: AttackParams, engine: StepEngine = eagerStepEngine): tf.Tensor4D {
  validateFgsmRsParams(p);
  checkInputs('fgsm-rs', x, y);
  const loss = (xi: tf.Tensor4D): tf.Tensor1D => crossEntropyOf(model, xi, y);
  return tf.tidy(() => {
    const bounds = linfBounds(x, p.eps);
    return bestOfRestarts(
      p.restarts,
      (r) => {
        // Step 1
        const start = uniformStart(x, p.eps, p.seed, r, bounds);
        // Steps 2 and 3
        return signSteps(model, x, y, start, { eps: p.eps, stepSize: p.stepSize, steps: 1 }, engine);
      },
      loss,
    );
  });
}
