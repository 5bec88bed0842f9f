/** Shared types of the adversarial attacks. */
import type * as tf from '@tensorflow/tfjs';
import type { StepEngine } from '../step-engine.js';

/** Attack hyperparameters. Each attack reads only the ones listed for it in `ATTACK_PARAM_USE`. */
export interface AttackParams {
  /** Radius of the threat ball: L-inf, or L2 for `pgd-l2`, in input units ([0, 1] pixels). */
  readonly eps: number;
  /** Gradient steps (PGD, PGD-L2, TRADES). */
  readonly steps: number;
  /** Size of one step (sign step for L-inf, normalized-gradient step for L2). */
  readonly stepSize: number;
  /** Independent random starts; per example the one with the highest loss is kept. */
  readonly restarts: number;
  /** Start from a random point of the ball (PGD, PGD-L2). */
  readonly randomStart: boolean;
  /** Seed of the random starts; restart r uses a sub-seed of (seed, r). */
  readonly seed: number;
}

/**
 * Returns x_adv (same shape as x) inside the eps-ball around x and inside
 * [0, 1]. Synchronous, wrapped in `tf.tidy`: it disposes everything but its
 * result and never touches the model's weights. `y` holds int32 class labels
 * [n]. The model runs with `training: false` during the attack, so BatchNorm
 * uses its running statistics (as the DAT reference does with `net.eval()`).
 * `engine` (eager when not given) runs the L-inf sign iteration (FGSM,
 * FGSM-RS, PGD), op by op or as one compiled graph; the other attacks run
 * eagerly.
 */
export type AttackFn = (model: tf.LayersModel, x: tf.Tensor4D, y: tf.Tensor1D, p: AttackParams, engine?: StepEngine) => tf.Tensor4D;
